"""Consumes messages in batches: one transaction per topic per fetch, offsets committed after.

For a service whose throughput matters (the ledger, outcomes' evidence), handling message by message
costs one transaction and several round trips each. A batch handler gets every decodable message of
one topic in a fetch at once (every partition of it this member holds, each partition's messages in
their order) and does its work set-wise inside one transaction. If the batch fails for a reason
other than the infrastructure (a bug, a poison message), the batch is replayed message by message
through the ordinary `EventConsumer`, so one bad message is dead-lettered and the rest flow on.

The handler must itself be idempotent on event ids (the ledger keeps a table of the requests it
has answered): after a crash or a rebalance the uncommitted part of a batch comes again.

Every service consumes through FastStream (issue 13): `services/runtime/faststream_batches.py`
runs FastStream's Kafka batch subscriber and hands each fetch to `process_fetch`. `run`, the
hand-written aiokafka loop these services used before, is kept only as the reference that
`python -m bench.consumer_ab` measures the FastStream loop against (bench/NOTES.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from opentelemetry.trace import Link, Span, SpanKind

from contracts import ContractError, Event
from contracts.envelope import Envelope, decode, unwrap
from services.runtime import telemetry
from services.runtime.consumer import (
    INFRASTRUCTURE_ERRORS,
    EventConsumer,
    HandlerContext,
    IncomingMessage,
    message_attributes,
)

log = logging.getLogger(__name__)

# A batch of a thousand requests allocates a few hundred thousand short-lived objects (events,
# envelopes, rows). With CPython's default first threshold (700 allocations) the cyclic
# collector ran hundreds of times per batch and, every hundredth time, walked the whole heap
# of a long-lived service. Collecting the youngest generation every 50,000 allocations instead
# costs a few MB at most and made the ledger about 1.6x faster (bench/NOTES.md).
COLLECTOR_THRESHOLDS = (50_000, 20, 20)
# But a young generation that large took 34-87 ms of CPU to collect, all at once, on this
# shared machine: a process that answers HTTP reads on the same event loop (the gateway's API)
# keeps Python's own thresholds, whose young collections mostly take under a millisecond
# (bench/NOTES.md, "GET pot p99").
# And the same service does not collect at all while a fetch is handled (`collector_paused`):
# a batch's objects (records, envelopes, events, decisions, rows: a few hundred per message)
# all live until the batch ends, when reference counting frees them; a collection during the
# batch walked all of them, about 4 ms per 50,000, and freed nothing. In the ledger that was
# about a sixth of the CPU of a request (bench/NOTES.md, "Seventh pass").

BatchHandler = Callable[[asyncpg.Connection, Sequence[tuple[Envelope, Event]]], Awaitable[None]]


@dataclass
class BatchConsumer:
    """Runs one consumer-group member over `topics`, feeding each fetched batch to `handler`."""

    name: str
    pool: asyncpg.Pool
    handler: BatchHandler
    event_types: frozenset[type[Event]]
    fallback: EventConsumer
    consumer: AIOKafkaConsumer
    batch_size_max: int
    infrastructure_retry_backoff_s: float
    # False when the process serves requests on this event loop: see COLLECTOR_THRESHOLDS.
    collect_less_often: bool = True
    running: bool = False

    @classmethod
    def single_message_adapter(cls, handler: BatchHandler) -> Callable[..., Awaitable[None]]:
        """The batch handler as an ordinary one-message handler, for the fallback path."""

        async def handle_one(context: HandlerContext, event: Event) -> None:
            await handler(context.connection, [(context.envelope, event)])

        return handle_one

    async def run(self) -> None:
        """Fetch, process and commit until cancelled."""
        thresholds = gc.get_threshold()
        try:
            # Inside the try: a task cancelled while still joining the group must leave it too,
            # or its heartbeats would hold partitions that nobody consumes.
            await self.consumer.start()
            _tune_collector(self.collect_less_often)
            self.running = True
            while True:
                fetched = await self.consumer.getmany(
                    timeout_ms=1000, max_records=self.batch_size_max
                )
                if fetched:
                    await self.process_fetch(fetched)
        finally:
            self.running = False
            # Back as it was, so that a process that goes on (a test session) collects as usual.
            gc.unfreeze()
            gc.set_threshold(*thresholds)
            with contextlib.suppress(KafkaError):
                await self.consumer.stop()

    async def process_fetch(self, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Process a fetch topic by topic, then commit every partition's offsets at once.

        One transaction per topic, not per partition: at moderate load a fetch holds a few
        messages from each of several partitions, and a transaction's fixed cost (the ledger's
        dozen round trips to load and save its books) paid once per partition was most of the
        time a request waited (bench/NOTES.md, "Latency at moderate load"). Under a backlog the
        fetch is `batch_size_max` records either way. Topics stay apart so that a handler with
        a set-wise path for one topic (the gateway's spend events) keeps it.
        """
        with collector_paused(self.collect_less_often):
            await self._process_fetch(fetched)

    async def _process_fetch(self, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        by_topic: dict[str, list[TopicPartition]] = {}
        for partition in fetched:
            by_topic.setdefault(partition.topic, []).append(partition)
        done: dict[TopicPartition, int] = {}
        for partitions in by_topic.values():
            records = [record for partition in partitions for record in fetched[partition]]
            try:
                await self.process([_incoming(record) for record in records])
            except INFRASTRUCTURE_ERRORS:
                # The database is away: nothing of this topic was committed, so fetch it (and
                # the topics not reached yet) again later; the topics done are kept.
                log.exception("%s: batch failed on infrastructure; it will be retried", self.name)
                for partition in fetched.keys() - done.keys():
                    self.consumer.seek(partition, fetched[partition][0].offset)
                await self._commit(done)
                await asyncio.sleep(self.infrastructure_retry_backoff_s)
                return
            done.update({partition: fetched[partition][-1].offset + 1 for partition in partitions})
        await self._commit(done)

    async def _commit(self, positions: dict[TopicPartition, int]) -> None:
        """Commit the positions after the processed messages, and record the lag they leave."""
        if not positions:
            return
        try:
            await self.consumer.commit(positions)
        except CommitFailedError:
            # A partition moved to another member in a rebalance; it will see these messages
            # again and recognise them by their event ids.
            log.warning("%s: commit for %s failed after a rebalance", self.name, list(positions))
            return
        for partition, position in positions.items():
            self._record_lag(partition, position)

    def _record_lag(self, partition: TopicPartition, position: int) -> None:
        # The fetch response told the client the partition's end; no extra request is made.
        telemetry.instruments().record_lag(
            self.name,
            partition.topic,
            partition.partition,
            self.consumer.highwater(partition),
            position,
        )

    async def process(self, messages: Sequence[IncomingMessage]) -> None:
        """Handle one partition's batch; raises only for infrastructure failures."""
        wanted: list[tuple[Envelope, Event]] = []
        for message in messages:
            try:
                envelope = decode(message.value)
                event = unwrap(envelope)
            except ContractError:
                await self.fallback.handle(message)  # dead-letters the undecodable message
                continue
            if type(event) in self.event_types:
                wanted.append((envelope, event))
            else:
                self.fallback.stats.ignored += 1
        if not wanted:
            return
        spans = self._message_spans(wanted)
        try:
            with telemetry.span(
                f"{self.name} batch",
                self.name,
                kind=SpanKind.CONSUMER,
                attributes={"messaging.batch.message_count": len(wanted)},
                links=[Link(span.get_span_context()) for span in spans],
            ):
                async with self.pool.acquire() as connection, connection.transaction():
                    await self.handler(connection, wanted)
            self.fallback.stats.processed += len(wanted)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            log.exception("%s: batch of %d failed; replaying one by one", self.name, len(wanted))
            for message in messages:
                await self.fallback.handle(message)
        finally:
            for span in spans:
                span.end()

    def _message_spans(self, wanted: Sequence[tuple[Envelope, Event]]) -> list[Span]:
        """One span per message, each in its own message's trace, spanning the batch's
        transaction: the ledger's posting of a request shows in the request's trace."""
        if not telemetry.tracing():
            return []
        spans = []
        for envelope, event in wanted:
            telemetry.remember_trace(envelope.event_id, envelope.traceparent)
            span = telemetry.start_span(
                f"{self.name} handle {envelope.event_type}",
                self.name,
                kind=SpanKind.CONSUMER,
                traceparent=envelope.traceparent,
                attributes=message_attributes(envelope, event),
            )
            if span is not None:
                spans.append(span)
        return spans


@contextlib.contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """No cyclic collection inside the block (see `COLLECTOR_THRESHOLDS`): the first one after
    it, once the batch's objects are freed, finds only what outlived it. A block that makes
    cyclic garbage leaves it to that collection; what one batch makes is bounded."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _tune_collector(collect_less_often: bool) -> None:
    """Never again scan what the started service holds for good, and (for throughput) collect
    less often."""
    gc.collect()
    # What is alive now (modules, schemas, pools) lives as long as the process: frozen, it is
    # left out of every later collection.
    gc.freeze()
    if collect_less_often:
        gc.set_threshold(*COLLECTOR_THRESHOLDS)


def _incoming(record: ConsumerRecord) -> IncomingMessage:
    return IncomingMessage(
        value=record.value or b"",
        key=record.key,
        headers={name: value.decode(errors="replace") for name, value in record.headers},
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
