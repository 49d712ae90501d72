"""Auditors reach the ledger's audit export and trial balance through the gateway's own
permission-checked routes; the gateway fetches them from the real ledger report routes (served
on a port of their own, closed to callers without the service credential)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest
import uvicorn
from fastapi import FastAPI

from services.ledger.reports import add_report_routes
from services.ledger.settings import LedgerReportSettings
from services.runtime.db import create_pool
from singlepot.local.ports import free_port
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)

pytestmark = pytest.mark.integration

CREDENTIAL = "ledger-report-credential"
GM = "/api/v1/places/GM"


@asynccontextmanager
async def ledger_reports(database_url: str) -> AsyncIterator[str]:
    """The ledger's report routes on the test's database, served on a free port."""
    pool = await create_pool(database_url, "ledger", 2)
    app = FastAPI()
    settings = LedgerReportSettings(ledger_report_token=CREDENTIAL)
    add_report_routes(app, SimpleNamespace(pool=pool), settings)  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await pool.close()


async def test_an_auditor_of_the_place_gets_its_reports_and_nobody_else(
    settings, database_url
) -> None:
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    other_place = bearer(await token_for(database_url, "audit-lpl", "auditor@LPL"))
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    async with ledger_reports(database_url) as ledger:
        gateway = gateway_settings(gateway_ledger_url=ledger, ledger_report_token=CREDENTIAL)
        async with client_for(settings, gateway) as client:
            export = await client.get("/api/v1/places/GM/audit-export", headers=auditor)
            balance = await client.get("/api/v1/places/GM/trial-balance/2026-27", headers=auditor)
            refused = [
                (await client.get(path, headers=headers)).status_code
                for path in (
                    "/api/v1/places/GM/audit-export",
                    "/api/v1/places/GM/trial-balance/2026-27",
                )
                for headers in (other_place, finance, {})
            ]
    assert export.status_code == 200
    header = json.loads(export.text.splitlines()[0])
    assert (header["place_id"], header["transfer_count"]) == ("GM", 0)
    assert balance.status_code == 200
    assert balance.json() == {"accounts": [], "debits_pence": 0, "credits_pence": 0}
    assert refused == [403, 403, 401, 403, 403, 401]


async def test_a_gateway_without_the_ledger_credential_offers_no_reports(
    settings, database_url
) -> None:
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    async with client_for(settings, gateway_settings()) as client:
        answer = await client.get(f"{GM}/audit-export", headers=auditor)
        document = (await client.get("/openapi.json")).json()
    assert answer.status_code == 404
    assert "/api/v1/places/{place_id}/audit-export" not in document["paths"]


async def test_finance_staff_and_auditors_of_the_place_get_balances_as_at_a_date(
    settings, database_url
) -> None:
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    other_place = bearer(await token_for(database_url, "fin-lpl", "finance@LPL"))
    board = bearer(await token_for(database_url, "board-gm", "board_member@GM"))
    path = f"{GM}/balances-as-at?date=2027-03-31&by=recorded&department_code=DWP"
    async with ledger_reports(database_url) as ledger:
        gateway = gateway_settings(gateway_ledger_url=ledger, ledger_report_token=CREDENTIAL)
        async with client_for(settings, gateway) as client:
            answers = [await client.get(path, headers=headers) for headers in (finance, auditor)]
            refused = [
                (await client.get(path, headers=headers)).status_code
                for headers in (other_place, board, {})
            ]
            bad_basis = await client.get(
                f"{GM}/balances-as-at?date=2027-03-31&by=posted", headers=finance
            )
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["as_at"] == "2027-03-31"
        assert answer.json()["by"] == "recorded"
        assert answer.json()["chain_position"] == {"sequence": 0, "chain_hash": "0" * 64}
    assert refused == [403, 403, 401]
    assert bad_basis.status_code == 422 and "by" in bad_basis.text
