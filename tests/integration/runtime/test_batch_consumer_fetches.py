"""`BatchConsumer` handles a fetch one topic at a time, each topic's messages from all its
partitions in one transaction (each partition's in order), and commits every partition's
offsets after; when the database is away, the topics already done stay committed and the rest
are fetched again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from contracts import Event, RecordSettlement
from contracts.envelope import Envelope, encode, wrap
from services.runtime.batch_consumer import BatchConsumer
from services.runtime.consumer import EventConsumer
from services.runtime.db import create_pool
from tests.integration.runtime.test_delivery import settlement

pytestmark = pytest.mark.integration

REQUESTS = TopicPartition("requests", 0), TopicPartition("requests", 1)
OTHERS = TopicPartition("others", 0)


class RecordingConsumer(AIOKafkaConsumer):
    """The real consumer class, never started: it records what would be committed or sought."""

    def __init__(self) -> None:
        super().__init__(bootstrap_servers="127.0.0.1:9")
        self.committed: list[dict[TopicPartition, int]] = []
        self.sought: dict[TopicPartition, int] = {}

    async def commit(self, offsets=None) -> None:  # type: ignore[no-untyped-def]
        self.committed.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought[partition] = offset

    def highwater(self, partition: TopicPartition) -> int:
        return 0


class Handler:
    """Notes the settlements of each call and the transaction it ran in."""

    def __init__(self, fail_on_topic_of: str | None = None) -> None:
        self.calls: list[tuple[list[str], int]] = []
        self.fail_on = fail_on_topic_of

    async def __call__(
        self, connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        ids = [event.settlement_id for _, event in messages]  # type: ignore[attr-defined]
        if self.fail_on in ids:
            raise ConnectionRefusedError("the database is away")
        self.calls.append((ids, await connection.fetchval("SELECT txid_current()")))


def record(partition: TopicPartition, offset: int, number: int) -> ConsumerRecord:
    value = encode(wrap(settlement(number), producer="test"))
    return ConsumerRecord(
        partition.topic, partition.partition, offset, 0, 0, b"GM", value, None, 0, 0, []
    )


def a_fetch() -> dict[TopicPartition, list[ConsumerRecord]]:
    return {
        REQUESTS[0]: [record(REQUESTS[0], 10, 1), record(REQUESTS[0], 11, 2)],
        OTHERS: [record(OTHERS, 5, 3)],
        REQUESTS[1]: [record(REQUESTS[1], 20, 4)],
    }


async def consume_one_fetch(database_url: str, handler: Handler) -> RecordingConsumer:
    pool = await create_pool(database_url, "ledger", 2)
    consumer = RecordingConsumer()
    batches = BatchConsumer(
        name="test",
        pool=pool,
        handler=handler,
        event_types=frozenset({RecordSettlement}),
        fallback=EventConsumer("test", pool, {}, attempts_max=1, retry_backoff_s=0),
        consumer=consumer,
        batch_size_max=1000,
        infrastructure_retry_backoff_s=0,
    )
    try:
        await batches.process_fetch(a_fetch())
    finally:
        await pool.close()
    return consumer


async def test_a_topics_partitions_share_one_transaction_and_offsets_commit_together(
    database_url,
) -> None:
    handler = Handler()
    consumer = await consume_one_fetch(database_url, handler)
    assert [ids for ids, _ in handler.calls] == [["S-1", "S-2", "S-4"], ["S-3"]]
    assert handler.calls[0][1] != handler.calls[1][1]  # a transaction per topic
    assert consumer.committed == [{REQUESTS[0]: 12, REQUESTS[1]: 21, OTHERS: 6}]
    assert consumer.sought == {}


async def test_with_the_database_away_the_topics_done_are_committed_and_the_rest_fetched_again(
    database_url,
) -> None:
    consumer = await consume_one_fetch(database_url, Handler(fail_on_topic_of="S-3"))
    assert consumer.committed == [{REQUESTS[0]: 12, REQUESTS[1]: 21}]
    assert consumer.sought == {OTHERS: 5}


class LocksTwoRows:
    """Locks one row, waits until the other consumer holds the other, then wants that one too:
    two replicas whose batches touch the same contracts in opposite orders."""

    def __init__(self, first: int, second: int, both_hold_one: asyncio.Barrier) -> None:
        self.first, self.second = first, second
        self.both_hold_one: asyncio.Barrier | None = both_hold_one

    async def __call__(
        self, connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        await connection.execute("SELECT 1 FROM contested WHERE id = $1 FOR UPDATE", self.first)
        if self.both_hold_one is not None:  # only the first time: a retry runs alone
            await self.both_hold_one.wait()
            self.both_hold_one = None
        await connection.execute("SELECT 1 FROM contested WHERE id = $1 FOR UPDATE", self.second)


async def test_a_deadlock_between_replicas_is_retried_never_dead_lettered(database_url) -> None:
    setup = await asyncpg.connect(database_url)
    await setup.execute("CREATE TABLE public.contested (id int PRIMARY KEY)")
    await setup.execute("INSERT INTO public.contested VALUES (1), (2)")
    await setup.close()
    pool = await create_pool(database_url, "public", 4)
    both_hold_one = asyncio.Barrier(2)
    replicas = []
    for first, second, partition in ((1, 2, REQUESTS[0]), (2, 1, OTHERS)):
        fallback = EventConsumer("test", pool, {}, attempts_max=1, retry_backoff_s=0)
        batches = BatchConsumer(
            name="test",
            pool=pool,
            handler=LocksTwoRows(first, second, both_hold_one),
            event_types=frozenset({RecordSettlement}),
            fallback=fallback,
            consumer=RecordingConsumer(),
            batch_size_max=1000,
            infrastructure_retry_backoff_s=0,
        )
        replicas.append((batches, {partition: [record(partition, 7, first)]}))
    try:
        await asyncio.gather(*(batches.process_fetch(fetch) for batches, fetch in replicas))
        # PostgreSQL rolled one side back: that side fetches its message again, and nothing
        # went to the dead-letter topic or was passed over.
        committed = [batches.consumer.committed for batches, _ in replicas]
        sought = [batches.consumer.sought for batches, _ in replicas]
        assert sorted(map(len, committed)) == [0, 1]
        assert sorted(map(len, sought)) == [0, 1]
        assert all(batches.fallback.stats.dead_lettered == 0 for batches, _ in replicas)
        assert all(batches.fallback.stats.ignored == 0 for batches, _ in replicas)
        # Fetched again, it goes through and is committed.
        loser, fetch = next((b, f) for b, f in replicas if b.consumer.sought)
        await loser.process_fetch(fetch)
        assert loser.consumer.committed == [{next(iter(fetch)): 8}]
    finally:
        await pool.close()
