"""The transactional outbox: events are written with the state change, then relayed to Kafka.

Handlers never publish. They add events to the outbox inside their transaction (`Outbox.add`);
the `OutboxRelay` publishes committed rows in batches, keyed by aggregate id, and marks them
published. A relay that dies between publishing and marking publishes those rows again on the
next run, which is why every consumer keeps an inbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts import Event
from contracts.envelope import Envelope, encode, wrap
from services.runtime.db import QUERIES

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "event_id"
EVENT_TYPE_HEADER = "event_type"
TRACEPARENT_HEADER = "traceparent"


@dataclass
class OutboxRow:
    """A message ready to publish: a logical topic, a key, the bytes and string headers."""

    event_id: UUID
    topic: str
    partition_key: str
    event_type: str
    value: bytes
    headers: Mapping[str, str]


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
        topic=event.topic,
        partition_key=event.partition_key(),
        event_type=envelope.event_type,
        value=encode(envelope),
        headers=headers,
    )


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
            traceparent=self.traceparent,
        )
        await add_row(self.connection, row_for(envelope, event))
        self.emitted.append(envelope)
        return envelope


class OutboxRelay:
    """Publishes unpublished outbox rows of one schema, oldest first, in bounded batches."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        topic_prefix: str,
        batch_size_max: int,
        poll_interval_s: float,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.topic_prefix = topic_prefix
        self.batch_size_max = batch_size_max
        self.poll_interval_s = poll_interval_s
        self.published_total = 0

    async def publish_batch(self) -> int:
        """Publish one batch and mark it; return how many rows it held.

        Rows stay locked (`FOR UPDATE SKIP LOCKED`) while they are sent, so two relays on the
        same schema never send the same row at the same time; the marks commit only after
        the broker acknowledged every message (acks=all).
        """
        async with self.pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(QUERIES.lock_unpublished_outbox, self.batch_size_max)
            if not rows:
                return 0
            deliveries = [await self._send(row) for row in rows]
            await asyncio.gather(*deliveries)
            await connection.execute(QUERIES.mark_outbox_published, [row["id"] for row in rows])
        self.published_total += len(rows)
        return len(rows)

    async def _send(self, row: asyncpg.Record) -> asyncio.Future[object]:
        headers = [(name, value.encode()) for name, value in json.loads(row["headers"]).items()]
        return await self.producer.send(
            f"{self.topic_prefix}{row['topic']}",
            value=bytes(row["value"]),
            key=row["partition_key"].encode(),
            headers=headers,
        )

    async def run(self) -> None:
        """Relay forever: drain full batches at once, otherwise wait one poll interval."""
        while True:
            try:
                published = await self.publish_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The broker or database is away; the rows stay unpublished and are retried.
                log.exception("outbox relay failed; retrying")
                published = 0
                await asyncio.sleep(max(self.poll_interval_s, 0.5))
            if published < self.batch_size_max:
                await asyncio.sleep(self.poll_interval_s)


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
