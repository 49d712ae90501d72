"""Runs a service's one-message handlers over a partition's batch in one transaction.

A service that handles message by message pays, for every message, a transaction, an inbox
row, one INSERT per emitted event and an offset commit, each a round trip; on two shared cores
every round trip is also a context switch. `handle_in_one_transaction` keeps the handlers as
they are (each still loads, decides and saves) but runs a whole fetch of one partition in the
caller's transaction: the inbox is claimed for every message in one statement, a message seen
before (in an earlier batch or earlier in this one) is skipped, and the events all handlers
emit are written to the outbox in one statement, in the order they were emitted. The handlers
run in message order on one connection, so each sees what the ones before it wrote, exactly as
if each had committed on its own.

A handler that raises fails the whole batch; `BatchConsumer` then replays the batch one
message at a time through the ordinary `EventConsumer`, which retries and dead-letters the
message at fault while the rest flow on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from uuid import UUID

import asyncpg

from contracts import Event
from contracts.envelope import Envelope, wrap
from services.runtime import telemetry
from services.runtime.consumer import Handler, HandlerContext, message_attributes
from services.runtime.db import QUERIES
from services.runtime.outbox import Outbox, OutboxRow, row_for


class BufferedOutbox(Outbox):
    """An outbox whose rows wait in a shared list until the batch writes them all at once."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        producer: str,
        causation: Envelope,
        rows: list[OutboxRow],
    ) -> None:
        super().__init__(connection, producer, causation=causation)
        self.rows = rows

    async def add(self, event: Event, *, event_id: UUID | None = None) -> Envelope:
        """Wrap `event` as `Outbox.add` does, and keep its row for the batch's one INSERT."""
        envelope = wrap(
            event,
            producer=self.producer,
            event_id=event_id,
            causation=self.causation,
            traceparent=self.traceparent or telemetry.current_traceparent(),
        )
        self.rows.append(row_for(envelope, event))
        self.emitted.append(envelope)
        return envelope

    async def _queue(self, row: OutboxRow) -> None:
        self.rows.append(row)


async def handle_in_one_transaction(
    consumer: str,
    handlers: Mapping[type[Event], Handler],
    connection: asyncpg.Connection,
    messages: Sequence[tuple[Envelope, Event]],
    finish: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Handle `messages` in order inside the caller's transaction; returns how many were new.
    Messages of types without a handler are skipped, as `EventConsumer` skips them. `finish`
    runs after the handlers and before the outbox rows are written: a service's work done once
    per fetch rather than once per message (outcomes' funnel and monitors)."""
    wanted = [(envelope, event) for envelope, event in messages if type(event) in handlers]
    fresh = await claim_inbox(connection, consumer, [envelope for envelope, _ in wanted])
    rows: list[OutboxRow] = []
    handled = 0
    for envelope, event in wanted:
        if envelope.event_id not in fresh:
            continue
        handler = handlers[type(event)]
        fresh.discard(envelope.event_id)  # the same id again later in this batch is a duplicate
        outbox = BufferedOutbox(connection, consumer, envelope, rows)
        # The handler's span is current while it runs, so the events it emits stay in the
        # trace of the message that caused them, as with one message per transaction.
        with telemetry.span(
            f"{consumer} handle {envelope.event_type}",
            consumer,
            traceparent=envelope.traceparent,
            attributes=message_attributes(envelope, event),
        ):
            await handler(HandlerContext(connection, outbox, envelope), event)
        handled += 1
    if finish is not None:
        await finish()
    await write_outbox_rows(connection, rows)
    return handled


async def claim_inbox(
    connection: asyncpg.Connection, consumer: str, envelopes: Sequence[Envelope]
) -> set[UUID]:
    """Record every message in the inbox in one statement; the ids this consumer had not seen."""
    first_of_each: dict[UUID, str] = {}
    for envelope in envelopes:
        first_of_each.setdefault(envelope.event_id, envelope.event_type)
    if not first_of_each:
        return set()
    rows = await connection.fetch(
        QUERIES.claim_inbox_batch, consumer, list(first_of_each), list(first_of_each.values())
    )
    return {row["event_id"] for row in rows}


async def write_outbox_rows(connection: asyncpg.Connection, rows: Sequence[OutboxRow]) -> None:
    """Insert rows in one statement, in order; an event id already in the outbox is left alone."""
    if not rows:
        return
    await connection.execute(
        QUERIES.insert_outbox_rows,
        [row.event_id for row in rows],
        [row.topic for row in rows],
        [row.partition_key for row in rows],
        [row.event_type for row in rows],
        [row.value for row in rows],
        [json.dumps(dict(row.headers)) for row in rows],
    )
