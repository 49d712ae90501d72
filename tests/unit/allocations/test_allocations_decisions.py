"""The allocations domain's decisions, one per command: pure (no database), each returning the
state to save and the events, or a refusal naming the rule with a sentence."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from contracts.allocations import (
    AllocationApproved,
    AllocationCancelled,
    BoardConfigured,
    BoardDecisionRecorded,
    CancelAllocation,
    CastVote,
    ClaimOverdue,
    ClaimResponded,
    CloseVote,
    ConfigureBoard,
    InstalmentRetried,
    InstalmentUnpaid,
    InstalmentUnpayable,
    LodgeClaim,
    ProcessDueWork,
    RespondToClaim,
    VoteRecorded,
)
from contracts.ledger import PaymentRequested, ReservationReleaseRequested, ReservationRequested
from services.allocations import domain
from tests.unit.allocations.test_allocations_domain import (
    BOARD,
    a_place,
    a_year,
    funded,
    funded_grant,
    interest,
    proposed,
    votes,
)


def configure(version: int) -> ConfigureBoard:
    return ConfigureBoard(
        place_id="GM",
        board_version=version,
        chair_id="mayor",
        chair_role="mayor",
        accounting_officer_id="ao",
        members=[{"member_id": "mayor", "name": "Mayor", "seat": "combined_authority"}],
    )


def test_a_new_board_version_is_saved_and_published() -> None:
    decision = domain.decide_board(a_place(board=None), configure(1))

    assert decision.refusal is None
    assert decision.state is not None and decision.state.version == 1
    assert [type(event) for event in decision.events] == [BoardConfigured]


def test_a_board_version_that_skips_one_is_refused_naming_the_next() -> None:
    decision = domain.decide_board(a_place(), configure(3))

    assert decision.refusal is not None
    assert decision.refusal.rule == "board_version"
    assert "the current version is 1, so the next is 2" in decision.refusal.reason
    assert decision.state is None and decision.events == ()


def test_a_vote_on_an_allocation_that_does_not_exist_is_refused() -> None:
    command = CastVote(place_id="GM", allocation_id="A-9", member_id="mayor", vote="for")

    decision = domain.decide_vote(a_place(), None, None, [], None, command)

    assert decision.refusal is not None
    assert decision.refusal.rule == "allocation_exists"
    assert decision.refusal.reason == "no allocation A-9 in GM"


def test_a_vote_by_a_recused_member_is_refused_and_nothing_is_saved() -> None:
    command = CastVote(place_id="GM", allocation_id="A-1", member_id="vcse", vote="for")

    decision = domain.decide_vote(a_place(), proposed(), None, [interest()], None, command)

    assert decision.refusal is not None and decision.refusal.rule == "recusal"
    assert decision.state is None


def test_a_vote_is_recorded_with_the_rules_version_in_force() -> None:
    command = CastVote(place_id="GM", allocation_id="A-1", member_id="icb", vote="for")

    decision = domain.decide_vote(a_place(), proposed(), None, [], None, command)

    assert decision.state == domain.Vote("icb", "for", 1, None)
    [recorded] = decision.events
    assert isinstance(recorded, VoteRecorded) and recorded.rules_version == 1


def test_the_same_vote_again_changes_nothing() -> None:
    command = CastVote(place_id="GM", allocation_id="A-1", member_id="icb", vote="for")
    previous = domain.Vote("icb", "for", 1)

    decision = domain.decide_vote(a_place(), proposed(), None, [], previous, command)

    assert decision.refusal is None and decision.state is None and decision.events == ()


def test_a_vote_on_a_variation_of_another_allocation_is_refused() -> None:
    command = CastVote(
        place_id="GM", allocation_id="A-1", variation_id="V-1", member_id="icb", vote="for"
    )
    other = domain.Variation(
        "V-1",
        "A-2",
        "extension",
        "later",
        "mayor",
        date(2026, 5, 1),
        None,
        date(2027, 6, 30),
        None,
        None,
    )

    decision = domain.decide_vote(a_place(), funded(), other, [], None, command)

    assert decision.refusal is not None
    assert decision.refusal.rule == "variation_exists"
    assert decision.refusal.reason == "no variation V-1 of allocation A-1"


def test_closing_a_quorate_vote_approves_and_asks_the_ledger_to_reserve() -> None:
    command = CloseVote(place_id="GM", allocation_id="A-1", closed_by="mayor")
    cast = votes("mayor:for", "icb:for", "police:against")

    decision = domain.decide_close_vote(
        a_place(), proposed(), None, [], cast, a_year(1_000_000_00), command
    )

    assert decision.state is not None
    assert decision.state.allocation.status == domain.RESERVATION_REQUESTED
    assert [type(event) for event in decision.events] == [
        BoardDecisionRecorded,
        AllocationApproved,
        ReservationRequested,
    ]


def test_closing_a_vote_short_of_quorum_is_refused_with_the_count() -> None:
    command = CloseVote(place_id="GM", allocation_id="A-1", closed_by="mayor")

    decision = domain.decide_close_vote(
        a_place(), proposed(), None, [], votes("mayor:for"), a_year(1_000_000_00), command
    )

    assert decision.refusal is not None and decision.refusal.rule == "quorum"
    assert "1 of 4 eligible voting members voted" in decision.refusal.reason


def test_cancelling_a_funded_allocation_releases_what_is_unspent() -> None:
    command = CancelAllocation(
        place_id="GM", allocation_id="A-1", cancelled_by="mayor", reason="no longer needed"
    )

    decision = domain.decide_cancel(funded(), command)

    assert decision.state is not None
    assert decision.state.allocation.status == domain.CANCELLED
    cancelled, release = decision.events
    assert isinstance(cancelled, AllocationCancelled) and cancelled.released_pence == 50_000_00
    assert isinstance(release, ReservationReleaseRequested) and release.amount_pence == 50_000_00


def test_cancelling_a_rejected_allocation_is_refused() -> None:
    command = CancelAllocation(place_id="GM", allocation_id="A-1", cancelled_by="m", reason="x")
    rejected = replace(proposed(), status=domain.REJECTED)

    decision = domain.decide_cancel(rejected, command)

    assert decision.refusal is not None and decision.refusal.rule == "cancellable"


def lodge(claim_id: str = "C-1") -> LodgeClaim:
    return LodgeClaim(
        place_id="GM",
        claim_id=claim_id,
        claim_kind="right_to_serve",
        claimant_id="vcse-1",
        claimant_kind="community_group",
        service_description="youth work",
        lodged_on=date(2026, 5, 1),
    )


def test_a_lodged_claim_must_be_answered_within_the_rules_days() -> None:
    decision = domain.decide_claim(a_place(), None, lodge())

    assert decision.state is not None
    assert decision.state.response_due_on == date(2026, 6, 26)


def test_an_overdue_claim_is_flagged_once_by_due_work() -> None:
    claim = domain.decide_claim(a_place(), None, lodge()).state
    assert claim is not None
    command = ProcessDueWork(place_id="GM", as_of=date(2026, 7, 1))

    decision = domain.decide_due_work([], [claim], command)

    assert decision.state is not None
    [flagged] = decision.state.claims
    assert flagged.overdue_flagged
    [overdue] = decision.events
    assert isinstance(overdue, ClaimOverdue) and overdue.response_due_on == date(2026, 6, 26)
    again = domain.decide_due_work([], [flagged], command)
    assert again.events == ()


def test_a_claim_answered_after_its_deadline_is_marked_late() -> None:
    claim = domain.decide_claim(a_place(), None, lodge()).state
    command = RespondToClaim(
        place_id="GM",
        claim_id="C-1",
        outcome="accepted",
        reasons="a good fit",
        responded_by="mayor",
        responded_on=date(2026, 7, 1),
    )

    decision = domain.decide_claim_response(claim, command)

    [responded] = decision.events
    assert isinstance(responded, ClaimResponded) and responded.late


def test_a_claim_answered_twice_is_refused() -> None:
    claim = domain.decide_claim(a_place(), None, lodge()).state
    assert claim is not None
    answered, _ = domain.claim_response(claim, date(2026, 5, 2))
    command = RespondToClaim(
        place_id="GM",
        claim_id="C-1",
        outcome="accepted",
        reasons="again",
        responded_by="mayor",
        responded_on=date(2026, 5, 3),
    )

    decision = domain.decide_claim_response(answered, command)

    assert decision.refusal is not None and decision.refusal.rule == "one_response"


def test_a_refusal_names_the_most_specific_subject_of_its_command() -> None:
    vote = CastVote(
        place_id="GM", allocation_id="A-1", variation_id="V-1", member_id="icb", vote="for"
    )

    assert domain.subject_of(vote) == "V-1"
    assert domain.subject_of(configure(2)) == "2"
    assert BOARD.version == 1


# --- Refused instalments: retried when money comes back, reported when it cannot pass ---------


def grant_with_first_instalment_refused(rule: str | None) -> domain.Allocation:
    """A £50,000.00 grant of two £20,000.00 instalments, £40,000.00 of it already paid out by
    another payment, so the ledger refuses the first instalment (£10,000.00 left)."""
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation
    drained = domain.payment_made(asked, "OTHER-1", 40_000_00).allocation
    refused = domain.payment_rejected(drained, "A-1/i1", "exceeds the reservation", rule)
    return refused.allocation


def test_an_instalment_refused_for_want_of_reservation_waits_for_a_retry() -> None:
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation
    drained = domain.payment_made(asked, "OTHER-1", 40_000_00).allocation

    change = domain.payment_rejected(
        drained, "A-1/i1", "exceeds the reservation", "within_reservation"
    )

    [unpaid] = change.events
    assert isinstance(unpaid, InstalmentUnpaid) and unpaid.will_retry
    first = change.allocation.instalments[0]
    assert (first.status, first.awaiting_retry) == (domain.NOT_PAID, True)
    # £50,000.00 reserved less £40,000.00 paid: £10,000.00 was there when it was refused.
    assert first.available_at_refusal_pence == 10_000_00


def test_a_refused_instalment_is_not_retried_before_money_comes_back() -> None:
    refused = grant_with_first_instalment_refused("within_reservation")

    change = domain.due_work(refused, date(2026, 6, 2))

    assert change.events == ()
    assert change.allocation.instalments[0].awaiting_retry


def test_a_recovery_does_not_retry_a_refused_instalment_as_it_goes_to_the_pot() -> None:
    refused = grant_with_first_instalment_refused("within_reservation")
    recovered = domain.recovery_recorded(refused, 40_000_00).allocation

    assert domain.due_work(recovered, date(2026, 7, 1)).events == ()


def rise_funded(allocation: domain.Allocation, rise_pence: int) -> domain.Allocation:
    """A value_up variation whose rise the ledger reserved."""
    rising = replace(
        allocation,
        value_pence=allocation.value_pence + rise_pence,
        pending_increase_pence=rise_pence,
    )
    return domain.reservation_made(rising, rise_pence).allocation


def test_a_refused_instalment_is_retried_under_a_new_payment_id_once_money_comes_in() -> None:
    refused = grant_with_first_instalment_refused("within_reservation")
    risen = rise_funded(refused, 15_000_00)
    assert risen.reserved_pence == 65_000_00

    change = domain.due_work(risen, date(2026, 7, 1))

    payment, retried = change.events
    assert isinstance(payment, PaymentRequested)
    assert (payment.payment_id, payment.amount_pence) == ("A-1/i1/r1", 20_000_00)
    assert isinstance(retried, InstalmentRetried)
    assert (retried.refused_payment_id, retried.available_at_refusal_pence) == ("A-1/i1", 10_000_00)
    # £65,000.00 reserved less the £40,000.00 paid out.
    assert retried.available_pence == 25_000_00
    first = change.allocation.instalments[0]
    assert (first.status, first.attempt, first.awaiting_retry) == (domain.REQUESTED, 1, False)
    paid = domain.payment_made(change.allocation, "A-1/i1/r1", 20_000_00)
    assert paid.allocation.instalments[0].status == domain.PAID


def test_a_rise_too_small_to_cover_the_instalment_leaves_it_waiting() -> None:
    refused = grant_with_first_instalment_refused("within_reservation")
    risen = rise_funded(refused, 5_000_00)

    change = domain.due_work(risen, date(2026, 7, 1))

    assert change.events == ()
    assert change.allocation.instalments[0].awaiting_retry


def test_an_instalment_refused_in_a_closed_year_is_reported_not_retried() -> None:
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation

    change = domain.payment_rejected(asked, "A-1/i1", "financial year is closed", "period_open")

    unpaid, unpayable = change.events
    assert isinstance(unpaid, InstalmentUnpaid) and not unpaid.will_retry
    assert isinstance(unpayable, InstalmentUnpayable)
    assert (unpayable.rule, unpayable.amount_pence) == ("period_open", 20_000_00)
    assert not change.allocation.instalments[0].awaiting_retry
    recovered = domain.recovery_recorded(change.allocation, 40_000_00).allocation
    assert domain.due_work(recovered, date(2026, 7, 1)).events == ()


def test_a_refusal_under_an_unnamed_rule_is_reported_for_a_person_to_look_at() -> None:
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation

    change = domain.payment_rejected(asked, "A-1/i1", "no reservation")

    assert isinstance(change.events[-1], InstalmentUnpayable)
    assert change.events[-1].rule == "ledger_rule"
