"""FastStream's batch subscriber, as the host runs it for a batch service, against real PostgreSQL
and the real broker: the ledger's batch handler answers through it, a repeated request changes
state once, and an undecodable message is dead-lettered while its partition flows on."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiokafka import AIOKafkaProducer

from contracts import SettlementRecorded, topics
from contracts.envelope import encode, wrap
from services.ledger.app import DEFINITION as LEDGER
from services.runtime.consumer import EventConsumer
from services.runtime.faststream_batches import batch_broker
from tests.integration.runtime.test_delivery import _pot_balance, settlement
from tests.support.kafka import TopicReader, eventually, running

pytestmark = pytest.mark.integration


async def test_the_ledger_answers_through_the_faststream_batch_subscriber(settings) -> None:
    assert LEDGER.batch_handler is not None
    repeated = wrap(settlement(1, 42_00), producer="test")
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    try:
        async with (
            TopicReader(settings, topics.DEAD_LETTER, topics.LEDGER_RESULTS) as reader,
            # The host relays the answers; the FastStream broker consumes instead of its own.
            running(replace(LEDGER, subscriptions=()), settings) as host,
        ):
            assert host.pool is not None
            fallback = EventConsumer(
                name="ledger",
                pool=host.pool,
                handlers=LEDGER.handlers,
                attempts_max=settings.handler_attempts_max,
                retry_backoff_s=settings.handler_retry_backoff_s,
            )
            broker = batch_broker(
                settings,
                "ledger",
                LEDGER.subscriptions,
                LEDGER.batch_handler,
                host.pool,
                fallback,
            )
            await broker.start()
            try:
                request_topic = settings.topic(topics.LEDGER_REQUESTS)
                # Same key, so one partition: the good messages must get past the bad one.
                await producer.send_and_wait(request_topic, b"{not an envelope", key=b"GM")
                for _ in range(2):
                    await producer.send_and_wait(request_topic, encode(repeated), key=b"GM")
                second = wrap(settlement(2, 8_00), producer="test")
                await producer.send_and_wait(request_topic, encode(second), key=b"GM")

                async def answered() -> bool:
                    return len({e.settlement_id for e in reader.events(SettlementRecorded)}) == 2

                async def dead_lettered() -> bool:
                    return any(r.topic.endswith(topics.DEAD_LETTER) for r in reader.records)

                await eventually(answered)
                await eventually(dead_lettered)
                assert await _pot_balance(host.pool) == 50_00
                assert fallback.stats.dead_lettered == 1
            finally:
                await broker.stop()
    finally:
        await producer.stop()
