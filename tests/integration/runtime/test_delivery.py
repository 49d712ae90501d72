"""Effectively-once delivery against real PostgreSQL and the real broker: the outbox survives a
relay that dies, the inbox absorbs duplicates, and poison messages go to the dead-letter topic."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts import FinancialYearAmount, RecordSettlement, SettlementRecorded, topics
from contracts.envelope import encode, wrap
from services.ledger.app import DEFINITION as LEDGER
from services.runtime.consumer import HandlerContext
from services.runtime.db import create_pool
from services.runtime.outbox import Outbox, OutboxRelay, unpublished_count
from tests.support.kafka import TopicReader, eventually, running

pytestmark = pytest.mark.integration


def settlement(number: int, amount_pence: int = 1_000_00) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=f"S-{number}",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=amount_pence),),
    )


async def write_to_outbox(pool: asyncpg.Pool, *events: RecordSettlement) -> None:
    """Commit events to the ledger schema's outbox, as a handler's transaction would."""
    async with pool.acquire() as connection, connection.transaction():
        outbox = Outbox(connection, producer="test")
        for event in events:
            await outbox.add(event)


async def started_producer(settings) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    return producer


class StallsAfterSending:
    """A producer that really sends, then never reports delivery: the relay is stuck between
    publishing and marking its rows, where the test kills it."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(self, *args: object, **kwargs: object) -> asyncio.Future[object]:
        await self.producer.send(*args, **kwargs)  # type: ignore[arg-type]
        stalled: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        return stalled

    # The relay sends a record batch per partition: built and routed by the real producer.
    def create_batch(self) -> object:
        return self.producer.create_batch()

    async def partitions_for(self, topic: str) -> set[int]:
        return await self.producer.partitions_for(topic)

    async def send_batch(self, *args: object, **kwargs: object) -> asyncio.Future[object]:
        await self.producer.send_batch(*args, **kwargs)  # type: ignore[arg-type]
        stalled: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        return stalled


def relay_for(pool: asyncpg.Pool, producer: object, settings) -> OutboxRelay:
    return OutboxRelay(
        pool,
        producer,
        topic_prefix=settings.topic_prefix,  # type: ignore[arg-type]
        batch_size_max=100,
        poll_interval_s=0.01,
    )


async def test_outbox_rows_committed_while_no_relay_runs_are_delivered_when_one_starts(
    settings,
) -> None:
    pool = await create_pool(settings.effective_database_url(), "ledger", 2)
    producer = await started_producer(settings)
    try:
        await write_to_outbox(pool, settlement(1), settlement(2), settlement(3))
        assert await unpublished_count(pool) == 3
        async with TopicReader(settings, topics.LEDGER_REQUESTS) as reader:
            relay_task = asyncio.create_task(relay_for(pool, producer, settings).run())
            await eventually(lambda: _at_least(reader, RecordSettlement, 3))
            # The reader can see the rows before the relay's marks commit: wait for those too
            # (cancelled in between, the relay would roll its marks back).
            await eventually(lambda: _none_unpublished(pool))
            relay_task.cancel()
        assert sorted(e.settlement_id for e in reader.events(RecordSettlement)) == [
            "S-1",
            "S-2",
            "S-3",
        ]
    finally:
        await producer.stop()
        await pool.close()


async def test_a_relay_killed_between_publish_and_mark_republishes_and_the_inbox_dedupes(
    settings,
) -> None:
    pool = await create_pool(settings.effective_database_url(), "ledger", 4)
    producer = await started_producer(settings)
    try:
        await write_to_outbox(pool, settlement(1, 5_00), settlement(2, 7_00))
        async with TopicReader(settings, topics.LEDGER_REQUESTS, topics.LEDGER_RESULTS) as reader:
            doomed = asyncio.create_task(
                relay_for(pool, StallsAfterSending(producer), settings).run()
            )
            await eventually(lambda: _at_least(reader, RecordSettlement, 2))
            doomed.cancel()  # killed: its transaction rolls back, the rows stay unpublished
            await asyncio.gather(doomed, return_exceptions=True)
            assert await unpublished_count(pool) == 2

            async with running(LEDGER, settings):
                healthy = asyncio.create_task(relay_for(pool, producer, settings).run())
                await eventually(lambda: _at_least(reader, RecordSettlement, 4))
                await eventually(lambda: _at_least(reader, SettlementRecorded, 2))
                await asyncio.sleep(0.5)  # time for any wrongful third result to show up
                healthy.cancel()
        # Each request arrived twice and was applied once.
        assert len(reader.events(RecordSettlement)) == 4
        assert len(_distinct(reader, SettlementRecorded)) == 2
        assert await _pot_balance(pool) == 12_00
    finally:
        await producer.stop()
        await pool.close()


async def test_a_duplicate_delivery_changes_state_once(settings) -> None:
    envelope = wrap(settlement(9, 42_00), producer="test")
    producer = await started_producer(settings)
    try:
        async with (
            TopicReader(settings, topics.LEDGER_RESULTS) as reader,
            running(LEDGER, settings) as ledger,
        ):
            for _ in range(3):
                await producer.send_and_wait(
                    settings.topic(topics.LEDGER_REQUESTS), encode(envelope), key=b"GM"
                )
            await eventually(lambda: _at_least(reader, SettlementRecorded, 1))
            await eventually(lambda: _stat(ledger, "processed", 3))
            assert ledger.pool is not None
            assert await _pot_balance(ledger.pool) == 42_00
        # The ledger answers a repeated request with its original answer: the same event,
        # perhaps published again, never a second, different one.
        assert len(_distinct(reader, SettlementRecorded)) == 1
    finally:
        await producer.stop()


async def always_fails_on_s_poison(context: HandlerContext, command: RecordSettlement) -> None:
    if command.settlement_id == "S-POISON":
        raise RuntimeError("this message can never be processed")
    await context.outbox.add(
        SettlementRecorded(
            place_id=command.place_id,
            settlement_id=command.settlement_id,
            department_code=command.department_code,
            funding_stream_code=command.funding_stream_code,
            spending_review_period=command.spending_review_period,
            profile=command.profile,
            transfer_id="T-1",
        )
    )


async def test_a_message_that_always_fails_is_dead_lettered_and_its_partition_flows_on(
    settings,
) -> None:
    poisoned = replace(
        LEDGER, handlers={RecordSettlement: always_fails_on_s_poison}, batch_handler=None
    )
    poison = RecordSettlement(**{**settlement(0).model_dump(), "settlement_id": "S-POISON"})
    producer = await started_producer(settings)
    try:
        async with (
            TopicReader(settings, topics.DEAD_LETTER, topics.LEDGER_RESULTS) as reader,
            running(poisoned, settings) as host,
        ):
            request_topic = settings.topic(topics.LEDGER_REQUESTS)
            # Same key, so the same partition: the good message must get past the poison.
            await producer.send_and_wait(request_topic, b"{not an envelope", key=b"GM")
            await producer.send_and_wait(
                request_topic, encode(wrap(poison, producer="test")), key=b"GM"
            )
            await producer.send_and_wait(
                request_topic, encode(wrap(settlement(1), producer="test")), key=b"GM"
            )
            await eventually(lambda: _at_least(reader, SettlementRecorded, 1))
            await eventually(lambda: _dead_letters(reader, 2))
            assert host.consumer is not None
            assert host.consumer.stats.dead_lettered == 2
        letters = [r for r in reader.records if r.topic == settings.topic(topics.DEAD_LETTER)]
        headers = [dict((k, v.decode()) for k, v in letter.headers) for letter in letters]
        errors = sorted(h["dead_letter_error"] for h in headers)
        assert errors[0].startswith("InvalidEnvelope")
        assert errors[1] == "RuntimeError: this message can never be processed"
        assert {h["dead_letter_consumer"] for h in headers} == {"ledger"}
        poison_letter = next(h for h in headers if h["event_type"] == "RecordSettlement")
        assert poison_letter["dead_letter_attempts"] == str(settings.handler_attempts_max)
        assert [e.settlement_id for e in reader.events(SettlementRecorded)] == ["S-1"]
    finally:
        await producer.stop()


async def _none_unpublished(pool: asyncpg.Pool) -> bool:
    return await unpublished_count(pool) == 0


async def _at_least(reader: TopicReader, event_type: type, count: int) -> bool:
    return len(reader.events(event_type)) >= count


def _distinct(reader: TopicReader, event_type: type) -> set[object]:
    return {
        envelope.event_id
        for envelope in reader.envelopes()
        if envelope.event_type == event_type.__name__
    }


async def _dead_letters(reader: TopicReader, count: int) -> bool:
    return sum(1 for r in reader.records if r.topic.endswith(topics.DEAD_LETTER)) >= count


async def _stat(host, name: str, value: int) -> bool:
    return getattr(host.consumer.stats, name) >= value


async def _pot_balance(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as connection:
        return int(
            await connection.fetchval(
                "SELECT coalesce(sum(balance_pence), 0) FROM balances WHERE account LIKE 'pot:%'"
            )
        )
