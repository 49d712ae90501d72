"""The gateway's read models on the real broker: built from public events, they catch up after
the gateway was stopped, and a rebuild from the topics gives the same figures without sending
departments their spend again."""

from __future__ import annotations

import asyncpg
import pytest

from contracts import (
    AttributionShare,
    FinancialYearAmount,
    ReservationMade,
    ReservationReleased,
    SettlementRecorded,
    SpendRecorded,
)
from contracts.envelope import encode, wrap
from services.gateway.app import HANDLERS, definition
from services.gateway.projections.rebuild import rebuild_read_models
from services.runtime.consumer import EventConsumer, IncomingMessage
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def settled(department: str, amount_pence: int) -> SettlementRecorded:
    return SettlementRecorded(
        place_id="GM",
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=f"{department}-S",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=amount_pence),),
        transfer_id=f"T-S-{department}",
    )


def shares(*pairs: tuple[str, int]) -> tuple[AttributionShare, ...]:
    return tuple(
        AttributionShare(department_code=d, funding_stream_code=f"{d}-S", amount_pence=a)
        for d, a in pairs
    )


RESERVED = ReservationMade(
    place_id="GM",
    allocation_id="A-1",
    financial_year="2026-27",
    amount_pence=3_000,
    attribution=shares(("DWP", 2_000), ("DHSC", 1_000)),
    transfer_id="T-R",
)
SPENT = SpendRecorded(
    place_id="GM",
    spend_id="SP-1",
    payment_id="P-1",
    allocation_id="A-1",
    provider_id="PROV-1",
    contract_id=None,
    amount_pence=600,
    payment_kind="grant_instalment",
    purpose="hubs",
    financial_year="2026-27",
    attribution=shares(("DWP", 400), ("DHSC", 200)),
    transfer_id="T-P",
)
RELEASED = ReservationReleased(
    place_id="GM", allocation_id="A-1", amount_pence=301, reason="cancelled", transfer_id="T-X"
)


EXPECTED = {
    "settled_pence": 15_000,
    "received_pence": 0,
    "reserved_pence": 3_000 - 301,
    "paid_pence": 600,
    "available_pence": 15_000 - 3_000 + 301,
}


async def _totals(settings, token: str) -> dict:
    """The pot's totals once they stop changing (or the expected figures are reached)."""
    async with client_for(settings) as client:
        seen: list[dict] = []

        async def settled_down() -> dict | None:
            response = await client.get("/api/v1/places/GM/pot", headers=bearer(token))
            seen.append(dict(response.json()["totals"]))
            return seen[-1] if seen[-1] == EXPECTED else None

        try:
            await eventually(settled_down, timeout_s=20)
        except AssertionError:
            pass
        return seen[-1]


async def _count(database_url: str, table: str) -> int:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


async def test_read_models_catch_up_after_a_restart_and_rebuild_to_the_same_figures(
    settings, database_url
) -> None:
    token = await token_for(database_url, "audit", "auditor")
    await publish(settings, settled("DWP", 10_000), settled("DHSC", 5_000))
    async with client_for(settings) as client:

        async def settled_in() -> bool:
            response = await client.get("/api/v1/places/GM/pot", headers=bearer(token))
            return bool(response.json()["totals"]["settled_pence"] == 15_000)

        await eventually(settled_in)
    # The gateway is stopped; these arrive while it is away.
    await publish(settings, RESERVED, SPENT, RELEASED)
    caught_up = await _totals(settings, token)

    await rebuild_read_models(definition(), settings)
    assert await _count(database_url, "pot_streams") == 0
    rebuilt = await _totals(settings, token)

    assert caught_up == EXPECTED
    assert rebuilt == EXPECTED
    # Each department's feed row is kept across the rebuild, and never duplicated.
    assert await _count(database_url, "department_spend") == 2


async def test_the_one_by_one_path_records_spend_exactly_like_a_batch(database_url) -> None:
    """When a batch fails, the runtime replays it message by message through HANDLERS: that
    path must give the same feed, and a redelivered message must change nothing."""
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert pool is not None
    consumer = EventConsumer(
        name="gateway", pool=pool, handlers=HANDLERS, attempts_max=1, retry_backoff_s=0
    )
    message = IncomingMessage(
        value=encode(wrap(SPENT, producer="ledger")),
        key=b"GM",
        headers={},
        topic="ledger.spend.v1",
        partition=0,
        offset=0,
    )
    try:
        await consumer.handle(message)
        await consumer.handle(message)
        async with pool.acquire() as connection:
            feed = await connection.fetch(
                "SELECT department_code, amount_pence FROM department_spend ORDER BY sequence"
            )
            paid = await connection.fetchval("SELECT sum(paid_pence) FROM pot_streams")
    finally:
        await pool.close()
    assert sorted((row["department_code"], row["amount_pence"]) for row in feed) == [
        ("DHSC", 200),
        ("DWP", 400),
    ]
    assert paid == 600
    assert (consumer.stats.processed, consumer.stats.duplicates) == (1, 1)
