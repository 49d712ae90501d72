"""Helpers for tests that read topics and wait for the system to settle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import ContractError, Event
from contracts.envelope import Envelope, decode, encode, unwrap, wrap
from services.runtime.host import ServiceDefinition, ServiceHost
from services.runtime.settings import RuntimeSettings

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout_s: float = 30.0, interval_s: float = 0.05
) -> T:
    """Await `probe` until it returns something truthy; fail with its last answer otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s; last result {result!r}")
        await asyncio.sleep(interval_s)


class TopicReader:
    """Collects every message on some topics, from the beginning.

    It reads every partition itself, in no consumer group: a group's join waits on the broker
    (half the session timeout on Tansu) before the first message, and a reader that commits
    nothing and shares with no one has no use for one."""

    def __init__(self, settings: RuntimeSettings, *logical_topics: str) -> None:
        self.consumer = AIOKafkaConsumer(
            *[settings.topic(topic) for topic in logical_topics],
            bootstrap_servers=settings.effective_bootstrap_servers(),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        )
        self.records: list = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()

    async def _collect(self) -> None:
        async for record in self.consumer:
            self.records.append(record)

    def envelopes(self) -> list[Envelope]:
        """Every record that holds an envelope (a dead-letter topic may hold anything)."""
        found = []
        for record in self.records:
            try:
                found.append(decode(record.value))
            except ContractError:
                continue
        return found

    def events(self, event_type: type[T]) -> list[T]:
        found = [unwrap(envelope) for envelope in self.envelopes()]
        return [event for event in found if isinstance(event, event_type)]


@asynccontextmanager
async def running(
    definition: ServiceDefinition, settings: RuntimeSettings
) -> AsyncIterator[ServiceHost]:
    """A service host started in this event loop, stopped on exit."""
    host = ServiceHost(definition, settings)
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


async def publish(
    settings: RuntimeSettings, *events: Event, producer_name: str = "test"
) -> list[Envelope]:
    """Publish events straight to their topics, as another service's relay would."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    try:
        envelopes = []
        for event in events:
            envelope = wrap(event, producer=producer_name)
            await producer.send_and_wait(
                settings.topic(event.published_on()),
                encode(envelope),
                key=event.partition_key().encode(),
            )
            envelopes.append(envelope)
        return envelopes
    finally:
        await producer.stop()
