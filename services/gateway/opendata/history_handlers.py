"""The open-data room's handlers, run beside the read models' in the same transaction:
investor flows kept for the exports, and an OCDS release kept whenever an event changes what
OCDS says about an outcomes contract (award, contract, milestones, payments, recoveries,
investors, termination). The release is dated by the event (`occurred_at`), so a rebuild's
replay finds the releases it already kept.

A release holds the whole process (every payment so far), so keeping one costs as much as the
process is long; kept once per event, or even once per fetch, the projector's work grew with
the square of a contract's payments (bench/NOTES.md). In the projector's batch path
(`releases_once_per_batch`) a fetch therefore marks each process it changed as waiting for its
release, with the fetch's last event of it, and keeps the release only when it is due: a
process's first, or one whose last release was kept `interval` ago (the setting
`SINGLEPOT_OPENDATA_RELEASE_INTERVAL_S`). A change no later fetch releases is kept by the
projector's periodic task (`pending_releases.py`) once due, or by a request for the place's
releases at once, so the latest release shows every change. Each release is dated and caused by
the last event it shows, and reads only its own process's rows. The one-message path keeps one
per event as before.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from contracts import (
    AllocationApproved,
    AllocationCancelled,
    AllocationExpired,
    AllocationFunded,
    AllocationUnfunded,
    AllocationVaried,
    Event,
    EvidenceRejected,
    EvidenceSubmitted,
    EvidenceVerified,
    OutcomesContractRegistered,
    PaymentMade,
    RecoveryRecorded,
    ReservationReleased,
)
from contracts.envelope import Envelope
from contracts.outcomes import (
    ClawbackSettled,
    EvidenceHeld,
    EvidenceSampled,
    InvestorFlowRecorded,
    RemittanceAdvised,
    VerificationRuleApplied,
)
from services.gateway.opendata import db, history_db
from services.gateway.opendata.history_db import WaitingRelease
from services.gateway.opendata.publishing import InvestorFlow
from services.runtime.batch_consumer import BatchHandler
from services.runtime.consumer import Handler, HandlerContext

CHANGES_A_PROCESS: tuple[type[Event], ...] = (
    AllocationApproved,
    AllocationFunded,
    AllocationVaried,
    AllocationCancelled,
    AllocationExpired,
    AllocationUnfunded,
    ReservationReleased,
    OutcomesContractRegistered,
    EvidenceSubmitted,
    EvidenceSampled,
    EvidenceHeld,
    EvidenceVerified,
    EvidenceRejected,
    VerificationRuleApplied,
    RemittanceAdvised,
    PaymentMade,
    RecoveryRecorded,
    ClawbackSettled,
    InvestorFlowRecorded,
)


async def keep_release(context: HandlerContext, event: Event) -> None:
    """After the read model took the event: keep a release if the process it names changed
    (or, inside a batch, note the process for the batch's one release of it)."""
    place_id = getattr(event, "place_id", None)
    if place_id is None:
        return
    named = _ProcessNamed(
        place_id,
        getattr(event, "allocation_id", None),
        getattr(event, "contract_id", None),
        getattr(event, "payment_id", None),
    )
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.note(named, context.envelope.occurred_at, context.envelope.event_id)
        return
    await _keep(context.connection, named, context.envelope.occurred_at, context.envelope.event_id)


@dataclass(frozen=True)
class _ProcessNamed:
    """How an event names its contracting process: by allocation, else by contract or payment."""

    place_id: str
    allocation_id: str | None
    contract_id: str | None
    payment_id: str | None

    @property
    def key(self) -> tuple[str, str | None, str | None, str | None]:
        if self.allocation_id is not None:
            return (self.place_id, self.allocation_id, None, None)
        if self.contract_id is not None:
            return (self.place_id, None, self.contract_id, None)
        return (self.place_id, None, None, self.payment_id)


async def _keep(
    connection: asyncpg.Connection, named: _ProcessNamed, moment: datetime, caused_by: UUID
) -> None:
    """Keep the release of the process `named`, if it is an outcomes contract that changed."""
    allocation_id = await _allocation_of(connection, named)
    if allocation_id is None:
        return  # grants are 360Giving's: no OCDS release
    await history_db.keep_process_release(
        connection, named.place_id, allocation_id, moment, caused_by
    )


async def _allocation_of(connection: asyncpg.Connection, named: _ProcessNamed) -> str | None:
    """The outcomes contract's allocation the event names; None for a grant or an unknown one."""
    allocation_id = named.allocation_id or await history_db.allocation_named_by(
        connection, named.place_id, named.contract_id, named.payment_id
    )
    if allocation_id is None or not await history_db.is_outcomes_contract(
        connection, named.place_id, allocation_id
    ):
        return None
    return allocation_id


@dataclass
class _DeferredReleases:
    """The processes a batch's events changed, each with its last event (moment and id)."""

    last: dict[
        tuple[str, str | None, str | None, str | None], tuple[_ProcessNamed, datetime, UUID]
    ] = field(default_factory=dict)

    def note(self, named: _ProcessNamed, moment: datetime, event_id: UUID) -> None:
        self.last.pop(named.key, None)  # re-inserted: the order of last changes is kept
        self.last[named.key] = (named, moment, event_id)

    async def keep(self, connection: asyncpg.Connection, interval: timedelta) -> None:
        """Mark each changed outcomes contract's process as waiting for its release, and keep
        the releases that are due (the next one of each due `interval` later)."""
        changes = await self._changed_processes(connection)
        if not changes:
            return
        now = datetime.now(UTC)
        for change in await history_db.mark_waiting(connection, changes, now):
            await history_db.keep_waiting(connection, change, now + interval)

    async def _changed_processes(self, connection: asyncpg.Connection) -> list[WaitingRelease]:
        """Each changed outcomes contract's process, with the fetch's last event of it."""
        by_allocation: dict[tuple[str, str], tuple[datetime, UUID]] = {}
        for named, moment, event_id in self.last.values():
            allocation_id = await _allocation_of(connection, named)
            if allocation_id is not None:
                by_allocation.pop((named.place_id, allocation_id), None)
                by_allocation[(named.place_id, allocation_id)] = (moment, event_id)
        return [
            WaitingRelease(place_id, allocation_id, moment, event_id)
            for (place_id, allocation_id), (moment, event_id) in by_allocation.items()
        ]


_DEFERRED: contextvars.ContextVar[_DeferredReleases | None] = contextvars.ContextVar(
    "opendata_deferred_releases", default=None
)


def releases_once_per_batch(handler: BatchHandler, interval: timedelta) -> BatchHandler:
    """The projector's batch handler, marking each changed process as waiting for its release
    and keeping those due (at most one per process per `interval`), after the batch's
    handlers, in the batch's transaction (see the module's docstring)."""

    async def handle(
        connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        deferred = _DeferredReleases()
        token = _DEFERRED.set(deferred)
        try:
            await handler(connection, messages)
        finally:
            _DEFERRED.reset(token)
        await deferred.keep(connection, interval)

    return handle


async def on_investor_flow(context: HandlerContext, event: InvestorFlowRecorded) -> None:
    """A social impact bond's investor flow, kept for INDIGO's investments and OCDS's parties."""
    flow = InvestorFlow(
        event.flow_id,
        event.contract_id,
        event.investor_id,
        event.flow_kind,
        event.amount_pence,
        event.occurred_on,
    )
    await db.record_investor_flow(context.connection, event.place_id, flow)


async def on_payment_made(context: HandlerContext, event: PaymentMade) -> None:
    """A payment's split by outcome payer, as the ledger booked it."""
    shares = [(s.payer_id, s.amount_pence) for s in event.payer_shares]
    if shares:
        await db.record_payer_shares(
            context.connection,
            event.place_id,
            event.payment_id,
            event.payment_id,
            None,
            shares,
            context.envelope.occurred_at,
        )


async def on_recovery_recorded(context: HandlerContext, event: RecoveryRecorded) -> None:
    """A recovery's split by outcome payer, as the ledger booked it: negative shares."""
    shares = [(s.payer_id, -s.amount_pence) for s in event.payer_shares]
    if shares:
        await db.record_payer_shares(
            context.connection,
            event.place_id,
            f"recovery:{event.recovery_id}",
            event.payment_id,
            event.financial_year,
            shares,
            context.envelope.occurred_at,
        )


OWN_HANDLERS: dict[type[Event], Handler] = {
    InvestorFlowRecorded: on_investor_flow,
    PaymentMade: on_payment_made,
    RecoveryRecorded: on_recovery_recorded,
}


def alongside(handlers: dict[type[Event], Handler]) -> dict[type[Event], Handler]:
    """The read models' handlers, each followed by this room's own (investor flows, payers'
    shares) and, for an event that changes a contracting process, the release it keeps."""

    def chained(kind: type[Event]) -> Handler:
        steps = [handlers.get(kind), OWN_HANDLERS.get(kind)]
        if kind in CHANGES_A_PROCESS:
            steps.append(keep_release)
        present = [step for step in steps if step is not None]

        async def handle(context: HandlerContext, event: Event) -> None:
            for step in present:
                await step(context, event)

        handle.__name__ = getattr(present[0], "__name__", "handle")
        return handle

    combined = dict(handlers)
    for kind in {*OWN_HANDLERS, *CHANGES_A_PROCESS}:
        combined[kind] = chained(kind)
    return combined
