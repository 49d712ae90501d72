"""The finance page says when the figures were last reconciled with the ledger, and whether
every figure agreed: never, clean, or how many differed (a run for every place counts too)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from services.gateway.projections import db
from tests.integration.web.web_support import browser_client, sign_in, web_user

pytestmark = pytest.mark.integration


async def record_run(database_url: str, place_id: str | None, differences_count: int) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        started_at = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
        await db.record_reconciliation_run(connection, place_id, started_at, differences_count, 42)
    finally:
        await connection.close()


async def test_the_finance_page_shows_the_last_reconciliation_and_whether_it_was_clean(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as client:
        await sign_in(client, "fin")
        never = (await client.get("/places/GM/finance")).text
        await record_run(database_url, "GM", 0)
        clean = (await client.get("/places/GM/finance")).text
        await record_run(database_url, None, 3)
        differences = (await client.get("/places/GM/finance")).text
        await record_run(database_url, "WM", 0)  # another place's run says nothing about GM
        still_differences = (await client.get("/places/GM/finance")).text

    assert "have not yet been reconciled with the ledger" in never
    assert 'data-reconciliation="clean"' in clean
    assert "every figure agreed, to the penny (42 checked)" in clean
    assert 'data-reconciliation="differences"' in differences
    assert "3 figures did not agree with the ledger" in differences
    assert 'data-reconciliation="differences"' in still_differences
