"""The transactional outbox: events are written with the state change, then relayed to Kafka.

Handlers never publish. They add events to the outbox inside their transaction (`Outbox.add`);
the `OutboxRelay` publishes committed rows in batches, keyed by aggregate id, and marks them
published. A relay that dies between publishing and marking publishes those rows again on the
next run, which is why every consumer keeps an inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from asyncpg.pool import PoolConnectionProxy
from opentelemetry.trace import Span, SpanKind

from contracts import Event
from contracts.envelope import Envelope, encode, encode_caused, encode_payload, wrap
from services.runtime import telemetry
from services.runtime.db import QUERIES, holds_session_state

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "event_id"
EVENT_TYPE_HEADER = "event_type"
TRACEPARENT_HEADER = "traceparent"
# How often a relay draining a backlog counts what is left (the outbox backlog metric).
BACKLOG_COUNT_INTERVAL_S = 1.0
# Every commit that inserted outbox rows notifies this channel, suffixed with the schema
# (runtime migration 003's trigger), so that the active relay wakes at once instead of at its
# next poll.
OUTBOX_WRITTEN_CHANNEL_PREFIX = "outbox_written_"
# How long a relay whose batch failed (broker or database away) waits before trying again.
RETRY_AFTER_FAILURE_S = 0.5
# Longest an UNLISTEN may take before the connection is given up on.
UNLISTEN_TIMEOUT_S = 2.0


@dataclass
class OutboxRow:
    """A message ready to publish: a logical topic, a key, the bytes and string headers."""

    event_id: UUID
    topic: str
    partition_key: str
    event_type: str
    value: bytes
    headers: Mapping[str, str]
    # The headers as JSON text, when whoever made the row wrote it already (the ledger's
    # answers); otherwise the database layer writes it from `headers`.
    headers_json: str | None = field(default=None, compare=False, repr=False)


async def add_row(connection: asyncpg.Connection, row: OutboxRow) -> None:
    """Insert one row; an event id already in the outbox is left as it is (same event)."""
    await connection.execute(
        QUERIES.insert_outbox,
        row.event_id,
        row.topic,
        row.partition_key,
        row.event_type,
        row.value,
        json.dumps(dict(row.headers)),
    )


def row_for(envelope: Envelope, event: Event) -> OutboxRow:
    """The outbox row that carries `event` in `envelope` to the event's own topic."""
    headers = {EVENT_ID_HEADER: str(envelope.event_id), EVENT_TYPE_HEADER: envelope.event_type}
    if envelope.traceparent:
        headers[TRACEPARENT_HEADER] = envelope.traceparent
    return OutboxRow(
        event_id=envelope.event_id,
        topic=event.published_on(),
        partition_key=event.partition_key(),
        event_type=envelope.event_type,
        value=encode(envelope),
        headers=headers,
    )


def answer_row(
    event: Event,
    *,
    producer: str,
    event_id: UUID,
    causation: Envelope,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
) -> OutboxRow:
    """`row_for(wrap(event, ...), event)` without building the envelope: the same row, for a
    service that answers many messages per batch (the ledger)."""
    traceparent = traceparent or causation.traceparent
    headers = {EVENT_ID_HEADER: str(event_id), EVENT_TYPE_HEADER: event.event_type}
    if traceparent:
        headers[TRACEPARENT_HEADER] = traceparent
    return OutboxRow(
        event_id=event_id,
        topic=event.published_on(),
        partition_key=event.partition_key(),
        event_type=event.event_type,
        value=encode_payload(
            type(event),
            event,
            producer=producer,
            event_id=event_id,
            causation=causation,
            traceparent=traceparent,
            occurred_at=occurred_at,
        ),
        headers=headers,
    )


def payload_answer_row(
    event_class: type[Event],
    payload: Mapping[str, Any],
    *,
    partition_key: str,
    event_id: UUID,
    shared: bytes,
    traceparent: str | None,
    event_id_text: str | None = None,
) -> OutboxRow:
    """`answer_row` for an event given as its JSON-ready payload, one of several answers to
    one message whose shared envelope fields are `shared` (`contracts.envelope.caused_by`,
    made with the same `traceparent`): the same row, without a model built only to be dumped
    again, nor the shared fields encoded again (the ledger's answers to every request).
    `event_id_text` is `str(event_id)`, when the caller has it already."""
    assert event_class.topics == (event_class.topic,), "one topic, known from the class"
    event_id_text = event_id_text or str(event_id)
    headers = {EVENT_ID_HEADER: event_id_text, EVENT_TYPE_HEADER: event_class.event_type}
    headers_json = None
    if traceparent:
        headers[TRACEPARENT_HEADER] = traceparent
    else:  # the usual case, tracing off: a UUID's text and a class name need no escaping
        headers_json = _ANSWER_HEADERS_JSON % (event_id_text, event_class.event_type)
    return OutboxRow(
        event_id=event_id,
        topic=event_class.topic,
        partition_key=partition_key,
        event_type=event_class.event_type,
        value=encode_caused(event_class, payload, event_id=event_id_text, shared=shared),
        headers=headers,
        headers_json=headers_json,
    )


def first_row(event: Event, *, producer: str, event_id: UUID) -> OutboxRow:
    """The outbox row of an event that starts a chain (a command accepted over HTTP), caused by
    the span running now, for a caller that writes it in a statement of its own (the gateway's
    command log claims the Idempotency-Key and queues the command in one)."""
    envelope = wrap(
        event, producer=producer, event_id=event_id, traceparent=telemetry.current_traceparent()
    )
    return row_for(envelope, event)


# EVENT_ID_HEADER and EVENT_TYPE_HEADER, as JSON around their values.
_ANSWER_HEADERS_JSON = '{"event_id":"%s","event_type":"%s"}'


class Outbox:
    """Adds events to the outbox inside the caller's transaction, as causes of one message."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        producer: str,
        causation: Envelope | None = None,
        traceparent: str | None = None,
    ) -> None:
        self.connection = connection
        self.producer = producer
        self.causation = causation
        self.traceparent = traceparent
        self.emitted: list[Envelope] = []

    async def add(self, event: Event, *, event_id: UUID | None = None) -> Envelope:
        """Wrap `event` in an envelope caused by the message being handled, and queue it."""
        envelope = wrap(
            event,
            producer=self.producer,
            event_id=event_id,
            causation=self.causation,
            # The span running now (the HTTP request, the consumer's handling) is the cause.
            traceparent=self.traceparent or telemetry.current_traceparent(),
        )
        await self._queue(row_for(envelope, event))
        self.emitted.append(envelope)
        return envelope

    async def add_payload(
        self, event_class: type[Event], payload: Mapping[str, Any], partition_key: str
    ) -> UUID:
        """`add` for an event given as its JSON-ready payload (see
        `contracts.envelope.encode_payload`): the same row, encoded in one pass, for events
        of thousands of values. Returns the event id; no envelope is kept in `emitted`."""
        assert event_class.topics == (event_class.topic,), "one topic, known from the class"
        event_id = uuid4()
        traceparent = self.traceparent or telemetry.current_traceparent()
        traceparent = traceparent or (self.causation.traceparent if self.causation else None)
        headers = {EVENT_ID_HEADER: str(event_id), EVENT_TYPE_HEADER: event_class.event_type}
        if traceparent:
            headers[TRACEPARENT_HEADER] = traceparent
        value = encode_payload(
            event_class,
            payload,
            producer=self.producer,
            event_id=event_id,
            causation=self.causation,
            traceparent=traceparent,
        )
        await self._queue(
            OutboxRow(
                event_id, event_class.topic, partition_key, event_class.event_type, value, headers
            )
        )
        return event_id

    async def _queue(self, row: OutboxRow) -> None:
        await add_row(self.connection, row)


class Placed(NamedTuple):
    """Where the broker put one published row."""

    topic: str
    partition: int
    offset: int


@dataclass
class _PartitionBatch:
    """One record batch of a relay batch: its partition, and which rows it carries in order."""

    topic: str
    partition: int
    builder: Any  # aiokafka's BatchBuilder
    rows: list[int] = field(default_factory=list)


class _Partitioning:
    """The partition of each key, as the producer's default partitioner would choose it for
    `send` (the hosts' producers use it), computed once per topic and key of a batch."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.partitioner = DefaultPartitioner()
        self.partitions: dict[str, list[int]] = {}
        self.chosen: dict[tuple[str, bytes], int] = {}

    async def partition_for(self, topic: str, key: bytes) -> int:
        chosen = self.chosen.get((topic, key))
        if chosen is None:
            partitions = self.partitions.get(topic)
            if partitions is None:
                partitions = self.partitions[topic] = sorted(
                    await self.producer.partitions_for(topic)
                )
            chosen = self.chosen[(topic, key)] = self.partitioner(key, partitions, partitions)
        return chosen


class OutboxRelay:
    """Publishes unpublished outbox rows of one schema, oldest first, in bounded batches.

    Only one relay per schema is active at a time, however many replicas run one: the active
    relay holds a session-level PostgreSQL advisory lock on a connection of its own and
    publishes through that connection's transactions. Two relays sending at once could put
    one key's rows on Kafka out of order (relay A sends rows 1-500 while relay B sends
    501-1000); a single sender keeps each key's order. The others stand by and retry the lock
    every `standby_interval_s`; when the active relay's process dies or its connection drops,
    PostgreSQL releases the lock and a standby takes over where the marks left off.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        topic_prefix: str,
        batch_size_max: int,
        poll_interval_s: float,
        service: str = "",
        standby_interval_s: float = 1.0,
        replay_window_s: float = 7 * 24 * 3600.0,
    ) -> None:
        self.service = service
        self.pool = pool
        self.producer = producer
        self.topic_prefix = topic_prefix
        self.batch_size_max = batch_size_max
        self.poll_interval_s = poll_interval_s
        self.standby_interval_s = standby_interval_s
        self.replay_window_s = replay_window_s
        self.published_total = 0
        self.replayed_total = 0
        # When a batch last went out (or the outbox was found empty): a relay draining a
        # backlog is slow, not stuck.
        self.last_progress_at = time.monotonic()
        # Set when the broker is found to have lost data (by this relay or the BrokerWatch);
        # the active relay then replays its recent rows before publishing anything else.
        self.lost_data_reason: str | None = None
        self._leader_connection: PoolConnectionProxy | None = None
        # Set by the host (`BrokerWatch.verify_before_publishing`): proves the broker still holds
        # what this schema published, or has the relay replay it first. Called before the first
        # batch of a relay that just became active or whose last attempt failed: a broker that
        # came back empty (the local one keeps data in memory) must get the rows it lost before
        # any newer row, or a consumer would see a place's newer command first. Not covered: a
        # batch already in flight when the broker dies is resent by the producer to the new
        # broker and found to be a loss only afterwards (`_mark_published`).
        self.verify_broker: Callable[[], Awaitable[None]] | None = None
        self._broker_verified = False
        # Set by a notification that rows were written; the connection listening for them.
        self._rows_written = asyncio.Event()
        self._listening_on: PoolConnectionProxy | None = None
        self._channel = ""
        self._backlog_counted = 0
        self._backlog_counted_at = -BACKLOG_COUNT_INTERVAL_S

    @property
    def active(self) -> bool:
        """True while this relay holds its schema's relay lock (it is the one publishing)."""
        connection = self._leader_connection
        try:
            return connection is not None and not connection.is_closed()
        except asyncpg.InterfaceError:
            # asyncpg detaches a pooled connection's proxy when the connection dies.
            return False

    async def take_over(self) -> bool:
        """Become the active relay if none is; True when this relay holds the lock now."""
        if self.active:
            return True
        await self.step_down()
        connection = await self.pool.acquire()
        # A session-level lock, and later a LISTEN: the pool must reset this connection in full
        # when it comes back (a standby's too, should its try have taken the lock after all),
        # which is what gives the lock back when the relay steps down.
        holds_session_state(connection)
        try:
            locked = await connection.fetchval(QUERIES.try_relay_lock)
        except BaseException:
            await self.pool.release(connection)
            raise
        if not locked:
            await self.pool.release(connection)
            return False
        self._leader_connection = connection
        self._broker_verified = False
        log.info("%s outbox relay is now the active relay of its schema", self.service)
        return True

    async def step_down(self) -> None:
        """Give the lock back (the pool's reset unlocks it, `holds_session_state`; a dropped
        connection lost it)."""
        connection, self._leader_connection = self._leader_connection, None
        if connection is not None:
            await self._stop_listening(connection)
            with contextlib.suppress(Exception):
                await self.pool.release(connection, timeout=5)

    async def publish_batch(self) -> int:
        """Publish one batch and mark it, if this relay is the active one; return how many
        rows it held.

        The marks commit only after the broker acknowledged every message (acks=all); the
        batch runs on the lock's own connection, so a relay that lost its connection cannot
        commit marks while another relay already sends.
        """
        if not await self.take_over():
            return 0
        connection = self._leader_connection
        assert connection is not None
        if not self._broker_verified and self.verify_broker is not None:
            try:
                await self.verify_broker()
            except Exception as error:
                # The broker does not answer: nothing can be sent anyway. The relay keeps its
                # lock (and so shows as stuck once the outbox ages) and checks again next round.
                log.warning("%s outbox relay waits for the broker: %r", self.service, error)
                return 0
            self._broker_verified = True
        if self.lost_data_reason is not None:
            await self.replay_recent(connection)
        async with connection.transaction():
            rows = await connection.fetch(QUERIES.lock_unpublished_outbox, self.batch_size_max)
            if not rows:
                self._record_backlog(0)
                self.last_progress_at = time.monotonic()
                return 0
            headers = [json.loads(row["headers"]) for row in rows]
            spans = []
            if telemetry.tracing():  # else each row's attributes were built for nothing
                spans = [self._producer_span(row, h) for row, h in zip(rows, headers, strict=True)]
            placed = await self._send_all(rows, headers)
            await self._mark_published(connection, rows, placed)
            # A full batch means more may wait. Counting them reads every waiting row's index
            # entry, so while a backlog drains it is counted once a second, not per batch
            # (per batch, the count grew with the backlog and slowed the drain it measured).
            backlog = 0
            if len(rows) >= self.batch_size_max:
                backlog = await self._backlog_now(connection)
        for span in spans:
            if span is not None:
                span.end()
        self._record_backlog(backlog)
        self.published_total += len(rows)
        self.last_progress_at = time.monotonic()
        return len(rows)

    async def replay_recent(self, connection: asyncpg.Connection) -> int:
        """Queue again every row published within the replay window (the broker lost them),
        and forget where they were, in one transaction; return how many rows were queued."""
        async with connection.transaction():
            status = await connection.execute(
                QUERIES.mark_recent_outbox_for_republish, self.replay_window_s
            )
            await connection.execute(QUERIES.forget_relay_positions)
        queued = int(status.split()[-1])
        log.warning(
            "%s outbox relay replays %d row(s) published in the last %.0f s (%s)",
            self.service,
            queued,
            self.replay_window_s,
            self.lost_data_reason,
        )
        self.lost_data_reason = None
        self.replayed_total += queued
        return queued

    async def _mark_published(
        self, connection: asyncpg.Connection, rows: list[asyncpg.Record], placed: list[Placed]
    ) -> None:
        """Mark the rows published and note the last offset published on each partition, in
        one statement; an offset that did not advance past the one noted before means the
        broker forgot that partition (lost its data)."""
        last: dict[tuple[str, int], tuple[int, UUID]] = {}
        for row, metadata in zip(rows, placed, strict=True):
            where = (metadata.topic, metadata.partition)
            if where not in last or last[where][0] < metadata.offset:
                last[where] = (metadata.offset, row["event_id"])
        # One statement for every partition of the batch, not a round trip each (the ledger
        # publishes to three topics: twelve partitions at four partitions a topic).
        wheres = list(last)
        advanced = await connection.fetch(
            QUERIES.mark_outbox_published_recording_positions,
            [topic for topic, _ in wheres],
            [partition_number for _, partition_number in wheres],
            [last[where][0] for where in wheres],
            [last[where][1] for where in wheres],
            [row["id"] for row in rows],
        )
        stale = set(wheres) - {(row["topic"], row["partition"]) for row in advanced}
        for topic, partition_number in sorted(stale):
            self.lost_data_reason = (
                f"{topic}/{partition_number} gave offset {last[(topic, partition_number)][0]}, "
                "not past the one published before"
            )

    async def _backlog_now(self, connection: asyncpg.Connection) -> int:
        """The rows still waiting, counted at most once per `BACKLOG_COUNT_INTERVAL_S`."""
        now = time.monotonic()
        if now - self._backlog_counted_at >= BACKLOG_COUNT_INTERVAL_S:
            self._backlog_counted = int(await connection.fetchval(QUERIES.count_unpublished_outbox))
            self._backlog_counted_at = now
        return self._backlog_counted

    def _record_backlog(self, rows: int) -> None:
        telemetry.instruments().outbox_backlog[self.service] = rows

    def _producer_span(self, row: asyncpg.Record, headers: dict[str, str]) -> Span | None:
        return telemetry.start_span(
            f"{row['topic']} publish",
            self.service,
            kind=SpanKind.PRODUCER,
            traceparent=headers.get(TRACEPARENT_HEADER),
            attributes={
                "messaging.destination.name": f"{self.topic_prefix}{row['topic']}",
                telemetry.EVENT_TYPE_ATTRIBUTE: headers.get(EVENT_TYPE_HEADER, ""),
                telemetry.EVENT_ID_ATTRIBUTE: str(row["event_id"]),
            },
        )

    async def _send_all(
        self, rows: list[asyncpg.Record], headers: list[dict[str, str]]
    ) -> list[Placed]:
        """Send every row and wait for the broker to acknowledge them all; return where each
        landed. Rows are grouped into one record batch per partition, in row order, so each
        key's order holds: one `send` per row cost about 25 µs of Python each in aiokafka
        (partitioner, accumulator, a future per message), most of the relay's time in the
        ledger's profile (bench/NOTES.md)."""
        partitioning = _Partitioning(self.producer)
        batches: list[_PartitionBatch] = []
        open_batches: dict[tuple[str, int], _PartitionBatch] = {}
        for index, (row, row_headers) in enumerate(zip(rows, headers, strict=True)):
            topic = f"{self.topic_prefix}{row['topic']}"
            key = row["partition_key"].encode()
            partition = await partitioning.partition_for(topic, key)
            message = {
                "timestamp": None,
                "key": key,
                "value": bytes(row["value"]),
                "headers": [(name, text.encode()) for name, text in row_headers.items()],
            }
            batch = open_batches.get((topic, partition))
            if batch is None or batch.builder.append(**message) is None:
                # No batch yet for this partition, or the last one is full: start another.
                batch = _PartitionBatch(topic, partition, self.producer.create_batch())
                open_batches[(topic, partition)] = batch
                batches.append(batch)
                accepted = batch.builder.append(**message)
                assert accepted is not None, "an empty batch takes a message of any size"
            batch.rows.append(index)
        deliveries = [
            await self.producer.send_batch(batch.builder, batch.topic, partition=batch.partition)
            for batch in batches
        ]
        acknowledged = await asyncio.gather(*deliveries)
        placed = [Placed("", 0, 0)] * len(rows)
        for batch, metadata in zip(batches, acknowledged, strict=True):
            # The broker gives the batch's first offset; its records follow in order.
            for relative_offset, index in enumerate(batch.rows):
                placed[index] = Placed(
                    batch.topic, batch.partition, metadata.offset + relative_offset
                )
        return placed

    def broker_may_have_changed(self) -> None:
        """The broker did not answer (a send failed, or the watch could not reach it): it may
        come back empty, so check it again before the next batch."""
        self._broker_verified = False

    def wake(self, *_signal: object) -> None:
        """Rows were written (or the listening connection was lost): look now rather than at
        the next poll. Takes and ignores what asyncpg passes to its listeners."""
        self._rows_written.set()

    async def run(self) -> None:
        """Relay forever: drain full batches at once, otherwise wait until rows are written
        (a notification) or one poll interval passes; stand by while another relay is active."""
        try:
            while True:
                # Cleared before the batch: rows committed while it runs wake the next round.
                self._rows_written.clear()
                try:
                    published = await self.publish_batch()
                    await self._listen_while_active()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The broker or database is away; the rows stay unpublished and are
                    # retried. The lock is given back, so a healthier replica may take over.
                    log.exception("%s outbox relay failed; retrying", self.service)
                    self.broker_may_have_changed()
                    await self.step_down()
                    published = 0
                    await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                if not self.active:
                    await asyncio.sleep(self.standby_interval_s)
                elif published < self.batch_size_max:
                    await self._wait_for_rows(self.poll_interval_s)
        finally:
            await self.step_down()

    async def _wait_for_rows(self, timeout_s: float) -> None:
        """Until a notification says rows were written, or `timeout_s` passes: the poll stays
        as the fallback for a notification missed (while the relay was reconnecting, say)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rows_written.wait(), timeout_s)

    async def _listen_while_active(self) -> None:
        """LISTEN on the active relay's own connection, once per connection. Standbys do not
        listen; a relay that steps down stops listening, and listens again on the connection
        it takes over with. Losing the connection wakes the relay too, so that it takes over
        again at once rather than after a poll interval of hearing nothing."""
        connection = self._leader_connection
        if connection is None or connection is self._listening_on or not self.active:
            return
        schema = await connection.fetchval("SELECT current_schema()")
        self._channel = OUTBOX_WRITTEN_CHANNEL_PREFIX + schema
        await connection.add_listener(self._channel, self.wake)
        connection.add_termination_listener(self.wake)
        self._listening_on = connection
        # Rows committed between the batch just published and the LISTEN sent no notification
        # this relay heard: look once more.
        self.wake()

    async def _stop_listening(self, connection: PoolConnectionProxy) -> None:
        """UNLISTEN before the connection goes back to the pool (which would warn, and reset
        it anyway); a connection already lost has nothing to undo."""
        listening_on = self._listening_on
        if listening_on is None or listening_on is not connection:
            return
        self._listening_on = None
        with contextlib.suppress(Exception):
            listening_on.remove_termination_listener(self.wake)
            # Bounded: UNLISTEN on a link that died without a word would otherwise wait forever.
            await asyncio.wait_for(
                listening_on.remove_listener(self._channel, self.wake), UNLISTEN_TIMEOUT_S
            )


async def unpublished_count(pool: asyncpg.Pool) -> int:
    """How many outbox rows wait to be published (the outbox backlog)."""
    async with pool.acquire() as connection:
        return int(await connection.fetchval(QUERIES.count_unpublished_outbox))


async def mark_all_for_republish(pool: asyncpg.Pool) -> int:
    """Queue every outbox row again, to refill a broker that lost its data; consumers' inboxes
    absorb the duplicates. Returns the number of rows queued."""
    async with pool.acquire() as connection:
        status = await connection.execute(QUERIES.mark_outbox_for_republish)
    return int(status.split()[-1])


@dataclass(frozen=True)
class Pruned:
    """How many rows one pruning pass deleted."""

    outbox_rows: int
    inbox_rows: int


async def prune(
    pool: asyncpg.Pool, *, outbox_retention_s: float, inbox_retention_s: float, batch_max: int
) -> Pruned:
    """Delete outbox rows published longer ago than their retention, and inbox rows older than
    theirs, at most `batch_max` of each per call (short transactions; call again for more).

    The inbox keeps longer than the outbox (a setting's rule), so every duplicate a replay
    after broker loss can send still meets its inbox row."""
    async with pool.acquire() as connection:
        outbox_status = await connection.execute(
            QUERIES.prune_published_outbox, outbox_retention_s, batch_max
        )
        inbox_status = await connection.execute(QUERIES.prune_inbox, inbox_retention_s, batch_max)
    return Pruned(int(outbox_status.split()[-1]), int(inbox_status.split()[-1]))
