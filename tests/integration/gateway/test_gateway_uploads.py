"""Evidence file uploads on the real gateway: good rows become SubmitEvidence commands in the
outbox, bad rows are named by row, field and rule, another provider's contract is forbidden,
and oversized files are refused."""

from __future__ import annotations

import json

import asyncpg
import pytest

from contracts import MetricPrice, OutcomesContractRegistered
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.support.kafka import eventually, publish

pytestmark = pytest.mark.integration

FILES = "/api/v1/places/GM/outcomes-contracts/C-A/evidence-files"
HEADER = (
    "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
    "difficulty_segment\n"
)
GOOD_ROWS = [
    "person-1,JOB-START,2026-09-15,payroll-1,2026-05-01,easy\n",
    "person-2,JOB-START,2026-09-16,payroll-2,2026-05-02,hard\n",
    "person-3,JOB-START,2026-09-17,payroll-3,2026-05-03,easy\n",
]
BAD_ROW = "person-4,JOB-START,not-a-date,payroll-4,2026-05-04,easy\n"


async def _with_contract(settings, client, auditor: dict[str, str]) -> None:
    await publish(
        settings,
        OutcomesContractRegistered(
            place_id="GM",
            contract_id="C-A",
            allocation_id="A-1",
            provider_id="PROV-A",
            prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
            cap_pence=10_000,
        ),
    )

    async def known() -> bool:
        response = await client.get("/api/v1/places/GM/outcomes-contracts", headers=auditor)
        return bool(response.json()["contracts"])

    await eventually(known)


async def _outbox_payloads(database_url: str) -> list[dict]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        rows = await connection.fetch("SELECT convert_from(value, 'UTF8') AS v FROM outbox")
    finally:
        await connection.close()
    return [json.loads(row["v"]) for row in rows]


async def test_a_providers_csv_becomes_commands_and_its_bad_rows_are_named(
    settings, database_url
) -> None:
    provider = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    content = (HEADER + "".join(GOOD_ROWS) + BAD_ROW).encode()
    async with client_for(settings) as client:
        await _with_contract(settings, client, auditor)
        files = {"file": ("september.csv", content, "text/csv")}
        first = await client.post(FILES, files=files, headers=bearer(provider, "up-1"))
        again = await client.post(FILES, files=files, headers=bearer(provider, "up-1"))

    assert first.status_code == 202, first.text
    report = first.json()
    assert (report["rows_read"], report["rows_accepted"], report["rows_rejected"]) == (4, 3, 1)
    assert report["errors"] == ["row 4: achieved_on: must be a date written YYYY-MM-DD"]
    assert again.headers["Idempotency-Replayed"] == "true"
    envelopes = await _outbox_payloads(database_url)
    assert [envelope["event_type"] for envelope in envelopes] == ["SubmitEvidence"]
    payload = envelopes[0]["payload"]
    assert payload["provider_id"] == "PROV-A"
    assert payload["batch_id"] == report["batch_id"]
    assert len(payload["claims"]) == 3
    # Participant references never leave the gateway: only their keyed hashes do.
    assert "person-1" not in json.dumps(payload)


async def test_a_file_with_no_good_rows_is_a_422_naming_each_row(settings, database_url) -> None:
    provider = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    async with client_for(settings) as client:
        await _with_contract(settings, client, auditor)
        files = {"file": ("bad.csv", (HEADER + BAD_ROW).encode(), "text/csv")}
        response = await client.post(FILES, files=files, headers=bearer(provider, "up-2"))
    assert response.status_code == 422
    problem = response.json()
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [
        ("row 1.achieved_on", "must be a date written YYYY-MM-DD")
    ]
    assert await _outbox_payloads(database_url) == []


async def test_another_providers_contract_is_forbidden(settings, database_url) -> None:
    other = await token_for(database_url, "prov-b", "provider@GM:PROV-B")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    async with client_for(settings) as client:
        await _with_contract(settings, client, auditor)
        files = {"file": ("sept.csv", (HEADER + GOOD_ROWS[0]).encode(), "text/csv")}
        response = await client.post(FILES, files=files, headers=bearer(other, "up-3"))
    assert response.status_code == 403
    assert await _outbox_payloads(database_url) == []


async def test_an_oversized_upload_is_refused(settings, database_url) -> None:
    provider = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    limits = gateway_settings(gateway_upload_bytes_max=2_000)
    async with client_for(settings, limits) as client:
        await _with_contract(settings, client, auditor)
        content = (HEADER + GOOD_ROWS[0] * 100).encode()
        files = {"file": ("big.csv", content, "text/csv")}
        response = await client.post(FILES, files=files, headers=bearer(provider, "up-4"))
    assert response.status_code == 413
    assert response.json()["errors"][0]["rule"] == "size_max"
    assert await _outbox_payloads(database_url) == []
