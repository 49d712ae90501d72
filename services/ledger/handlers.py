"""The ledger's message handling: a batch of requests is judged and posted in one transaction.

load the books the batch touches (locking each place's chain head) → `domain.decide` each
request in order → save transfers, balances, answers and outbox rows together → commit. A
request id seen before gets its original answer again; the same id with another body is
refused with `CommandRefused` and kept in `conflicting_requests` for review.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from uuid import UUID, uuid5

import asyncpg
from opentelemetry.trace import Span

from contracts import Event
from contracts.envelope import Envelope, caused_by, wrap
from services.ledger import db, domain
from services.runtime import telemetry
from services.runtime.batch_consumer import BatchConsumer
from services.runtime.consumer import Handler
from services.runtime.outbox import OutboxRow, add_row, answer_row, payload_answer_row, row_for

log = logging.getLogger(__name__)

SERVICE_NAME = "ledger"


async def handle_batch(
    connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
) -> None:
    """Judge and post a batch of requests; the caller holds the transaction."""
    books = await db.load_books(
        connection, [(envelope.event_id, request) for envelope, request in messages]
    )
    decided: list[tuple[domain.Decision, Event]] = []
    outbox_rows: list[OutboxRow] = []
    to_republish: list[UUID] = []
    # When the batch's answers were made: one instant for all of them, encoded once.
    answered_at = datetime.now(UTC)
    for envelope, request in messages:
        with _deciding(envelope, request) as current:
            decision = domain.decide(books[request.place_id], envelope.event_id, request)
            if current is not None:
                current.set_attribute("singlepot.transfers", len(decision.transfers))
            if decision.replay_of is not None:
                to_republish += decision.replay_of.answer_event_ids
            elif decision.conflict:
                await _refuse_conflict(connection, envelope, request, decision)
            else:
                decided.append((decision, request))
                traceparent = telemetry.current_traceparent()
                outbox_rows += _answer_rows(envelope, decision, traceparent, answered_at)
    # A transfer's effective date is the day its request says the money event happened.
    effective_dates = {
        envelope.event_id: envelope.occurred_at.astimezone(UTC).date() for envelope, _ in messages
    }
    await db.save_books(connection, books.values(), decided, outbox_rows, effective_dates)
    # Counted where the money moves, not where events are published: a republished outbox
    # would count again. Once per place and kind of answer, not once per answer.
    moved = Counter(
        (request.place_id, answer.event_type)
        for decision, request in decided
        for answer in decision.answers
    )
    for (place_id, event_type), count in moved.items():
        telemetry.count_money_moved(place_id, event_type, count)
    if to_republish:
        await db.republish(connection, to_republish)


_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


def _deciding(envelope: Envelope, request: Event) -> AbstractContextManager[Span | None]:
    """The span a request is decided in; none, and nothing built for it, when tracing is off
    (a profile showed the span's machinery per request even then)."""
    if not telemetry.tracing():
        return _NO_SPAN
    attributes = {"singlepot.place_id": request.place_id, "singlepot.request": request.event_type}
    return telemetry.span(
        "ledger decide", SERVICE_NAME, traceparent=envelope.traceparent, attributes=attributes
    )


def _answer_rows(
    envelope: Envelope,
    decision: domain.Decision,
    traceparent: str | None,
    answered_at: datetime,
) -> list[OutboxRow]:
    """The answer's outbox rows; their trace continues from the span that decided them."""
    traceparent = traceparent or envelope.traceparent
    shared = caused_by(
        envelope, producer=SERVICE_NAME, traceparent=traceparent, occurred_at=answered_at
    )
    rows = []
    ids = zip(decision.answer_ids(), decision.answer_id_texts(), strict=True)
    for (event_id, event_id_text), answer in zip(ids, decision.answers, strict=True):
        if isinstance(answer, domain.Payload):
            row = payload_answer_row(
                answer.event_class,
                answer.payload,
                partition_key=answer.partition_key(),
                event_id=event_id,
                shared=shared,
                traceparent=traceparent,
                event_id_text=event_id_text,
            )
        else:
            row = answer_row(
                answer,
                producer=SERVICE_NAME,
                event_id=event_id,
                causation=envelope,
                traceparent=traceparent,
                occurred_at=answered_at,
            )
        rows.append(row)
    return rows


async def _refuse_conflict(
    connection: asyncpg.Connection,
    envelope: Envelope,
    request: Event,
    decision: domain.Decision,
) -> None:
    body_hash = domain.request_body_hash(request)
    log.warning(
        "ledger refused %s %s: its event id was already used for a different request",
        request.event_type,
        envelope.event_id,
    )
    await db.save_conflict(connection, envelope.event_id, body_hash, request)
    [refusal] = decision.events
    refusal_id = uuid5(envelope.event_id, f"conflict/{body_hash}")
    answer = wrap(refusal, producer=SERVICE_NAME, event_id=refusal_id, causation=envelope)
    await add_row(connection, row_for(answer, refusal))


_one_at_a_time = BatchConsumer.single_message_adapter(handle_batch)

HANDLERS: dict[type[Event], Handler] = {
    request_type: _one_at_a_time for request_type in domain.OPERATIONS
}
"""The request types the ledger takes; each is handled by `handle_batch`, alone when a batch
has to be replayed one by one."""
