"""Agreement of balances over HTTP, from read-model rows written by hand: DWP's statement for
2026-27 with two streams, DWP confirms one line and disputes the other, finance staff note and
resolve the dispute, and the counterparty export for the accounts carries the figures."""

from __future__ import annotations

import csv
import io
import json
import uuid

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)

pytestmark = pytest.mark.integration

STATEMENT = "/api/v1/places/GM/departments/DWP/balance-statements/2026-27"
DISPUTES = "/api/v1/places/GM/balance-disputes"
EXPORT = "/api/v1/places/GM/returns/agreement-of-balances/2026-27"


async def write_read_models(database_url: str) -> None:
    """DWP settled £1,000,000 into WORK (received £600,000; £400,000 reserved, £250,000 paid,
    £10,000 recovered) and £200,000 into SKILLS (all received, nothing spent)."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.executemany(
            "INSERT INTO pot_streams (place_id, financial_year, department_code,"
            " funding_stream_code, settled_pence, received_pence, reserved_pence, paid_pence)"
            " VALUES ('GM', '2026-27', 'DWP', $1, $2, $3, $4, $5)",
            [
                ("WORK", 100_000_000, 60_000_000, 40_000_000, 25_000_000),
                ("SKILLS", 20_000_000, 20_000_000, 0, 0),
            ],
        )
        recovery = {
            "kind": "recovery",
            "financial_year": "2026-27",
            "attribution": [
                {
                    "department_code": "DWP",
                    "funding_stream_code": "WORK",
                    "amount_pence": -1_000_000,
                }
            ],
        }
        await connection.execute(
            "INSERT INTO department_spend (sequence, department_code, place_id, spend_id,"
            " event_id, amount_pence, record) VALUES (1, 'DWP', 'GM', 'recovery/T-9', $1,"
            " -1000000, $2::jsonb)",
            uuid.uuid4(),
            json.dumps(recovery),
        )
    finally:
        await connection.close()


async def test_a_department_confirms_one_line_and_disputes_another_until_finance_resolve_it(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    dwp = bearer(await token_for(database_url, "dwp-gm", "department@GM:DWP"))
    dhsc = bearer(await token_for(database_url, "dhsc-gm", "department@GM:DHSC"))
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    async with client_for(settings, gateway_settings()) as client:
        read = await client.get(STATEMENT, headers=dwp)
        assert read.status_code == 200, read.text
        lines = {line["funding_stream_code"]: line for line in read.json()["lines"]}
        other_department = await client.get(STATEMENT, headers=dhsc)
        confirmed = await client.post(
            f"{STATEMENT}/SKILLS/answer",
            json={"answer": "confirmed", "figures_digest": lines["SKILLS"]["figures_digest"]},
            headers={**dwp, "Idempotency-Key": "c-1"},
        )
        unexplained = await client.post(
            f"{STATEMENT}/WORK/answer",
            json={"answer": "disputed", "figures_digest": lines["WORK"]["figures_digest"]},
            headers={**dwp, "Idempotency-Key": "d-0"},
        )
        disputed = await client.post(
            f"{STATEMENT}/WORK/answer",
            json={
                "answer": "disputed",
                "figures_digest": lines["WORK"]["figures_digest"],
                "note": "Our ledger shows £700,000 paid in on 30 September",
                "department_figures": {"received_pence": 70_000_000},
            },
            headers={**dwp, "Idempotency-Key": "d-1"},
        )
        while_open = await client.post(
            f"{STATEMENT}/WORK/answer",
            json={"answer": "confirmed", "figures_digest": lines["WORK"]["figures_digest"]},
            headers={**dwp, "Idempotency-Key": "c-2"},
        )
        after_answers = (await client.get(STATEMENT, headers=finance)).json()
        dispute_id = disputed.json()["made"]["answer_id"]
        noted = await client.post(
            f"{DISPUTES}/{dispute_id}/notes",
            json={"note": "Receipt R-7 of £100,000 is on its way from the bank"},
            headers={**finance, "Idempotency-Key": "n-1"},
        )
        by_department = await client.post(
            f"{DISPUTES}/{dispute_id}/notes",
            json={"note": "mine"},
            headers={**dwp, "Idempotency-Key": "n-x"},
        )
        resolved = await client.post(
            f"{DISPUTES}/{dispute_id}/notes",
            json={"note": "R-7 recorded; DWP to confirm again", "resolves": True},
            headers={**finance, "Idempotency-Key": "n-2"},
        )
        again = await client.post(
            f"{DISPUTES}/{dispute_id}/notes",
            json={"note": "one more"},
            headers={**finance, "Idempotency-Key": "n-3"},
        )
        status = await client.get(resolved.headers["location"], headers=finance)
        disputes = (await client.get(DISPUTES, headers=finance)).json()["disputes"]
        after_resolution = (await client.get(STATEMENT, headers=dwp)).json()
        export = await client.get(EXPORT, headers=finance)
        refused_export = await client.get(EXPORT, headers=dwp)

    work, skills = lines["WORK"], lines["SKILLS"]
    assert (work["committed_pence"], work["received_pence"], work["reserved_pence"]) == (
        100_000_000,
        60_000_000,
        40_000_000,
    )
    assert (work["paid_pence"], work["recovered_pence"], work["outstanding_pence"]) == (
        25_000_000,
        1_000_000,
        40_000_000,  # £1,000,000 committed less £600,000 received
    )
    assert skills["outstanding_pence"] == 0
    assert other_department.status_code == 403
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["status"] == "done"
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"][0]["rule"] == "dispute_explained"
    assert disputed.status_code == 201, disputed.text
    assert while_open.status_code == 409
    assert while_open.json()["errors"][0]["rule"] == "dispute_open"
    states = {line["funding_stream_code"]: line["agreement"] for line in after_answers["lines"]}
    assert states["SKILLS"]["status"] == "confirmed"
    assert states["SKILLS"]["answered_by"] == "dwp-gm"
    assert states["WORK"]["status"] == "disputed"
    assert states["WORK"]["open_dispute_id"] == dispute_id
    assert after_answers["agreement"] == "disputed"
    assert noted.status_code == 201 and noted.json()["dispute_status"] == "disputed"
    assert by_department.status_code == 403
    assert resolved.status_code == 201 and resolved.json()["dispute_status"] == "resolved"
    assert again.status_code == 409
    assert status.json()["status"] == "done"
    assert status.json()["command_type"] == "NoteBalanceDispute"
    (dispute,) = disputes
    assert dispute["status"] == "resolved"
    assert dispute["department_figures"] == {"received_pence": 70_000_000}
    assert dispute["figures"]["received_pence"] == 60_000_000
    assert [(n["written_by"], n["resolves"]) for n in dispute["notes"]] == [
        ("fin-gm", False),
        ("fin-gm", True),
    ]
    # Resolved, the WORK line is unanswered again: DWP confirms or disputes it afresh.
    states = {line["funding_stream_code"]: line["agreement"] for line in after_resolution["lines"]}
    assert states["WORK"]["status"] == "unanswered"
    assert after_resolution["agreement"] == "unanswered"
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:5] == [
        "Body",
        "Counterparty",
        "Counterparty name",
        "Category",
        "Amount (pence)",
    ]
    amounts = {row[3]: (int(row[4]), row[5], row[6]) for row in rows[1:] if row[1] == "DWP"}
    assert amounts == {
        "committed": (120_000_000, "1200000.00", "unanswered"),
        "received": (80_000_000, "800000.00", "unanswered"),
        "reserved": (40_000_000, "400000.00", "unanswered"),
        "paid": (25_000_000, "250000.00", "unanswered"),
        "recovered": (1_000_000, "10000.00", "unanswered"),
        "outstanding": (40_000_000, "400000.00", "unanswered"),
    }
    assert refused_export.status_code == 403
