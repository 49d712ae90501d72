"""The allocations service's message handlers: board commands in, lifecycle events and ledger
requests out, and the ledger's answers applied to each allocation.

Every handler runs inside the runtime's transaction, together with the inbox row, so a message
takes effect at most once. The registry `HANDLERS` at the bottom maps event types to handlers.
"""

from __future__ import annotations

import logging

from contracts import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
    AllocationRejected,
    AllocationUnfunded,
    DecideAllocation,
    Event,
    ProposeAllocation,
    ReservationMade,
    ReservationRejected,
    ReservationRequested,
    SettlementRecorded,
)
from services.allocations import db, domain
from services.allocations.errors import IllegalTransition
from services.runtime.consumer import Handler, HandlerContext

log = logging.getLogger(__name__)


async def propose(context: HandlerContext, command: ProposeAllocation) -> None:
    """Record a new proposal; a repeated allocation id is never inserted twice."""
    proposal = _proposal_of(command)
    existing = await db.lock_allocation(context.connection, command.place_id, command.allocation_id)
    if existing is not None:
        _warn_if_different(existing, proposal)
        return
    await db.insert_allocation(context.connection, command.place_id, proposal)
    await context.outbox.add(AllocationProposed(**command.model_dump()))


async def decide(context: HandlerContext, command: DecideAllocation) -> None:
    """Apply the board's decision to a proposed allocation; approval asks the ledger to reserve."""
    allocation = await _load(context, command.place_id, command.allocation_id)
    if allocation is None:
        return
    try:
        status = domain.decide(allocation.status, command.decision)
    except IllegalTransition as refusal:
        # A decision repeated or arriving late changes nothing: deciding is idempotent.
        log.info("ignoring decision on %s: %s", command.allocation_id, refusal)
        return
    reason = command.reason or None
    await db.record_decision(
        context.connection,
        command.place_id,
        command.allocation_id,
        status,
        command.decided_by,
        reason,
    )
    if status == domain.APPROVED:
        await _announce_approval(context, allocation, command.decided_by)
    else:
        await context.outbox.add(
            AllocationRejected(
                place_id=command.place_id,
                allocation_id=command.allocation_id,
                reason=domain.rejection_reason(command.reason, command.decided_by),
            )
        )


async def mark_funded(context: HandlerContext, result: ReservationMade) -> None:
    """The ledger reserved the money: the allocation is funded."""
    allocation = await _load(context, result.place_id, result.allocation_id)
    if allocation is None or not await _move(context, allocation, domain.fund, None):
        return
    await context.outbox.add(
        AllocationFunded(
            place_id=result.place_id,
            allocation_id=result.allocation_id,
            amount_pence=result.amount_pence,
        )
    )


async def mark_unfunded(context: HandlerContext, result: ReservationRejected) -> None:
    """The ledger could not reserve the money: the allocation is unfunded, with its reason."""
    allocation = await _load(context, result.place_id, result.allocation_id)
    if allocation is None or not await _move(
        context, allocation, domain.leave_unfunded, result.reason
    ):
        return
    await context.outbox.add(
        AllocationUnfunded(
            place_id=result.place_id,
            allocation_id=result.allocation_id,
            reason=result.reason,
        )
    )


async def record_settlement(context: HandlerContext, result: SettlementRecorded) -> None:
    """Add a settlement's total to its stream's share of the place's pot."""
    await db.add_settled(
        context.connection,
        result.place_id,
        result.department_code,
        result.funding_stream_code,
        result.total_pence,
    )


async def _load(
    context: HandlerContext, place_id: str, allocation_id: str
) -> domain.Allocation | None:
    allocation = await db.lock_allocation(context.connection, place_id, allocation_id)
    if allocation is None:
        # No rejection event exists for this yet; the warning is the only trace.
        log.warning(
            "no allocation %s in %s; message %s ignored",
            allocation_id,
            place_id,
            context.envelope.event_id,
        )
    return allocation


async def _move(
    context: HandlerContext,
    allocation: domain.Allocation,
    rule: domain.StatusRule,
    reason: str | None,
) -> bool:
    """Apply `rule` and save the new status; False (and nothing saved) if the move is illegal."""
    try:
        status = rule(allocation.status)
    except IllegalTransition as refusal:
        # A ledger answer delivered twice, or after a later change, is ignored.
        log.info("ignoring ledger result for %s: %s", allocation.proposal.allocation_id, refusal)
        return False
    await db.set_status(
        context.connection, allocation.place_id, allocation.proposal.allocation_id, status, reason
    )
    return True


async def _announce_approval(
    context: HandlerContext, allocation: domain.Allocation, decided_by: str
) -> None:
    proposal = allocation.proposal
    await context.outbox.add(
        AllocationApproved(
            place_id=allocation.place_id,
            allocation_id=proposal.allocation_id,
            allocation_type=proposal.allocation_type,
            recipient_id=proposal.recipient_id,
            value_pence=proposal.value_pence,
            financial_year=proposal.financial_year,
            decided_by=decided_by,
        )
    )
    await context.outbox.add(
        ReservationRequested(
            place_id=allocation.place_id,
            allocation_id=proposal.allocation_id,
            financial_year=proposal.financial_year,
            amount_pence=proposal.value_pence,
            purpose=proposal.purpose,
        )
    )


def _warn_if_different(existing: domain.Allocation, incoming: domain.Proposal) -> None:
    differences = domain.differing_fields(existing.proposal, incoming)
    if differences:
        # Refused: the id is the idempotency key, so a different body under it is a client
        # error. There is no rejection event for this yet, so the proposal is simply skipped.
        log.warning(
            "refused proposal %s in %s: it reuses the id with a different %s",
            incoming.allocation_id,
            existing.place_id,
            ", ".join(differences),
        )


def _proposal_of(command: ProposeAllocation) -> domain.Proposal:
    return domain.Proposal(
        allocation_id=command.allocation_id,
        allocation_type=command.allocation_type,
        recipient_id=command.recipient_id,
        purpose=command.purpose,
        mission_id=command.mission_id,
        start_date=command.start_date,
        end_date=command.end_date,
        value_pence=command.value_pence,
        financial_year=command.financial_year,
        proposed_by=command.proposed_by,
    )


HANDLERS: dict[type[Event], Handler] = {
    ProposeAllocation: propose,
    DecideAllocation: decide,
    ReservationMade: mark_funded,
    ReservationRejected: mark_unfunded,
    SettlementRecorded: record_settlement,
}
