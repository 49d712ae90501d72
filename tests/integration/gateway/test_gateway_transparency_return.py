"""The Transparency Code return over HTTP, from read-model rows written by hand: finance staff
download a quarter's CSV (others are refused), and the open-data copy is published for an ended
quarter only, with the person's payment redacted and the recovery as a credit note."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)

pytestmark = pytest.mark.integration

RETURN = "/api/v1/places/GM/returns/transparency/2026-27/Q1"
PUBLISHED = "/open-data/places/GM/transparency/2026-27/Q1/transparency.csv"


async def write_read_models(database_url: str) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.executemany(
            "INSERT INTO payments (place_id, payment_id, allocation_id, provider_id,"
            " amount_pence, status, recovered_pence, recorded_at)"
            " VALUES ('GM', $1, 'A-1', $2, $3, 'made', $4, $5)",
            [
                ("P-1", "PROV-WW", 1_200_00, 300_00, datetime(2026, 4, 15, 9, tzinfo=UTC)),
                ("P-2", "PROV-WW", 450_00, 0, datetime(2026, 5, 1, 9, tzinfo=UTC)),
                ("P-3", "PROV-JSMITH", 800_00, 0, datetime(2026, 5, 20, 9, tzinfo=UTC)),
            ],
        )
        await connection.execute(
            "INSERT INTO clawbacks (place_id, contract_id, clawback_id, payment_id, metric_id,"
            " amount_pence, status, reason, recovered_pence, settled_at) VALUES ('GM', 'C-1',"
            " 'CB-1', 'P-1', 'MET-1', 30000, 'recovered', 'evidence not valid', 30000, $1)",
            datetime(2026, 6, 2, 9, tzinfo=UTC),
        )
        await connection.execute(
            "INSERT INTO organisations (place_id, organisation_ref, kind, name, legal_form,"
            " org_id_scheme, org_id_identifier, registered_by) VALUES ('GM', 'PROV-WW',"
            " 'provider', 'Workwell CIC', 'social_enterprise', 'GB-COH', '12345678', 'test')"
        )
    finally:
        await connection.close()


async def test_finance_staff_download_the_quarter_and_the_open_copy_matches(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    board = bearer(await token_for(database_url, "board-gm", "board_member@GM"))
    elsewhere = bearer(await token_for(database_url, "fin-lpl", "finance@LPL"))
    async with client_for(settings, gateway_settings()) as client:
        downloaded = await client.get(RETURN, headers=finance)
        refused = [
            (await client.get(RETURN, headers=headers)).status_code
            for headers in (board, elsewhere, {})
        ]
        open_copy = await client.get(PUBLISHED)
        not_yet = await client.get("/open-data/places/GM/transparency/2027-28/Q4/transparency.csv")
        bad_quarter = await client.get(RETURN.replace("Q1", "Q5"), headers=finance)

    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(downloaded.text)))
    assert [(r["Date"], r["Beneficiary"], r["Amount"]) for r in rows] == [
        ("2026-04-15", "Workwell CIC", "1200.00"),
        ("2026-05-20", "REDACTED", "800.00"),
        ("2026-06-02", "Workwell CIC", "-300.00"),
    ]
    assert "PROV-JSMITH" not in downloaded.text
    assert refused == [403, 403, 401]
    assert open_copy.status_code == 200
    assert open_copy.text == downloaded.text
    assert "ETag" in open_copy.headers
    assert not_yet.status_code == 404
    assert bad_quarter.status_code == 422 and "quarter" in bad_quarter.text
