"""The open-data room's handlers, run beside the read models' in the same transaction:
investor flows kept for the exports, and an OCDS release kept whenever an event changes what
OCDS says about an outcomes contract (award, contract, milestones, payments, recoveries,
investors, termination). The release is dated by the event (`occurred_at`), so a rebuild's
replay finds the releases it already kept."""

from __future__ import annotations

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
from contracts.outcomes import (
    ClawbackSettled,
    EvidenceHeld,
    EvidenceSampled,
    InvestorFlowRecorded,
    RemittanceAdvised,
    VerificationRuleApplied,
)
from services.gateway.opendata import db, history_db
from services.gateway.opendata.publishing import InvestorFlow
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
    """After the read model took the event: keep a release if the process it names changed."""
    place_id = getattr(event, "place_id", None)
    if place_id is None:
        return
    allocation_id = getattr(event, "allocation_id", None) or await history_db.allocation_named_by(
        context.connection,
        place_id,
        getattr(event, "contract_id", None),
        getattr(event, "payment_id", None),
    )
    if allocation_id is None or not await history_db.is_outcomes_contract(
        context.connection, place_id, allocation_id
    ):
        return  # grants are 360Giving's: no OCDS release
    data = await db.read_place_data(context.connection, place_id)
    await history_db.keep_releases(
        context.connection,
        data,
        [allocation_id],
        context.envelope.occurred_at,
        context.envelope.event_id,
    )


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
