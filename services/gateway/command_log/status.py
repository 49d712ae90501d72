"""What became of each command a person sent: the rules that move it from accepted to done or
refused as the services' results and refusals arrive, the handler wrapper that records that
beside every read-model change, and `GET /api/v1/commands/{command_id}` (with `?wait=`).

A service wraps what it decides with the command's envelope as causation, so every event of a
command's saga carries the command's id as its correlation id; a sign-off's reservation by the
ledger is correlated to the sign-off. Only commands in the command log (sent by people through
the gateway) are tracked; the services' own work is not.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Path, Query

from contracts import (
    AllocationApproved,
    AllocationUnfunded,
    Event,
    ReservationMade,
    ReservationReleased,
    SpendRecorded,
)
from contracts.allocations import AllocationSignedOff
from contracts.envelope import Envelope
from contracts.refusals import REFUSAL_EVENTS, refusal_of
from services.gateway import problems
from services.gateway.command_log import db
from services.gateway.command_table import COMMAND_ROUTES
from services.gateway.domain import Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute
from services.gateway.problems import ProblemError
from services.runtime.batch_consumer import BatchHandler
from services.runtime.consumer import Handler, HandlerContext

JsonObject = dict[str, Any]

ACCEPTED, DONE, REFUSED = "accepted", "done", "refused"
WAITING_FOR_LEDGER = "the ledger to reserve the money"

# The ids an event may carry that name what a command made, in the order a reader wants them.
MADE_FIELDS = (
    "allocation_id",
    "variation_id",
    "transfer_id",
    "settlement_id",
    "receipt_id",
    "virement_id",
    "contract_id",
    "batch_id",
    "payment_id",
    "claim_id",
    "plan_id",
    "earmark_id",
    "interest_id",
    "financial_year",
)

# Events that are steps inside another service's work rather than a command's answer: they are
# consumed from another topic than the answer, so they could overtake it, and they add nothing
# the answer does not say. A reservation is answered by AllocationFunded, or refused by the
# ledger's ReservationRejected (with its figures), which AllocationUnfunded only repeats.
NOT_AN_ANSWER: frozenset[type[Event]] = frozenset(
    {ReservationMade, ReservationReleased, SpendRecorded, AllocationUnfunded}
)

ROUTE_OF_COMMAND = {route.command.event_type: route for route in COMMAND_ROUTES}
COMMAND_ID = Path(description="The id a 202 answered with (its body's command_id).")


@dataclass(frozen=True)
class Progress:
    """A command's state after one of its events: accepted (maybe waiting), done or refused."""

    status: str
    waiting_for: str | None = None
    made: dict[str, str] = field(default_factory=dict)
    refusal: JsonObject | None = None


def made_by(event: Event) -> dict[str, str]:
    """The ids of what the event says was made or changed, by name."""
    made = {}
    for name in MADE_FIELDS:
        value = getattr(event, name, None)
        if isinstance(value, str):
            made[name] = value
    return made


def progress_of(envelope: Envelope, event: Event) -> Progress | None:
    """The command's state after this event of its saga, or None when the event says nothing
    about it. An approval the ledger must still fund keeps the command waiting for it."""
    if type(event) in NOT_AN_ANSWER:
        return None
    refusal = refusal_of(envelope, event)
    if refusal is not None:
        return Progress(REFUSED, refusal=refusal.model_dump(mode="json"))
    made = made_by(event)
    if isinstance(event, AllocationApproved) and not event.sign_off_required:
        return Progress(ACCEPTED, WAITING_FOR_LEDGER, made)
    if isinstance(event, AllocationSignedOff) and event.variation_id is None:
        return Progress(ACCEPTED, WAITING_FOR_LEDGER, made)
    return Progress(DONE, made=made)


async def record_progress(context: HandlerContext, event: Event) -> None:
    """Record what the event means for the command it answers, in the handler's transaction
    (inside `progress_once_per_batch`, noted for the batch's one statement instead)."""
    envelope = context.envelope
    progress = progress_of(envelope, event)
    if progress is None:
        return
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.append(
            (envelope.correlation_id, progress, envelope.event_type, envelope.occurred_at)
        )
        return
    await db.record_command_progress(
        context.connection,
        envelope.correlation_id,
        status=progress.status,
        waiting_for=progress.waiting_for,
        made=progress.made,
        refusal=progress.refusal,
        event_type=envelope.event_type,
        at=envelope.occurred_at,
    )


# A command's progress as one event left it: (command id, progress, event type, when).
ProgressEntry = tuple[uuid.UUID, Progress, str, datetime]

_DEFERRED: contextvars.ContextVar[list[ProgressEntry] | None] = contextvars.ContextVar(
    "command_progress_deferred", default=None
)


def fold_progress(
    entries: Sequence[ProgressEntry],
) -> list[tuple[uuid.UUID, str, str | None, JsonObject, JsonObject | None, str, datetime]]:
    """One entry per command that leaves its row as recording `entries` one at a time would:
    a refusal is final (what comes after it is dropped), what each made accumulates, and the
    rest is the last recorded event's. (A row already refused ignores the entry, as it would
    each of them.)"""
    folded: dict[uuid.UUID, tuple[Progress, str, datetime, JsonObject]] = {}
    for command_id, progress, event_type, at in entries:
        earlier = folded.get(command_id)
        if earlier is not None and earlier[0].status == REFUSED:
            continue
        made = {**(earlier[3] if earlier else {}), **progress.made}
        folded[command_id] = (progress, event_type, at, made)
    return [
        (command_id, progress.status, progress.waiting_for, made, progress.refusal, event_type, at)
        for command_id, (progress, event_type, at, made) in folded.items()
    ]


def progress_once_per_batch(handler: BatchHandler) -> BatchHandler:
    """The projector's batch handler, recording the fetch's command progress in one statement
    after its handlers, in its transaction, rather than one statement per event (which was half
    the projector's time in the end-to-end benchmark: bench/NOTES.md). No handler of the
    projector reads command status, so deferring the writes to the batch's end changes
    nothing they see."""

    async def handle(
        connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        deferred: list[ProgressEntry] = []
        token = _DEFERRED.set(deferred)
        try:
            await handler(connection, messages)
        finally:
            _DEFERRED.reset(token)
        await db.record_commands_progress(connection, fold_progress(deferred))

    return handle


def tracked(handlers: dict[type[Event], Handler]) -> dict[type[Event], Handler]:
    """The handlers, each also recording command progress, plus one for every refusal event
    the read models do not otherwise handle."""

    def with_progress(handler: Handler | None) -> Handler:
        async def handle(context: HandlerContext, event: Event) -> None:
            if handler is not None:
                await handler(context, event)
            await record_progress(context, event)

        if handler is not None:
            handle.__name__ = handler.__name__
            handle.__doc__ = handler.__doc__
        return handle

    every_type = list(handlers) + [kind for kind in REFUSAL_EVENTS if kind not in handlers]
    return {kind: with_progress(handlers.get(kind)) for kind in every_type}


# --- Reading a command's status over HTTP -----------------------------------------------------


def location(command_id: uuid.UUID | str) -> str:
    """Where a command's status is read: the `Location` of every 202."""
    return f"/api/v1/commands/{command_id}"


def links(place_id: str, made: dict[str, str]) -> dict[str, str]:
    """Where to read what the command made, for the ids the gateway serves views of."""
    place = f"/api/v1/places/{place_id}"
    found = {}
    if "allocation_id" in made:
        found["allocations"] = f"{place}/allocations"
    if "contract_id" in made:
        found["evidence"] = f"{place}/outcomes-contracts/{made['contract_id']}/evidence"
    if {"transfer_id", "settlement_id", "receipt_id", "virement_id"} & set(made):
        found["pot"] = f"{place}/pot"
    if "financial_year" in made:
        found["statements"] = f"{place}/statements"
    return found


def status_body(row: JsonObject) -> JsonObject:
    """The command's status as the API answers it."""
    body: JsonObject = {
        "command_id": str(row["command_id"]),
        "command_type": row["command_type"],
        "place_id": row["place_id"],
        "status": row["status"],
        "accepted_at": row["accepted_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat() if row["updated_at"] else None,
    }
    if row["waiting_for"]:
        body["waiting_for"] = row["waiting_for"]
    if row["status"] == DONE or row["made"]:
        body["made"] = row["made"]
        body["links"] = links(row["place_id"], row["made"])
    if row["refusal"] is not None:
        body["refusal"] = row["refusal"]
    return body


def may_read(principal: Principal, row: JsonObject) -> bool:
    """The sender may read a command's status, and so may whoever may send such a command for
    the whole place (not a subject-bound role: one provider never reads another's)."""
    if row["principal_id"] == principal.principal_id:
        return True
    route = ROUTE_OF_COMMAND.get(row["command_type"])
    return route is not None and principal.sees_everything(route.permission, row["place_id"])


def not_found(command_id: uuid.UUID) -> ProblemError:
    # The same answer for a command that does not exist and one the caller may not read, so a
    # command's existence does not leak.
    return ProblemError(
        404,
        "not-found",
        f"no command {command_id} that you may read",
        errors=[problems.field_problem("command_id", "exists", "no such command for you")],
    )


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1",
        tags=["commands"],
        responses=problems.openapi_responses(401, 404, 422),
        route_class=GuardedRoute,
    )
    settings = gateway.settings

    @router.get("/commands/{command_id}")
    async def command_status(
        command_id: uuid.UUID = COMMAND_ID,
        wait: float = Query(
            0,
            ge=0,
            le=settings.gateway_command_wait_max_s,
            description="Seconds to hold the request while the command is still accepted.",
        ),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """A command's status: accepted, done (with what it made) or refused (with the rule,
        the reason and the figures); its sender's, or for whoever may send it for the place."""
        row = await _visible(gateway, principal, command_id)
        deadline = time.monotonic() + wait
        first = (row["status"], row["updated_at"])
        while row["status"] == ACCEPTED and time.monotonic() < deadline:
            await asyncio.sleep(settings.gateway_command_wait_poll_interval_s)
            row = await _visible(gateway, principal, command_id)
            if (row["status"], row["updated_at"]) != first:
                break
        return status_body(row)

    return router


async def _visible(gateway: Gateway, principal: Principal, command_id: uuid.UUID) -> JsonObject:
    async with gateway.pool.acquire() as connection:
        row = await db.command_status(connection, command_id)
    if row is None or not may_read(principal, row):
        raise not_found(command_id)
    return row
