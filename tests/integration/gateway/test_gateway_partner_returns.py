"""Partner returns and the year-end risk share in the gateway, figures written by hand: DWP
committed £600,000 and DHSC £400,000 to the pool; the Q2 return gives each partner's income and
share of spending in the quarter and the year to date, the variance against a straight-line
plan with finance staff's narrative, and the ledger's risk share (fed through the gateway's own
handlers) with the pot overview moved by exactly the ledger's stream moves."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from contracts import ReceiptRecorded, RiskShareApplied, RiskSharePartner, StreamMove
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.gateway.test_gateway_prompt_payment import feed

pytestmark = pytest.mark.integration

RETURN = "/api/v1/places/GM/returns/partner-returns/2026-27/Q2"


def on(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def receipt(receipt_id: str, department: str, stream: str, pence: int) -> ReceiptRecorded:
    return ReceiptRecorded(
        place_id="GM",
        receipt_id=receipt_id,
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=stream,
        financial_year="2026-27",
        amount_pence=pence,
        transfer_id=f"T-{receipt_id}",
    )


RISK_SHARE = RiskShareApplied(
    place_id="GM",
    risk_share_id="RS-1",
    financial_year="2026-27",
    rule="equal",
    agreement_reference="S75-2026",
    pool_borne_pence=400_000_00,
    partners=(
        RiskSharePartner(
            department_code="DHSC",
            contributed_pence=400_000_00,
            borne_pence=300_000_00,
            agreed_share_pence=200_000_00,
            adjustment_pence=100_000_00,
        ),
        RiskSharePartner(
            department_code="DWP",
            contributed_pence=600_000_00,
            borne_pence=100_000_00,
            agreed_share_pence=200_000_00,
            adjustment_pence=-100_000_00,
        ),
    ),
    moves=(
        StreamMove(department_code="DWP", funding_stream_code="WORK", amount_pence=-100_000_00),
        StreamMove(department_code="DHSC", funding_stream_code="HEALTH", amount_pence=100_000_00),
    ),
    transfer_id="T-RS",
)


async def write_read_models(database_url: str) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.executemany(
            "INSERT INTO pot_streams (place_id, financial_year, department_code,"
            " funding_stream_code, settled_pence, available_pence)"
            " VALUES ('GM', '2026-27', $1, $2, $3, $4)",
            [("DWP", "WORK", 600_000_00, 500_000_00), ("DHSC", "HEALTH", 400_000_00, 100_000_00)],
        )
        spends = [  # (spend id, department, pence, spent on)
            ("SP-1", "DWP", 50_000_00, on(6, 10)),  # Q1
            ("SP-2", "DWP", 50_000_00, on(8, 1)),  # Q2
            ("SP-3", "DHSC", 120_000_00, on(6, 20)),  # Q1
            ("SP-4", "DHSC", 180_000_00, on(9, 1)),  # Q2
        ]
        for spend_id, department, pence, spent_at in spends:
            record = json.dumps({"financial_year": "2026-27", "spend_id": spend_id})
            await connection.execute(
                "INSERT INTO spend_records (spend_id, place_id, amount_pence, record, spent_at)"
                " VALUES ($1, 'GM', $2, $3::jsonb, $4)",
                spend_id,
                pence,
                record,
                spent_at,
            )
            await connection.execute(
                "INSERT INTO department_spend (sequence, department_code, place_id, spend_id,"
                " event_id, amount_pence, record) VALUES (nextval('department_spend_sequence'),"
                " $1, 'GM', $2, $3, $4, $5::jsonb)",
                department,
                spend_id,
                uuid.uuid4(),
                pence,
                record,
            )
        recovery = {
            "kind": "recovery",
            "financial_year": "2026-27",
            "recovered_at": on(9, 15).isoformat(),
        }
        await connection.execute(
            "INSERT INTO department_spend (sequence, department_code, place_id, spend_id,"
            " event_id, amount_pence, record) VALUES (nextval('department_spend_sequence'),"
            " 'DHSC', 'GM', 'recovery/T-9', $1,"
            " -1000000, $2::jsonb)",
            uuid.uuid4(),
            json.dumps(recovery),
        )
    finally:
        await connection.close()


async def test_the_q2_partner_returns_with_a_narrative_and_the_years_risk_share(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    await feed(
        database_url,
        [
            (receipt("R-1", "DWP", "WORK", 300_000_00), on(4, 15)),  # Q1
            (receipt("R-3", "DHSC", "HEALTH", 400_000_00), on(5, 1)),  # Q1
            (receipt("R-2", "DWP", "WORK", 300_000_00), on(7, 10)),  # Q2
            (RISK_SHARE, on(10, 5)),
        ],
    )
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    async with client_for(settings, gateway_settings()) as client:
        written = await client.post(
            f"{RETURN}/DHSC/narrative",
            json={"variance_narrative": "Winter discharge schemes started early"},
            headers={**finance, "Idempotency-Key": "n-1"},
        )
        by_auditor = await client.post(
            f"{RETURN}/DHSC/narrative",
            json={"variance_narrative": "no"},
            headers={**auditor, "Idempotency-Key": "n-2"},
        )
        read = await client.get(RETURN, headers=auditor)
        status = await client.get(written.headers["location"], headers=finance)
        sent = await client.post(
            "/api/v1/places/GM/periods/2026-27/risk-share",
            json={"risk_share_id": "RS-2", "rule": "equal", "agreement_reference": "S75-2026"},
            headers={**finance, "Idempotency-Key": "rs-1"},
        )
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        available = {
            row["department_code"]: row["available_pence"]
            for row in await connection.fetch("SELECT * FROM pot_streams")
        }
        feed_rows = [
            (row["department_code"], row["amount_pence"])
            for row in await connection.fetch(
                "SELECT department_code, amount_pence FROM department_spend"
                " WHERE record ->> 'kind' = 'risk_share' ORDER BY department_code"
            )
        ]
    finally:
        await connection.close()

    assert written.status_code == 201, written.text
    assert status.json()["status"] == "done"
    assert by_auditor.status_code == 403
    assert read.status_code == 200, read.text
    partners = {line["department_code"]: line for line in read.json()["partners"]}
    dwp, dhsc = partners["DWP"], partners["DHSC"]
    assert (dwp["income_pence"], dwp["income_to_date_pence"]) == (300_000_00, 600_000_00)
    assert (dwp["spending_pence"], dwp["spending_to_date_pence"]) == (50_000_00, 100_000_00)
    # The plan to date is half of £600,000: spending is £200,000 behind it.
    assert (dwp["planned_to_date_pence"], dwp["variance_pence"]) == (300_000_00, -200_000_00)
    assert dwp["variance_narrative"] is None
    assert (dhsc["income_pence"], dhsc["income_to_date_pence"]) == (0, 400_000_00)
    # £180,000 spent in Q2 less the £10,000 recovered: £170,000; £290,000 to date.
    assert (dhsc["spending_pence"], dhsc["spending_to_date_pence"]) == (170_000_00, 290_000_00)
    assert (dhsc["planned_to_date_pence"], dhsc["variance_pence"]) == (200_000_00, 90_000_00)
    assert dhsc["variance_narrative"] == "Winter discharge schemes started early"
    assert dhsc["narrative_by"] == "fin-gm"
    assert dhsc["risk_share"]["adjustment_pence"] == 100_000_00
    assert dwp["risk_share"]["agreed_share_pence"] == 200_000_00
    assert read.json()["risk_share"]["rule"] == "equal"
    assert read.json()["risk_share"]["transfer_id"] == "T-RS"
    # The overview's unreserved mirrors moved by exactly the ledger's stream moves, and each
    # partner's feed tells it of its adjustment (not counted as the quarter's spending above).
    assert available == {"DWP": 400_000_00, "DHSC": 200_000_00}
    assert feed_rows == [("DHSC", -100_000_00), ("DWP", 100_000_00)]
    assert sent.status_code == 202, sent.text
