"""Two outbox relays on one schema (two replicas of a service) keep each key's rows in order on
Kafka: a place's reservation and its release must never swap places on the way."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.runtime.db import create_pool
from services.runtime.outbox import OutboxRelay, OutboxRow, add_row, unpublished_count
from singlepot.local.stack import create_topics
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

ORDER_TOPIC = "runtime.relay-order"
KEYS = tuple(f"PLACE-{number}" for number in range(6))
ROWS_PER_TRANSACTION = 40


async def write_numbered_rows(pool: asyncpg.Pool, first: int, count: int) -> None:
    """Commit rows numbered first..first+count-1, keys in turn, a few per transaction (as
    handlers do), each row's value saying its key and number."""
    for start in range(first, first + count, ROWS_PER_TRANSACTION):
        async with pool.acquire() as connection, connection.transaction():
            for number in range(start, min(start + ROWS_PER_TRANSACTION, first + count)):
                key = KEYS[number % len(KEYS)]
                await add_row(
                    connection,
                    OutboxRow(
                        event_id=uuid.uuid4(),
                        topic=ORDER_TOPIC,
                        partition_key=key,
                        event_type="Numbered",
                        value=f"{key}:{number}".encode(),
                        headers={},
                    ),
                )


class Replica:
    """One replica's relay: its own producer, as a separate process would have. `linger_ms`
    stands for a replica whose sends take longer to reach the broker (a busier node, a
    slower network path): replicas never run at one speed."""

    def __init__(self, settings, pool: asyncpg.Pool, *, linger_ms: int) -> None:
        self.settings = settings
        self.pool = pool
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.effective_bootstrap_servers(),
            enable_idempotence=False,
            acks="all",
            linger_ms=linger_ms,
        )
        self.task: asyncio.Task[None] | None = None
        self.relay: OutboxRelay | None = None

    async def start(self) -> None:
        await self.producer.start()
        self.relay = relay = OutboxRelay(
            self.pool,
            self.producer,
            topic_prefix=self.settings.topic_prefix,
            batch_size_max=25,
            poll_interval_s=0.005,
            service="ledger",
            standby_interval_s=0.1,
        )
        self.task = asyncio.create_task(relay.run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.producer.stop()


async def read_all(settings, expected: int) -> list[tuple[str, int]]:
    """Every (key, number) on the topic in partition order, duplicates kept."""
    consumer = AIOKafkaConsumer(
        settings.topic(ORDER_TOPIC),
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=f"order-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )
    await consumer.start()
    seen: list[tuple[str, int]] = []
    distinct: set[int] = set()
    try:
        async with asyncio.timeout(60):
            while len(distinct) < expected:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        key, number = record.value.decode().split(":")
                        seen.append((key, int(number)))
                        distinct.add(int(number))
    finally:
        await consumer.stop()
    return seen


def out_of_order(seen: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """Each (key, earlier, later) where a row first arrived after a later row of its key.
    Duplicates are the inbox's business; only first arrivals must keep their order."""
    last_new: dict[str, int] = {}
    first_arrivals: set[int] = set()
    swaps = []
    for key, number in seen:
        if number in first_arrivals:
            continue
        first_arrivals.add(number)
        if number < last_new.get(key, -1):
            swaps.append((key, number, last_new[key]))
        last_new[key] = max(number, last_new.get(key, -1))
    return swaps


async def test_two_relays_on_one_schema_under_load_keep_each_keys_rows_in_order(settings) -> None:
    await create_topics(settings.effective_bootstrap_servers(), [settings.topic(ORDER_TOPIC)], 2)
    pool = await create_pool(settings.effective_database_url(), "ledger", 8)
    replicas = [Replica(settings, pool, linger_ms=40), Replica(settings, pool, linger_ms=0)]
    backlog, while_running = 1500, 1500
    try:
        # A backlog (as after a broker outage) and more rows written while both relays run.
        await write_numbered_rows(pool, 0, backlog)
        for replica in replicas:
            await replica.start()
        await write_numbered_rows(pool, backlog, while_running)
        await eventually(lambda: _drained(pool))
        seen = await read_all(settings, backlog + while_running)
    finally:
        for replica in replicas:
            await replica.stop()
        await pool.close()
    assert {number for _, number in seen} == set(range(backlog + while_running))
    assert out_of_order(seen) == []


async def test_when_the_active_relays_connection_drops_the_lock_passes_on_and_publishing_resumes(
    settings,
) -> None:
    await create_topics(settings.effective_bootstrap_servers(), [settings.topic(ORDER_TOPIC)], 2)
    pool = await create_pool(settings.effective_database_url(), "ledger", 8)
    first, second = Replica(settings, pool, linger_ms=0), Replica(settings, pool, linger_ms=0)
    try:
        await first.start()
        await write_numbered_rows(pool, 0, 100)
        await eventually(lambda: _drained(pool))
        await second.start()
        assert first.relay is not None and second.relay is not None
        assert first.relay.active and not second.relay.active
        async with pool.acquire() as connection:
            # The database drops the active relay's connection (a restart, a network cut).
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        await write_numbered_rows(pool, 100, 100)
        await eventually(lambda: _drained(pool))
        seen = await read_all(settings, 200)
    finally:
        for replica in (first, second):
            await replica.stop()
        await pool.close()
    assert {number for _, number in seen} == set(range(200))
    assert out_of_order(seen) == []


async def _drained(pool: asyncpg.Pool) -> bool:
    return await unpublished_count(pool) == 0
