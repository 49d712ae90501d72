"""The allocations service's message handlers: board commands in, lifecycle events and ledger
requests out, and the ledger's answers applied to each allocation.

Every handler runs inside the runtime's transaction, together with the inbox row, so a message
takes effect at most once. A command that breaks a rule is undone to a savepoint and answered
with a public CommandRefused event naming the rule and the numbers. The registry `HANDLERS` at
the bottom maps event types to handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
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
    AllocationProposed,
    BoardConfigured,
    CancelAllocation,
    CastVote,
    ClaimResponded,
    CloseVote,
    CommandRefused,
    ConfigureBoard,
    DecisionRulesSet,
    DeclareInterest,
    EarmarkSet,
    InterestDeclared,
    LocalReformPlanAdopted,
    LodgeClaim,
    PayGrantClaim,
    ProcessDueWork,
    ProposeVariation,
    RecordGrantReporting,
    RespondToClaim,
    SetDecisionRules,
    SetEarmark,
    SignOffAllocation,
    VariationProposed,
    VoteRecorded,
)
from contracts.ledger import (
    PaymentMade,
    PaymentRejected,
    RecoveryRecorded,
    RequestRejected,
    ReservationMade,
    ReservationRejected,
    ReservationReleased,
    ReservationReleaseRequested,
)
from services.allocations import db, domain, holds
from services.allocations.errors import IllegalTransition, Refused
from services.runtime.consumer import Handler, HandlerContext, record_unapplied

log = logging.getLogger(__name__)

SUBJECT_FIELDS = (
    "variation_id",
    "allocation_id",
    "claim_id",
    "plan_id",
    "earmark_id",
    "interest_id",
    "board_version",
    "rules_version",
    "as_of",
)


def refusable(handler: Callable[[HandlerContext, Any], Awaitable[None]]) -> Handler:
    """Run a command handler in a savepoint; a Refused rule undoes it and is published."""

    async def run(context: HandlerContext, command: Event) -> None:
        try:
            async with context.connection.transaction():
                await handler(context, command)
        except Refused as refusal:
            await context.outbox.add(
                CommandRefused(
                    place_id=command.place_id,
                    command_type=command.event_type,
                    subject_id=_subject(command),
                    rule=refusal.rule,
                    reason=str(refusal),
                    figures=refusal.figures,
                )
            )

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _subject(command: Event) -> str:
    for name in SUBJECT_FIELDS:
        value = getattr(command, name, None)
        if value is not None:
            return str(value)
    return command.place_id


async def _place(context: HandlerContext, place_id: str) -> domain.Place:
    await db.lock_place(context.connection, place_id)
    return await db.load_place(context.connection, place_id)


async def _allocation(
    context: HandlerContext, place_id: str, allocation_id: str
) -> domain.Allocation:
    allocation = await db.lock_allocation(context.connection, place_id, allocation_id)
    if allocation is None:
        raise Refused("allocation_exists", f"no allocation {allocation_id} in {place_id}")
    return allocation


async def _save(context: HandlerContext, change: domain.Change) -> None:
    await db.save_allocation(context.connection, change.allocation)
    for event in change.events:
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


# --- The place: board, rules, interests, plans, earmarks --------------------------------------


@refusable
async def configure_board(context: HandlerContext, command: ConfigureBoard) -> None:
    """Record the next version of the board."""
    place = await _place(context, command.place_id)
    board = domain.Board(
        version=command.board_version,
        chair_id=command.chair_id,
        chair_role=command.chair_role,
        accounting_officer_id=command.accounting_officer_id,
        members=tuple(domain.Member(m.member_id, m.seat, m.voting) for m in command.members),
    )
    current = place.board.version if place.board else None
    if domain.next_version(current, board.version, "board", board == place.board):
        await db.insert_board(context.connection, command.place_id, board)
        await context.outbox.add(BoardConfigured(**command.model_dump()))


@refusable
async def set_rules(context: HandlerContext, command: SetDecisionRules) -> None:
    """Record the next version of the decision rules."""
    place = await _place(context, command.place_id)
    rules = domain.Rules(
        version=command.rules_version,
        quorum_members=command.quorum_members,
        majority=command.majority,
        sign_off_threshold_pence=command.sign_off_threshold_pence,
        proposer_ids=command.proposer_ids,
        proposer_seats=command.proposer_seats,
        claim_response_days=command.claim_response_days,
    )
    if domain.next_version(place.rules.version, rules.version, "rules", rules == place.rules):
        await db.insert_rules(context.connection, command.place_id, rules)
        await context.outbox.add(DecisionRulesSet(**command.model_dump()))


@refusable
async def declare_interest(context: HandlerContext, command: DeclareInterest) -> None:
    """Record a member's interest: they are recused from what it concerns."""
    place = await _place(context, command.place_id)
    domain.check_interest(place.board, place.place_id, command.member_id)
    interest = domain.Interest(
        command.interest_id,
        command.member_id,
        command.recipient_id,
        command.allocation_id,
        command.description,
    )
    existing = await db.find_interest(context.connection, command.place_id, command.interest_id)
    if existing == interest:
        return
    if existing is not None:
        raise Refused("interest_id_unique", f"interest {command.interest_id} exists already")
    await db.insert_interest(context.connection, command.place_id, interest)
    await context.outbox.add(InterestDeclared(**command.model_dump()))


@refusable
async def adopt_plan(context: HandlerContext, command: AdoptLocalReformPlan) -> None:
    """Adopt a Local Reform Plan; its missions are what allocations may name."""
    place = await _place(context, command.place_id)
    document = command.model_dump_json()
    existing = await db.find_plan(context.connection, command.place_id, command.plan_id)
    if existing is not None:
        if AdoptLocalReformPlan.model_validate_json(existing) == command:
            return
        raise Refused("plan_id_unique", f"plan {command.plan_id} was adopted with other terms")
    mission_ids = [mission.mission_id for mission in command.missions]
    domain.check_missions_new(place.mission_ids, mission_ids, command.plan_id)
    await db.insert_plan(
        context.connection, command.place_id, command.plan_id, document, mission_ids
    )
    await context.outbox.add(LocalReformPlanAdopted(**command.model_dump()))


@refusable
async def set_earmark(context: HandlerContext, command: SetEarmark) -> None:
    """Set (or replace) an earmark of the place's pot."""
    await _place(context, command.place_id)
    earmark = domain.Earmark(
        command.earmark_id,
        command.kind,
        command.purpose_tag,
        command.minimum_share_basis_points,
        command.department_code,
        command.funding_stream_code,
        command.reason,
    )
    await db.upsert_earmark(context.connection, command.place_id, earmark)
    await context.outbox.add(EarmarkSet(**command.model_dump()))


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


@refusable
async def propose(context: HandlerContext, command: ProposeAllocation) -> None:
    """Record a new proposal; a repeated allocation id with another body is refused."""
    place = await _place(context, command.place_id)
    existing = await db.lock_allocation(context.connection, command.place_id, command.allocation_id)
    year = await db.year_book(context.connection, command.place_id, command.financial_year)
    allocation = domain.propose(place, existing, _proposal_of(command), year)
    if allocation is not None:
        await db.save_allocation(context.connection, allocation)
        await context.outbox.add(AllocationProposed(**command.model_dump()))


@refusable
async def cast_vote(context: HandlerContext, command: CastVote) -> None:
    """Record a member's vote with the rules version in force; recused members are refused."""
    place = await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    is_open, subject = await _open_for_votes(context, allocation, command.variation_id)
    connection = context.connection
    interests = await db.interests_in(
        connection, place.place_id, allocation.allocation_id, allocation.proposal.recipient_id
    )
    previous = await db.find_vote(
        connection, place.place_id, command.allocation_id, command.variation_id, command.member_id
    )
    vote = domain.check_vote(
        place,
        interests,
        subject,
        is_open,
        allocation.allocation_id,
        allocation.proposal.recipient_id,
        command.member_id,
        previous,
        command.vote,
        command.reason,
    )
    if vote is None:
        return
    await db.insert_vote(
        connection, place.place_id, command.allocation_id, command.variation_id, vote
    )
    await context.outbox.add(
        VoteRecorded(
            place_id=command.place_id,
            allocation_id=command.allocation_id,
            variation_id=command.variation_id,
            member_id=command.member_id,
            vote=command.vote,
            rules_version=vote.rules_version,
            reason=vote.reason,
        )
    )


@refusable
async def close_vote(context: HandlerContext, command: CloseVote) -> None:
    """Count the votes under the rules in force and apply the decision."""
    place = await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    is_open, subject = await _open_for_votes(context, allocation, command.variation_id)
    if not is_open:
        raise Refused("vote_open", f"{subject} is not open for votes")
    connection = context.connection
    recipient_id = allocation.proposal.recipient_id
    interests = await db.interests_in(
        connection, place.place_id, allocation.allocation_id, recipient_id
    )
    votes = await db.votes_on(
        connection, place.place_id, command.allocation_id, command.variation_id
    )
    result = domain.tally(place, interests, subject, allocation.allocation_id, recipient_id, votes)
    await _apply_decision(
        context, place, allocation, command.variation_id, result, command.closed_by
    )


@refusable
async def decide(context: HandlerContext, command: DecideAllocation) -> None:
    """A decision without recorded votes, for a place with no board configured."""
    place = await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    is_open, subject = await _open_for_votes(context, allocation, command.variation_id)
    if not is_open:
        # A decision repeated or arriving late changes nothing: deciding is idempotent.
        log.info("ignoring decision on %s: it is no longer open", subject)
        return
    result = domain.resolution(place, command.decided_by, command.decision, command.reason)
    await _apply_decision(
        context, place, allocation, command.variation_id, result, command.decided_by
    )


async def _open_for_votes(
    context: HandlerContext, allocation: domain.Allocation, variation_id: str | None
) -> tuple[bool, str]:
    if variation_id is None:
        return allocation.status == domain.PROPOSED, f"allocation {allocation.allocation_id}"
    variation = await _variation(context, allocation, variation_id)
    is_open = variation.status == domain.VARIATION_PROPOSED and not variation.awaiting_sign_off
    return is_open, f"variation {variation_id} of allocation {allocation.allocation_id}"


async def _variation(
    context: HandlerContext, allocation: domain.Allocation, variation_id: str
) -> domain.Variation:
    variation = await db.lock_variation(context.connection, allocation.place_id, variation_id)
    if variation is None or variation.allocation_id != allocation.allocation_id:
        raise Refused(
            "variation_exists",
            f"no variation {variation_id} of allocation {allocation.allocation_id}",
        )
    return variation


async def _apply_decision(
    context: HandlerContext,
    place: domain.Place,
    allocation: domain.Allocation,
    variation_id: str | None,
    result: domain.Tally,
    decided_by: str,
) -> None:
    connection = context.connection
    year = await db.year_book(connection, place.place_id, allocation.proposal.financial_year)
    await context.outbox.add(
        domain.decision_event(place, allocation.allocation_id, variation_id, result)
    )
    if variation_id is None:
        await _save(context, domain.decide(place, allocation, year, result, decided_by))
        return
    variation = await _variation(context, allocation, variation_id)
    varied, change = domain.decide_variation(place, allocation, variation, year, result)
    await db.save_variation(connection, place.place_id, varied)
    await _save(context, change)


@refusable
async def sign_off(context: HandlerContext, command: SignOffAllocation) -> None:
    """The accounting officer signs off (the ledger is asked to reserve) or refuses."""
    place = await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    if command.variation_id is None:
        change = domain.sign_off(
            place, allocation, command.accounting_officer_id, command.decision, command.reasons
        )
        await _save(context, change)
        return
    variation = await _variation(context, allocation, command.variation_id)
    varied, change = domain.sign_off_variation(
        place,
        allocation,
        variation,
        command.accounting_officer_id,
        command.decision,
        command.reasons,
    )
    await db.save_variation(context.connection, place.place_id, varied)
    await _save(context, change)


# --- Variations and endings -------------------------------------------------------------------


@refusable
async def propose_variation(context: HandlerContext, command: ProposeVariation) -> None:
    """Record a proposed variation; it is then decided like the allocation was."""
    place = await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    variation = domain.Variation(
        variation_id=command.variation_id,
        allocation_id=command.allocation_id,
        change=command.change,
        reason=command.reason,
        proposed_by=command.proposed_by,
        proposed_on=command.proposed_on,
        new_value_pence=command.new_value_pence,
        new_end_date=command.new_end_date,
        new_purpose=command.new_purpose,
        new_purpose_tags=command.new_purpose_tags,
    )
    existing = await db.lock_variation(context.connection, command.place_id, command.variation_id)
    if existing is not None:
        if existing.same_request(variation):
            return
        raise Refused(
            "variation_id_unique", f"variation {command.variation_id} exists with other terms"
        )
    year = await db.year_book(
        context.connection, command.place_id, allocation.proposal.financial_year
    )
    domain.check_variation(place, allocation, variation, year)
    await db.save_variation(context.connection, command.place_id, variation)
    await context.outbox.add(VariationProposed(**command.model_dump()))


@refusable
async def cancel(context: HandlerContext, command: CancelAllocation) -> None:
    """Cancel an allocation and release its unspent reservation."""
    await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    await _save(context, domain.cancel(allocation, f"{command.reason} (by {command.cancelled_by})"))


@refusable
async def process_due_work(context: HandlerContext, command: ProcessDueWork) -> None:
    """Everything due by a date: grant instalments, expiries (releasing the rest), overdue
    claims. State records what was done, so the same date again changes nothing more."""
    await _place(context, command.place_id)
    connection = context.connection
    for allocation in await db.lock_due_allocations(connection, command.place_id, command.as_of):
        await _due_work_with_holds(context, allocation, command.as_of)
    for claim in await db.lock_overdue_claims(connection, command.place_id, command.as_of):
        overdue = domain.claim_overdue(claim, command.place_id, command.as_of)
        if overdue is not None:
            await db.save_claim(connection, command.place_id, _flagged(claim))
            await context.outbox.add(overdue)


async def _due_work_with_holds(
    context: HandlerContext, allocation: domain.Allocation, as_of: date
) -> None:
    """One allocation's due work, with instalments that reports hold left unrequested."""
    place_id, allocation_id = allocation.place_id, allocation.allocation_id
    reporting = await db.lock_grant_reporting(context.connection, place_id, allocation_id)
    change, new_reporting = holds.due_work_with_holds(allocation, reporting, as_of)
    if new_reporting != reporting:
        await db.save_grant_reporting(context.connection, place_id, allocation_id, new_reporting)
    if change.events:
        await _save(context, change)


# --- Grant monitoring (issue 21): reports hold instalments; claims pay grants in arrears -----


@refusable
async def record_grant_reporting(context: HandlerContext, command: RecordGrantReporting) -> None:
    """The monitoring room's state of a grant's reports: release what they no longer hold."""
    await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    connection = context.connection
    reporting = await db.lock_grant_reporting(connection, command.place_id, command.allocation_id)
    new = holds.Reporting(
        reports=tuple(
            holds.ReportDue(r.report_number, r.due_date, r.status) for r in command.reports
        ),
        paid_in_arrears=command.paid_in_arrears,
        payments_blocked=command.payments_blocked,
    )
    change, saved = holds.reporting_recorded(allocation, reporting, new, command.as_of)
    await db.save_grant_reporting(connection, command.place_id, command.allocation_id, saved)
    if change.events:
        await _save(context, change)


@refusable
async def pay_grant_claim(context: HandlerContext, command: PayGrantClaim) -> None:
    """An approved claim is paid from the reservation, never beyond what remains of it."""
    await _place(context, command.place_id)
    allocation = await _allocation(context, command.place_id, command.allocation_id)
    connection = context.connection
    reporting = await db.lock_grant_reporting(connection, command.place_id, command.allocation_id)
    claim_payments = [
        holds.claim_payment_id(command.allocation_id, claim_id)
        for claim_id, _ in reporting.claims_requested
    ]
    paid = await db.paid_pence_of_payments(connection, command.place_id, claim_payments)
    decided = holds.pay_claim(allocation, reporting, command.claim_id, command.amount_pence, paid)
    if decided is None:
        return
    change, saved = decided
    await db.save_grant_reporting(connection, command.place_id, command.allocation_id, saved)
    await _save(context, change)


def _flagged(claim: domain.Claim) -> domain.Claim:
    return replace(claim, overdue_flagged=True)


# --- Right to Serve / Right to Request --------------------------------------------------------


@refusable
async def lodge_claim(context: HandlerContext, command: LodgeClaim) -> None:
    """Record a claim with the date the board must answer by."""
    place = await _place(context, command.place_id)
    claim = domain.Claim(
        claim_id=command.claim_id,
        claim_kind=command.claim_kind,
        claimant_id=command.claimant_id,
        claimant_kind=command.claimant_kind,
        service_description=command.service_description,
        lodged_on=command.lodged_on,
        response_due_on=domain.response_due(place.rules, command.lodged_on),
    )
    existing = await db.lock_claim(context.connection, command.place_id, command.claim_id)
    lodged = domain.lodge_claim(place, existing, claim)
    if lodged is not None:
        await db.save_claim(context.connection, command.place_id, claim)
        await context.outbox.add(lodged)


@refusable
async def respond_to_claim(context: HandlerContext, command: RespondToClaim) -> None:
    """Publish the board's reasoned response, noting whether it came late."""
    await _place(context, command.place_id)
    existing = await db.lock_claim(context.connection, command.place_id, command.claim_id)
    claim = domain.check_claim_answerable(command.place_id, existing, command.claim_id)
    answered, late = domain.claim_response(claim, command.responded_on)
    await db.save_claim(context.connection, command.place_id, answered)
    await context.outbox.add(
        ClaimResponded(**command.model_dump(), response_due_on=claim.response_due_on, late=late)
    )


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
    """A refused instalment is unpaid, with the ledger's reason."""
    await _ledger_result(
        context,
        result.place_id,
        result.allocation_id,
        lambda allocation: domain.payment_rejected(allocation, result.payment_id, result.reason),
    )


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


async def request_rejected(context: HandlerContext, result: RequestRejected) -> None:
    """A release the ledger refused: the money is still reserved (see domain.release_refused)."""
    if result.request_event_type != ReservationReleaseRequested.event_type:
        return
    try:
        request_event_id = UUID(result.request_id)
    except ValueError:
        return
    found = await db.find_release_request(context.connection, result.place_id, request_event_id)
    if found is None:
        log.info("refusal of release %s, not ours, ignored", result.request_id)
        return
    allocation_id, amount_pence = found
    await _ledger_result(
        context,
        result.place_id,
        allocation_id,
        lambda allocation: domain.release_refused(allocation, amount_pence, result.reason),
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
        instalments=command.instalments,
        purpose_tags=command.purpose_tags,
        citizen_involvement=command.citizen_involvement,
        funding_streams=command.funding_streams,
        excluded_funding_streams=command.excluded_funding_streams,
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
    SettlementRecorded: record_settlement,
    ReservationMade: reservation_made,
    ReservationRejected: reservation_rejected,
    ReservationReleased: reservation_released,
    PaymentMade: payment_made,
    PaymentRejected: payment_rejected,
    RecoveryRecorded: recovery_recorded,
    RequestRejected: request_rejected,
}
