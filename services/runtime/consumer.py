"""Consumes events effectively once: inbox check and effect in one transaction, bounded retries,
then the dead-letter topic, so a poison message never blocks its partition.

A handler is `async def handler(context: HandlerContext, event: SomeEvent) -> None`. It reads and
writes through `context.connection` and emits through `context.outbox`; all of it commits
together with the inbox row, or none of it does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from opentelemetry.trace import SpanKind

from contracts import ContractError, Event, topics
from contracts.envelope import Envelope, decode, encode, unwrap
from services.runtime import telemetry
from services.runtime.db import QUERIES
from services.runtime.outbox import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    TRACEPARENT_HEADER,
    Outbox,
    OutboxRow,
    add_row,
)

log = logging.getLogger(__name__)

DEAD_LETTER_NAMESPACE = uuid.UUID("5b0b6a53-8d8e-4c38-9f0b-3f3c2f6f1d10")

# Failures that are not the message's: the database is away, or its transaction lost a
# conflict with another replica's (PostgreSQL ends a deadlock or a serialization failure by
# rolling one side back). Retrying later is right; dead-lettering would be wrong.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.TransactionRollbackError,
)


@dataclass
class HandlerContext:
    """What a handler may touch: its transaction's connection, its outbox, the message."""

    connection: asyncpg.Connection
    outbox: Outbox
    envelope: Envelope


Handler = Callable[[HandlerContext, Any], Awaitable[None]]


@dataclass
class ConsumerStats:
    """Counts for health and metrics."""

    processed: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    retries: int = 0


@dataclass
class IncomingMessage:
    """The parts of a Kafka record the consumer needs, independent of the client library."""

    value: bytes
    key: bytes | None
    headers: Mapping[str, str]
    topic: str
    partition: int
    offset: int


@dataclass
class EventConsumer:
    """Dispatches messages to the handlers registered for their event type."""

    name: str
    pool: asyncpg.Pool
    handlers: Mapping[type[Event], Handler]
    attempts_max: int
    retry_backoff_s: float
    infrastructure_retry_backoff_s: float = 1.0
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    async def handle(self, message: IncomingMessage) -> None:
        """Process one message; raises only for infrastructure failures (so it is redelivered)."""
        try:
            envelope = decode(message.value)
            event = unwrap(envelope)
        except ContractError as error:
            await self._dead_letter(message, None, error, attempts=1)
            return
        handler = self.handlers.get(type(event))
        if handler is None:
            # Topics carry several event types; this consumer has no interest in this one.
            self.stats.ignored += 1
            return
        await self._handle_with_retries(message, envelope, event, handler)

    async def _handle_with_retries(
        self, message: IncomingMessage, envelope: Envelope, event: Event, handler: Handler
    ) -> None:
        last_error: Exception | None = None
        for attempt in range(1, self.attempts_max + 1):
            try:
                await self._apply(envelope, event, handler)
                return
            except INFRASTRUCTURE_ERRORS:
                await asyncio.sleep(self.infrastructure_retry_backoff_s)
                raise
            except Exception as error:
                last_error = error
                self.stats.retries += 1
                log.warning(
                    "%s failed on %s %s (attempt %d of %d): %r",
                    self.name,
                    envelope.event_type,
                    envelope.event_id,
                    attempt,
                    self.attempts_max,
                    error,
                )
                await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
        assert last_error is not None
        await self._dead_letter(message, envelope, last_error, attempts=self.attempts_max)

    async def _apply(self, envelope: Envelope, event: Event, handler: Handler) -> None:
        # The consumer span's parent is the span that emitted the event, so the events this
        # handler emits (their traceparent is the current span's) stay in the request's trace.
        if not telemetry.tracing():
            await self._apply_in_transaction(envelope, event, handler)
            return
        with telemetry.span(
            f"{self.name} handle {envelope.event_type}",
            self.name,
            kind=SpanKind.CONSUMER,
            traceparent=envelope.traceparent,
            attributes=message_attributes(envelope, event),
        ):
            telemetry.remember_trace(envelope.event_id, envelope.traceparent)
            await self._apply_in_transaction(envelope, event, handler)

    async def _apply_in_transaction(
        self, envelope: Envelope, event: Event, handler: Handler
    ) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            if not await self._claim(
                connection, envelope.event_id, envelope.event_type, "processed"
            ):
                self.stats.duplicates += 1
                return
            outbox = Outbox(connection, self.name, causation=envelope)
            await handler(HandlerContext(connection, outbox, envelope), event)
        self.stats.processed += 1

    async def _claim(
        self, connection: asyncpg.Connection, event_id: uuid.UUID, event_type: str, outcome: str
    ) -> bool:
        """Record the message in the inbox; False when this consumer has seen it before."""
        claimed = await connection.fetchval(
            QUERIES.claim_inbox, self.name, event_id, event_type, outcome
        )
        return claimed is not None

    async def _dead_letter(
        self,
        message: IncomingMessage,
        envelope: Envelope | None,
        error: BaseException,
        *,
        attempts: int,
    ) -> None:
        """Send the original bytes to the dead-letter topic, through the outbox, exactly once."""
        # An undecodable message has no event id of its own: derive one from its bytes and place.
        event_id = envelope.event_id if envelope else _fingerprint(message)
        event_type = envelope.event_type if envelope else "undecodable"
        async with self.pool.acquire() as connection, connection.transaction():
            if not await self._claim(connection, event_id, event_type, "dead_lettered"):
                self.stats.duplicates += 1
                return
            await add_row(
                connection,
                _dead_letter_row(self.name, message, event_id, event_type, error, attempts),
            )
        self.stats.dead_lettered += 1
        telemetry.instruments().dead_letters.add(
            1, {telemetry.SERVICE_ATTRIBUTE: self.name, telemetry.EVENT_TYPE_ATTRIBUTE: event_type}
        )
        log.error("%s dead-lettered %s %s: %r", self.name, event_type, event_id, error)


async def record_unapplied(context: HandlerContext, reason: str) -> None:
    """Say loudly that the message being handled was not applied, and why: a WARNING, a count
    on the `singlepot.consumer.unapplied` metric, and a copy on the dead-letter topic with the
    reason, written in the handler's transaction. A late or out-of-order answer that no longer
    means anything is thus never dropped silently; an operator can find and replay it."""
    consumer = context.outbox.producer
    envelope = context.envelope
    telemetry.instruments().unapplied_messages.add(
        1,
        {
            telemetry.SERVICE_ATTRIBUTE: consumer,
            telemetry.EVENT_TYPE_ATTRIBUTE: envelope.event_type,
        },
    )
    log.warning(
        "%s did not apply %s %s: %s", consumer, envelope.event_type, envelope.event_id, reason
    )
    headers = {
        EVENT_ID_HEADER: str(envelope.event_id),
        EVENT_TYPE_HEADER: envelope.event_type,
        "dead_letter_consumer": consumer,
        "dead_letter_error": f"Unapplied: {reason}"[:2000],
        "dead_letter_attempts": "1",
    }
    if envelope.traceparent:
        headers[TRACEPARENT_HEADER] = envelope.traceparent
    await add_row(
        context.connection,
        OutboxRow(
            event_id=uuid.uuid5(DEAD_LETTER_NAMESPACE, f"{consumer}:{envelope.event_id}"),
            topic=topics.DEAD_LETTER,
            partition_key=unwrap(envelope).partition_key(),
            event_type=envelope.event_type,
            value=encode(envelope),
            headers=headers,
        ),
    )


def message_attributes(envelope: Envelope, event: Event) -> dict[str, str]:
    """Span attributes naming the message handled: its type, id and place."""
    return {
        telemetry.EVENT_TYPE_ATTRIBUTE: envelope.event_type,
        telemetry.EVENT_ID_ATTRIBUTE: str(envelope.event_id),
        telemetry.PLACE_ATTRIBUTE: event.place_id,
    }


def _fingerprint(message: IncomingMessage) -> uuid.UUID:
    digest = hashlib.sha256(message.value).hexdigest()
    return uuid.uuid5(DEAD_LETTER_NAMESPACE, f"{message.topic}:{digest}")


def _dead_letter_row(
    consumer: str,
    message: IncomingMessage,
    event_id: uuid.UUID,
    event_type: str,
    error: BaseException,
    attempts: int,
) -> OutboxRow:
    # The dead letter's own id differs from the original's, so that it is a new outbox row.
    dead_letter_id = uuid.uuid5(DEAD_LETTER_NAMESPACE, f"{consumer}:{event_id}")
    headers = {
        EVENT_ID_HEADER: str(event_id),
        EVENT_TYPE_HEADER: event_type,
        "dead_letter_consumer": consumer,
        "dead_letter_error": f"{error.__class__.__name__}: {error}"[:2000],
        "dead_letter_attempts": str(attempts),
        "dead_letter_source": f"{message.topic}/{message.partition}/{message.offset}",
    }
    if TRACEPARENT_HEADER in message.headers:
        headers[TRACEPARENT_HEADER] = message.headers[TRACEPARENT_HEADER]
    return OutboxRow(
        event_id=dead_letter_id,
        topic=topics.DEAD_LETTER,
        partition_key=(message.key or b"").decode(errors="replace"),
        event_type=event_type,
        value=message.value,
        headers=headers,
    )
