"""Both FastStream subscribers the host runs hand each message to the service on the event loop:
fast_depends solves a handler argument taken from FastStream's context on a worker thread, a
thread hop per message (or fetch) that cost the allocations service about a twentieth of its
CPU in the end-to-end benchmark (bench/NOTES.md). Real PostgreSQL and the real broker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import fast_depends.utils
import pytest
from aiokafka import AIOKafkaProducer

from contracts import SettlementRecorded, topics
from contracts.envelope import encode, wrap
from services.ledger.app import DEFINITION as LEDGER
from services.runtime.consumer import EventConsumer
from services.runtime.faststream_batches import batch_broker
from services.runtime.settings import RuntimeSettings
from tests.integration.runtime.test_delivery import settlement, started_producer
from tests.support.kafka import TopicReader, eventually, running

pytestmark = pytest.mark.integration


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Every function fast_depends runs on a worker thread while the test runs."""
    hops: list[Callable[..., Any]] = []
    original = fast_depends.utils.run_in_threadpool

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(fast_depends.utils, "run_in_threadpool", counted)
    return hops


async def three_settlements_answered(
    settings: RuntimeSettings, producer: AIOKafkaProducer, reader: TopicReader
) -> None:
    """Send three settlements to the ledger and wait until each is answered."""
    for number in (1, 2, 3):
        await producer.send_and_wait(
            settings.topic(topics.LEDGER_REQUESTS),
            encode(wrap(settlement(number), producer="test")),
            key=b"GM",
        )

    async def answered() -> bool:
        return len(reader.events(SettlementRecorded)) == 3

    await eventually(answered)


async def test_the_single_message_subscriber_hands_each_message_over_on_the_loop(
    settings, thread_hops
) -> None:
    one_at_a_time = replace(LEDGER, batch_handler=None)
    producer = await started_producer(settings)
    try:
        async with (
            TopicReader(settings, topics.LEDGER_RESULTS) as reader,
            running(one_at_a_time, settings),
        ):
            await three_settlements_answered(settings, producer, reader)
    finally:
        await producer.stop()

    assert thread_hops == []


async def test_the_batch_subscriber_hands_each_fetch_over_on_the_loop(
    settings, thread_hops
) -> None:
    assert LEDGER.batch_handler is not None
    producer = await started_producer(settings)
    try:
        async with (
            TopicReader(settings, topics.LEDGER_RESULTS) as reader,
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
                settings, "ledger", LEDGER.subscriptions, LEDGER.batch_handler, host.pool, fallback
            )
            await broker.start()
            try:
                await three_settlements_answered(settings, producer, reader)
            finally:
                await broker.stop()
    finally:
        await producer.stop()

    assert thread_hops == []
