"""The active outbox relay is woken by the commit that wrote outbox rows (LISTEN/NOTIFY), not by
its poll: a relay that would poll once an hour still publishes a committed row, and goes on
doing so after PostgreSQL dropped the connection it listened on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.runtime.db import create_pool
from services.runtime.outbox import OutboxRelay, unpublished_count
from tests.integration.runtime.test_delivery import settlement, write_to_outbox
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

# Far longer than any test waits: a row published within a test was published on a wake-up.
POLL_ONCE_AN_HOUR_S = 3600.0


@asynccontextmanager
async def idle_relay(settings, pool: asyncpg.Pool) -> AsyncIterator[OutboxRelay]:
    """The ledger schema's relay, active and waiting on an empty outbox."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    relay = OutboxRelay(
        pool,
        producer,
        topic_prefix=settings.topic_prefix,
        batch_size_max=100,
        poll_interval_s=POLL_ONCE_AN_HOUR_S,
        service="ledger",
        standby_interval_s=0.1,
    )
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _listening(relay))
        yield relay
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()


async def test_a_relay_polling_once_an_hour_publishes_a_committed_row_woken_by_its_commit(
    settings,
) -> None:
    pool = await create_pool(settings.effective_database_url(), "ledger", 4)
    try:
        async with idle_relay(settings, pool) as relay:
            await write_to_outbox(pool, settlement(1))
            await eventually(lambda: _drained(pool))
            await write_to_outbox(pool, settlement(2), settlement(3))
            await eventually(lambda: _drained(pool))
            assert relay.published_total == 3
    finally:
        await pool.close()


async def test_after_its_listening_connection_is_dropped_the_relay_listens_again_by_itself(
    settings,
) -> None:
    pool = await create_pool(settings.effective_database_url(), "ledger", 4)
    try:
        async with idle_relay(settings, pool) as relay:
            dropped = relay._listening_on
            async with pool.acquire() as connection:
                # The database drops the relay's connection (a restart, a network cut).
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            await eventually(lambda: _listening(relay, instead_of=dropped))
            await write_to_outbox(pool, settlement(1))
            await eventually(lambda: _drained(pool))
            assert relay.published_total == 1
    finally:
        await pool.close()


async def _listening(relay: OutboxRelay, instead_of: object = None) -> bool:
    listening_on = relay._listening_on
    return relay.active and listening_on is relay._leader_connection is not instead_of


async def _drained(pool: asyncpg.Pool) -> bool:
    return await unpublished_count(pool) == 0
