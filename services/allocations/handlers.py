"""The allocations service's message handlers: board commands in, lifecycle events and ledger
requests out, and the ledger's answers applied to each allocation.

Every handler runs inside the runtime's transaction, together with the inbox row, so a message
takes effect at most once. A command handler loads the state it needs, asks the domain to
decide (`domain.decide_*`), then saves the decided state and publishes its events, or publishes
the refusal as a `CommandRefused` naming the rule and the numbers; nothing else is written then.
The registry `HANDLERS` at the bottom maps event types to handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from contracts import (
    DecideAllocation,
    Event,
    ProposeAllocation,
    SettlementRecorded,
)
from contracts.allocations import (
    AdoptLocalReformPlan,
    CancelAllocation,
    CastVote,
    CloseVote,
    ConfigureBoard,
    DeclareInterest,
    LodgeClaim,
    PayGrantClaim,
    ProcessDueWork,
    ProposeVariation,
    RecordGrantReporting,
    RespondToClaim,
    SetDecisionRules,
    SetEarmark,
    SettleParticipatoryRound,
    SignOffAllocation,
)
from contracts.decisions import CommandRefused, Decision
from contracts.ledger import (
    PaymentMade,
    PaymentRejected,
    RecoveryRecorded,
    ReservationMade,
    ReservationRejected,
    ReservationReleased,
    ReservationReleaseRequested,
    ReservationTransferred,
    ReservationTransferRequested,
)
from services.allocations import db, domain, holds, rounds
from services.allocations.errors import IllegalTransition
from services.runtime.consumer import Handler, HandlerContext, record_unapplied

log = logging.getLogger(__name__)


async def _publish(context: HandlerContext, command: Event, decision: Decision[Any]) -> None:
    """Publish what was decided: its events, or the refusal in the one refusal shape."""
    if decision.refusal is not None:
        refusal = decision.refusal
        await context.outbox.add(
            CommandRefused(
                place_id=command.place_id,
                decided_by="allocations",
                command_type=command.event_type,
                subject_id=domain.subject_of(command),
                rule=refusal.rule,
                reason=refusal.reason,
                figures=dict(refusal.figures),
            )
        )
        return
    await _publish_events(context, decision.events)


async def _publish_events(context: HandlerContext, events: Sequence[Event]) -> None:
    for event in events:
        envelope = await context.outbox.add(event)
        if isinstance(event, ReservationReleaseRequested):
            # The ledger's refusal of a release names only this event id.
            await db.record_release_request(
                context.connection,
                event.place_id,
                envelope.event_id,
                event.allocation_id,
                event.amount_pence,
            )
        elif isinstance(event, ReservationTransferRequested):
            # Likewise a move's refusal: kept under the winner it was to fund.
            await db.record_release_request(
                context.connection,
                event.place_id,
                envelope.event_id,
                event.to_allocation_id,
                event.amount_pence,
            )


async def _save(context: HandlerContext, change: domain.Change) -> None:
    await db.save_allocation(context.connection, change.allocation)
    await _publish_events(context, change.events)


async def _save_changed(context: HandlerContext, changed: domain.Changed | None) -> None:
    if changed is None:
        return
    if changed.variation is not None:
        await db.save_variation(context.connection, changed.allocation.place_id, changed.variation)
    await db.save_allocation(context.connection, changed.allocation)


async def _place(context: HandlerContext, place_id: str) -> domain.Place:
    await db.lock_place(context.connection, place_id)
    return await db.load_place(context.connection, place_id)


async def _allocation_and_variation(
    context: HandlerContext, place_id: str, allocation_id: str, variation_id: str | None
) -> tuple[domain.Allocation | None, domain.Variation | None]:
    """The allocation a command names (locked), and its variation when it names one."""
    allocation = await db.lock_allocation(context.connection, place_id, allocation_id)
    if allocation is None or variation_id is None:
        return allocation, None
    return allocation, await db.lock_variation(context.connection, place_id, variation_id)


async def _interests(
    context: HandlerContext, place_id: str, allocation: domain.Allocation | None
) -> list[domain.Interest]:
    if allocation is None:
        return []
    return await db.interests_in(
        context.connection, place_id, allocation.allocation_id, allocation.proposal.recipient_id
    )


async def _year(
    context: HandlerContext, place_id: str, allocation: domain.Allocation | None
) -> domain.YearBook:
    """The year book of the allocation's financial year (an empty one for no allocation)."""
    if allocation is None:
        return domain.YearBook("", (), ())
    return await db.year_book(context.connection, place_id, allocation.proposal.financial_year)


# --- The place: board, rules, interests, plans, earmarks --------------------------------------


async def configure_board(context: HandlerContext, command: ConfigureBoard) -> None:
    """Record the next version of the board."""
    place = await _place(context, command.place_id)
    decision = domain.decide_board(place, command)
    if decision.state is not None:
        await db.insert_board(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


async def set_rules(context: HandlerContext, command: SetDecisionRules) -> None:
    """Record the next version of the decision rules."""
    place = await _place(context, command.place_id)
    decision = domain.decide_rules(place, command)
    if decision.state is not None:
        await db.insert_rules(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


async def declare_interest(context: HandlerContext, command: DeclareInterest) -> None:
    """Record a member's interest: they are recused from what it concerns."""
    place = await _place(context, command.place_id)
    existing = await db.find_interest(context.connection, command.place_id, command.interest_id)
    decision = domain.decide_interest(place, existing, command)
    if decision.state is not None:
        await db.insert_interest(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


async def adopt_plan(context: HandlerContext, command: AdoptLocalReformPlan) -> None:
    """Adopt a Local Reform Plan; its missions are what allocations may name."""
    place = await _place(context, command.place_id)
    existing = await db.find_plan(context.connection, command.place_id, command.plan_id)
    decision = domain.decide_plan(place, existing, command)
    if (plan := decision.state) is not None:
        await db.insert_plan(
            context.connection,
            command.place_id,
            plan.plan_id,
            plan.document,
            list(plan.mission_ids),
        )
    await _publish(context, command, decision)


async def set_earmark(context: HandlerContext, command: SetEarmark) -> None:
    """Set (or replace) an earmark of the place's pot."""
    await _place(context, command.place_id)
    decision = domain.decide_earmark(command)
    if decision.state is not None:
        await db.upsert_earmark(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


async def record_settlement(context: HandlerContext, result: SettlementRecorded) -> None:
    """Add each year of a settlement to its stream's share of the place's pot."""
    for year in result.profile:
        await db.add_settled(
            context.connection,
            result.place_id,
            year.financial_year,
            result.department_code,
            result.funding_stream_code,
            year.amount_pence,
        )


# --- Proposals, votes, decisions, sign-off ----------------------------------------------------


async def propose(context: HandlerContext, command: ProposeAllocation) -> None:
    """Record a new proposal; a repeated allocation id with another body is refused."""
    place = await _place(context, command.place_id)
    existing = await db.lock_allocation(context.connection, command.place_id, command.allocation_id)
    year = await db.year_book(context.connection, command.place_id, command.financial_year)
    decision = domain.decide_proposal(place, existing, year, command)
    if decision.state is not None:
        await db.save_allocation(context.connection, decision.state)
    await _publish(context, command, decision)


async def cast_vote(context: HandlerContext, command: CastVote) -> None:
    """Record a member's vote with the rules version in force; recused members are refused."""
    place_id = command.place_id
    place = await _place(context, place_id)
    allocation, variation = await _allocation_and_variation(
        context, place_id, command.allocation_id, command.variation_id
    )
    interests = await _interests(context, place_id, allocation)
    previous = await db.find_vote(
        context.connection, place_id, command.allocation_id, command.variation_id, command.member_id
    )
    decision = domain.decide_vote(place, allocation, variation, interests, previous, command)
    if decision.state is not None:
        await db.insert_vote(
            context.connection,
            place_id,
            command.allocation_id,
            command.variation_id,
            decision.state,
        )
    await _publish(context, command, decision)


async def close_vote(context: HandlerContext, command: CloseVote) -> None:
    """Count the votes under the rules in force and apply the decision."""
    place_id = command.place_id
    place = await _place(context, place_id)
    allocation, variation = await _allocation_and_variation(
        context, place_id, command.allocation_id, command.variation_id
    )
    interests = await _interests(context, place_id, allocation)
    votes = await db.votes_on(
        context.connection, place_id, command.allocation_id, command.variation_id
    )
    year = await _year(context, place_id, allocation)
    decision = domain.decide_close_vote(
        place, allocation, variation, interests, votes, year, command
    )
    await _save_changed(context, decision.state)
    await _publish(context, command, decision)


async def decide(context: HandlerContext, command: DecideAllocation) -> None:
    """A decision without recorded votes, for a place with no board configured."""
    place = await _place(context, command.place_id)
    allocation, variation = await _allocation_and_variation(
        context, command.place_id, command.allocation_id, command.variation_id
    )
    year = await _year(context, command.place_id, allocation)
    decision = domain.decide_resolution(place, allocation, variation, year, command)
    await _save_changed(context, decision.state)
    await _publish(context, command, decision)


async def sign_off(context: HandlerContext, command: SignOffAllocation) -> None:
    """The accounting officer signs off (the ledger is asked to reserve) or refuses."""
    place = await _place(context, command.place_id)
    allocation, variation = await _allocation_and_variation(
        context, command.place_id, command.allocation_id, command.variation_id
    )
    decision = domain.decide_sign_off(place, allocation, variation, command)
    await _save_changed(context, decision.state)
    await _publish(context, command, decision)


# --- Variations and endings -------------------------------------------------------------------


async def propose_variation(context: HandlerContext, command: ProposeVariation) -> None:
    """Record a proposed variation; it is then decided like the allocation was."""
    place = await _place(context, command.place_id)
    allocation = await db.lock_allocation(
        context.connection, command.place_id, command.allocation_id
    )
    existing = await db.lock_variation(context.connection, command.place_id, command.variation_id)
    year = await _year(context, command.place_id, allocation)
    decision = domain.decide_variation_proposal(place, allocation, existing, year, command)
    if decision.state is not None:
        await db.save_variation(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


async def cancel(context: HandlerContext, command: CancelAllocation) -> None:
    """Cancel an allocation and release its unspent reservation."""
    await _place(context, command.place_id)
    allocation = await db.lock_allocation(
        context.connection, command.place_id, command.allocation_id
    )
    decision = domain.decide_cancel(allocation, command)
    await _save_changed(context, decision.state)
    await _publish(context, command, decision)


async def process_due_work(context: HandlerContext, command: ProcessDueWork) -> None:
    """Everything due by a date: grant instalments (those a report holds left unrequested),
    expiries, overdue claims."""
    await _place(context, command.place_id)
    connection = context.connection
    place_id = command.place_id
    allocations = await db.lock_due_allocations(connection, place_id, command.as_of)
    reportings = {
        allocation.allocation_id: await db.lock_grant_reporting(
            connection, place_id, allocation.allocation_id
        )
        for allocation in allocations
    }
    claims = await db.lock_overdue_claims(connection, place_id, command.as_of)
    decision = holds.decide_due_work(allocations, reportings, claims, command)
    if (done := decision.state) is not None:
        for allocation in done.due.allocations:
            await db.save_allocation(connection, allocation)
        for claim in done.due.claims:
            await db.save_claim(connection, place_id, claim)
        for allocation_id, reporting in done.reportings:
            await db.save_grant_reporting(connection, place_id, allocation_id, reporting)
    await _publish(context, command, decision)


# --- Grant monitoring (issue 21): reports hold instalments; claims pay grants in arrears -----


async def record_grant_reporting(context: HandlerContext, command: RecordGrantReporting) -> None:
    """The monitoring room's state of a grant's reports: release what they no longer hold."""
    await _place(context, command.place_id)
    place_id, allocation_id = command.place_id, command.allocation_id
    allocation = await db.lock_allocation(context.connection, place_id, allocation_id)
    reporting = await db.lock_grant_reporting(context.connection, place_id, allocation_id)
    decision = holds.decide_reporting_recorded(allocation, reporting, command)
    await _save_reporting(context, command, decision)


async def pay_grant_claim(context: HandlerContext, command: PayGrantClaim) -> None:
    """An approved claim is paid from the reservation, never beyond what remains of it."""
    await _place(context, command.place_id)
    place_id, allocation_id = command.place_id, command.allocation_id
    connection = context.connection
    allocation = await db.lock_allocation(connection, place_id, allocation_id)
    reporting = await db.lock_grant_reporting(connection, place_id, allocation_id)
    claim_payments = [
        holds.claim_payment_id(allocation_id, claim_id)
        for claim_id, _ in reporting.claims_requested
    ]
    paid = await db.paid_pence_of_payments(connection, place_id, claim_payments)
    decision = holds.decide_pay_claim(allocation, reporting, command, paid)
    await _save_reporting(context, command, decision)


async def _save_reporting(
    context: HandlerContext,
    command: RecordGrantReporting | PayGrantClaim,
    decision: Decision[tuple[domain.Allocation, holds.Reporting]],
) -> None:
    if (decided := decision.state) is not None:
        allocation, reporting = decided
        await db.save_grant_reporting(
            context.connection, command.place_id, command.allocation_id, reporting
        )
        await db.save_allocation(context.connection, allocation)
    await _publish(context, command, decision)


# --- Participatory budgeting rounds (issue 18) -------------------------------------------------


async def settle_round(context: HandlerContext, command: SettleParticipatoryRound) -> None:
    """A counted round: winners funded by moves from its reservation, the rest released."""
    await _place(context, command.place_id)
    connection, place_id = context.connection, command.place_id
    round_allocation = await db.lock_allocation(connection, place_id, command.allocation_id)
    existing = {
        winner.allocation_id: await db.lock_allocation(connection, place_id, winner.allocation_id)
        for winner in command.winners
    }
    decision = rounds.decide_settle_round(round_allocation, existing, command)
    if (settled := decision.state) is not None:
        round_after, winners = settled
        for winner in winners:
            await db.save_allocation(connection, winner)
        await db.save_allocation(connection, round_after)
    await _publish(context, command, decision)


# --- Right to Serve / Right to Request --------------------------------------------------------


async def lodge_claim(context: HandlerContext, command: LodgeClaim) -> None:
    """Record a claim with the date the board must answer by."""
    place = await _place(context, command.place_id)
    existing = await db.lock_claim(context.connection, command.place_id, command.claim_id)
    decision = domain.decide_claim(place, existing, command)
    if decision.state is not None:
        await db.save_claim(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


async def respond_to_claim(context: HandlerContext, command: RespondToClaim) -> None:
    """Publish the board's reasoned response, noting whether it came late."""
    await _place(context, command.place_id)
    existing = await db.lock_claim(context.connection, command.place_id, command.claim_id)
    decision = domain.decide_claim_response(existing, command)
    if decision.state is not None:
        await db.save_claim(context.connection, command.place_id, decision.state)
    await _publish(context, command, decision)


# --- The ledger's answers ---------------------------------------------------------------------


async def _ledger_result(
    context: HandlerContext,
    place_id: str,
    allocation_id: str,
    rule: Callable[[domain.Allocation], domain.Change],
    *,
    must_change: bool = False,
) -> None:
    """Apply a ledger answer to its allocation; one it cannot take is recorded, not dropped.
    `must_change`: an answer that changes nothing (nothing was waiting for it) is unapplied."""
    allocation = await db.lock_allocation(context.connection, place_id, allocation_id)
    if allocation is None:
        # Every reservation is asked for by this service: an answer about an allocation it
        # does not know is worth an operator's look, never a silent drop.
        await record_unapplied(context, f"no allocation {allocation_id} in {place_id}")
        return
    try:
        change = rule(allocation)
    except IllegalTransition as refusal:
        # A late or out-of-order answer the allocation can no longer take.
        await record_unapplied(context, f"allocation {allocation_id}: {refusal}")
        return
    if must_change and change.allocation == allocation and not change.events:
        await record_unapplied(
            context,
            f"allocation {allocation_id} is {allocation.status} and awaits no such answer",
        )
        return
    await _save(context, change)


async def reservation_made(context: HandlerContext, result: ReservationMade) -> None:
    """The ledger reserved money: the allocation is funded (or a variation's rise is)."""
    await _ledger_result(
        context,
        result.place_id,
        result.allocation_id,
        lambda allocation: domain.reservation_made(allocation, result.amount_pence),
    )


async def reservation_rejected(context: HandlerContext, result: ReservationRejected) -> None:
    """The ledger refused: the allocation is unfunded with its reason (or a rise is undone)."""
    await _ledger_result(
        context,
        result.place_id,
        result.allocation_id,
        lambda allocation: domain.reservation_rejected(allocation, result.reason),
        must_change=True,
    )


async def reservation_released(context: HandlerContext, result: ReservationReleased) -> None:
    """The ledger released money back to the pot."""
    await _ledger_result(
        context,
        result.place_id,
        result.allocation_id,
        lambda allocation: domain.Change(
            domain.release_released(allocation, result.amount_pence), ()
        ),
    )


async def payment_made(context: HandlerContext, result: PaymentMade) -> None:
    """Any payment from an allocation's reservation is spent money (and maybe an instalment)."""
    recorded = await db.record_payment(
        context.connection,
        result.place_id,
        result.payment_id,
        result.allocation_id,
        result.amount_pence,
    )
    if not recorded:
        return
    await _ledger_result(
        context,
        result.place_id,
        result.allocation_id,
        lambda allocation: domain.payment_made(allocation, result.payment_id, result.amount_pence),
    )


async def payment_rejected(context: HandlerContext, result: PaymentRejected) -> None:
    """A refused instalment is unpaid, with the ledger's reason: retried by a later due-work
    run or reported as unpayable, as `domain.payment_rejected` decides. A refused claim payment
    no longer counts against what remains of the grant's reservation."""
    await _ledger_result(
        context,
        result.place_id,
        result.allocation_id,
        lambda allocation: domain.payment_rejected(
            allocation, result.payment_id, result.reason, result.rule
        ),
    )
    place_id, allocation_id = result.place_id, result.allocation_id
    reporting = await db.lock_grant_reporting(context.connection, place_id, allocation_id)
    refused = holds.claim_payment_refused(reporting, allocation_id, result.payment_id)
    if refused is not None:
        await db.save_grant_reporting(context.connection, place_id, allocation_id, refused)


async def recovery_recorded(context: HandlerContext, result: RecoveryRecorded) -> None:
    """Clawed-back money returns to its allocation's reservation."""
    allocation_id = await db.allocation_of_payment(
        context.connection, result.place_id, result.payment_id
    )
    if allocation_id is None:
        log.info("recovery %s of an unknown payment ignored", result.recovery_id)
        return
    await _ledger_result(
        context,
        result.place_id,
        allocation_id,
        lambda allocation: domain.recovery_recorded(allocation, result.amount_pence),
    )


async def reservation_transferred(context: HandlerContext, result: ReservationTransferred) -> None:
    """The ledger moved a winner's money from its round: the round has released it (it was
    counted so when the move was asked for) and the winner is funded."""
    amount_pence = result.amount_pence
    await _ledger_result(
        context,
        result.place_id,
        result.from_allocation_id,
        lambda allocation: domain.Change(domain.release_released(allocation, amount_pence), ()),
    )
    await _ledger_result(
        context,
        result.place_id,
        result.to_allocation_id,
        lambda allocation: domain.reservation_made(allocation, amount_pence),
    )


async def transfer_rejected(
    context: HandlerContext, result: CommandRefused, request_event_id: UUID
) -> None:
    """A move the ledger refused: the winner is unfunded with the ledger's reason, and the
    money still in the round (which has ended) is released to the pot."""
    found = await db.find_release_request(context.connection, result.place_id, request_event_id)
    if found is None:
        log.info("refusal of reservation transfer %s, not ours, ignored", result.subject_id)
        return
    winner_id, amount_pence = found
    winner = await db.lock_allocation(context.connection, result.place_id, winner_id)
    round_id = winner.proposal.proposed_by if winner is not None else None
    await _ledger_result(
        context,
        result.place_id,
        winner_id,
        lambda allocation: domain.reservation_rejected(allocation, result.reason),
    )
    if round_id is not None:
        await _ledger_result(
            context,
            result.place_id,
            round_id,
            lambda allocation: rounds.move_refused(allocation, amount_pence),
        )


async def request_rejected(context: HandlerContext, result: CommandRefused) -> None:
    """A release the ledger refused: the money is still reserved (see domain.release_refused);
    a move of reservation it refused unfunds the winner (see transfer_rejected)."""
    if result.decided_by != "ledger":
        return
    try:
        request_event_id = UUID(result.subject_id)
    except ValueError:
        return
    if result.command_type == ReservationTransferRequested.event_type:
        await transfer_rejected(context, result, request_event_id)
        return
    if result.command_type != ReservationReleaseRequested.event_type:
        return
    found = await db.find_release_request(context.connection, result.place_id, request_event_id)
    if found is None:
        log.info("refusal of release %s, not ours, ignored", result.subject_id)
        return
    allocation_id, amount_pence = found
    await _ledger_result(
        context,
        result.place_id,
        allocation_id,
        lambda allocation: domain.release_refused(allocation, amount_pence, result.reason),
    )


HANDLERS: dict[type[Event], Handler] = {
    ConfigureBoard: configure_board,
    SetDecisionRules: set_rules,
    DeclareInterest: declare_interest,
    AdoptLocalReformPlan: adopt_plan,
    SetEarmark: set_earmark,
    ProposeAllocation: propose,
    CastVote: cast_vote,
    CloseVote: close_vote,
    DecideAllocation: decide,
    SignOffAllocation: sign_off,
    ProposeVariation: propose_variation,
    CancelAllocation: cancel,
    LodgeClaim: lodge_claim,
    RespondToClaim: respond_to_claim,
    ProcessDueWork: process_due_work,
    RecordGrantReporting: record_grant_reporting,
    PayGrantClaim: pay_grant_claim,
    SettleParticipatoryRound: settle_round,
    SettlementRecorded: record_settlement,
    ReservationMade: reservation_made,
    ReservationRejected: reservation_rejected,
    ReservationReleased: reservation_released,
    PaymentMade: payment_made,
    PaymentRejected: payment_rejected,
    RecoveryRecorded: recovery_recorded,
    CommandRefused: request_rejected,
    ReservationTransferred: reservation_transferred,
}
