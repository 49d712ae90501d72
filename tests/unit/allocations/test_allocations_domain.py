"""Rule tests of the allocations service's pure domain: every path of the lifecycle, with the
exact wording of each refusal (it is public, and it must carry the rule and the numbers)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter

from contracts.allocations import (
    AllocationApproved,
    AllocationCancelled,
    AllocationExpired,
    AllocationFunded,
    AllocationRejected,
    AllocationSignedOff,
    AllocationSignOffRefused,
    AllocationUnfunded,
    AllocationVaried,
    Instalment,
    InstalmentFellDue,
    InstalmentPaid,
    InstalmentUnpaid,
    ReleaseRefused,
    VariationRejected,
)
from contracts.ledger import (
    FundingStream,
    PaymentRequested,
    ReservationReleaseRequested,
    ReservationRequested,
)
from services.allocations import domain
from services.allocations.errors import IllegalTransition, Refused

BOARD = domain.Board(
    version=1,
    chair_id="mayor",
    chair_role="mayor",
    accounting_officer_id="ao",
    members=(
        domain.Member("mayor", "combined_authority", True),
        domain.Member("icb", "nhs_icb", True),
        domain.Member("police", "police", True),
        domain.Member("vcse", "voluntary_sector", True),
        domain.Member("observer", "citizens", False),
    ),
)
RULES = domain.Rules(1, 3, "simple", 10_000_000, (), (), 56)


def a_place(**changes: Any) -> domain.Place:
    fields: dict[str, Any] = {
        "place_id": "GM",
        "board": BOARD,
        "rules": RULES,
        "mission_ids": frozenset(),
        "earmarks": (),
    }
    return domain.Place(**(fields | changes))


def a_proposal(**changes: Any) -> domain.Proposal:
    fields: dict[str, Any] = {
        "allocation_id": "A-1",
        "allocation_type": "partnership_agreement",
        "recipient_id": "P-1",
        "purpose": "early help",
        "mission_id": "M-1",
        "start_date": date(2026, 4, 1),
        "end_date": date(2027, 3, 31),
        "value_pence": 50_000_00,
        "financial_year": "2026-27",
        "proposed_by": "officer-1",
    }
    return domain.Proposal(**(fields | changes))


def a_year(
    pot_pence: int = 0,
    *committed: domain.Committed,
    streams: tuple[domain.StreamSettled, ...] = (),
) -> domain.YearBook:
    """A year whose pot is `pot_pence` of DWP money plus any other `streams`."""
    if pot_pence:
        streams = (*streams, domain.StreamSettled("DWP", "WORK", pot_pence))
    return domain.YearBook("2026-27", streams, committed)


DORMANT_ASSETS = (domain.StreamSettled("DCMS", "DORMANT-ASSETS", 250_000_00),)


def proposed(**changes: Any) -> domain.Allocation:
    allocation = domain.propose(a_place(), None, a_proposal(**changes), a_year())
    assert allocation is not None
    return allocation


def funded(**changes: Any) -> domain.Allocation:
    allocation = proposed(**changes)
    return replace(
        allocation,
        status=domain.FUNDED,
        reserved_pence=allocation.value_pence,
        rules_version=1,
    )


def approved_tally() -> domain.Tally:
    return domain.Tally("approved", "majority reached", ("icb", "mayor"), (), (), ())


def votes(*pairs: str) -> list[domain.Vote]:
    return [domain.Vote(member, choice, 1) for member, choice in (p.split(":") for p in pairs)]


def interest(member_id: str = "vcse", **changes: Any) -> domain.Interest:
    fields: dict[str, Any] = {
        "interest_id": "I-1",
        "member_id": member_id,
        "recipient_id": "P-1",
        "allocation_id": None,
        "description": "trustee of P-1",
    }
    return domain.Interest(**(fields | changes))


def check_refused(error: pytest.ExceptionInfo[Refused], rule: str) -> str:
    assert error.value.rule == rule
    return str(error.value)


# --- Boards and versioned rules ---------------------------------------------------------------


def test_the_first_board_is_version_one() -> None:
    assert domain.next_version(None, 1, "board", same=False) is True


def test_repeating_the_current_version_unchanged_does_nothing() -> None:
    assert domain.next_version(3, 3, "rules", same=True) is False


@pytest.mark.parametrize(("current", "incoming"), [(3, 5), (3, 3), (3, 2)])
def test_a_version_other_than_the_next_is_refused_with_the_expected_number(
    current: int, incoming: int
) -> None:
    with pytest.raises(Refused) as error:
        domain.next_version(current, incoming, "rules", same=False)
    assert check_refused(error, "rules_version") == (
        f"rules version {incoming} must be the next one: the current version is 3, so the next is 4"
    )


def test_only_a_board_member_declares_an_interest() -> None:
    with pytest.raises(Refused) as error:
        domain.check_interest(BOARD, "GM", "stranger")
    assert check_refused(error, "board_member") == "stranger is not a member of GM's board"


def test_a_plan_cannot_repeat_a_mission_of_an_adopted_plan() -> None:
    with pytest.raises(Refused, match="repeats missions already in an adopted plan: M-1"):
        domain.check_missions_new(frozenset({"M-1"}), ["M-1", "M-2"], "LRP-2")


# --- Proposals --------------------------------------------------------------------------------


def test_a_proposal_starts_proposed_with_its_own_terms() -> None:
    allocation = proposed()
    assert (allocation.status, allocation.value_pence, allocation.purpose) == (
        domain.PROPOSED,
        50_000_00,
        "early help",
    )


def test_the_same_proposal_again_changes_nothing() -> None:
    assert domain.propose(a_place(), proposed(), a_proposal(), a_year()) is None


def test_reusing_an_allocation_id_for_another_proposal_is_refused_naming_the_fields() -> None:
    with pytest.raises(Refused) as error:
        domain.propose(a_place(), proposed(), a_proposal(value_pence=1, purpose="other"), a_year())
    assert check_refused(error, "allocation_id_unique") == (
        "allocation A-1 already exists in GM; this proposal differs in purpose, value_pence: "
        "use a new allocation_id"
    )


def test_someone_the_rules_do_not_allow_to_propose_is_refused() -> None:
    rules = replace(RULES, proposer_ids=("finance-director",), proposer_seats=("council",))
    with pytest.raises(Refused) as error:
        domain.propose(a_place(rules=rules), None, a_proposal(proposed_by="icb"), a_year())
    assert check_refused(error, "who_may_propose") == (
        "icb may not propose in GM under rules version 1; proposals come from finance-director, "
        "members in the council seat"
    )


def test_a_member_in_an_allowed_seat_may_propose() -> None:
    rules = replace(RULES, proposer_seats=("nhs_icb",))
    assert domain.propose(a_place(rules=rules), None, a_proposal(proposed_by="icb"), a_year())


def test_anyone_may_propose_when_the_rules_name_nobody() -> None:
    assert domain.propose(a_place(), None, a_proposal(proposed_by="anyone"), a_year())


def test_an_allocation_must_name_a_mission_of_an_adopted_plan() -> None:
    place = a_place(mission_ids=frozenset({"M-GOOD-JOBS", "M-START-WELL"}))
    with pytest.raises(Refused) as error:
        domain.propose(place, None, a_proposal(mission_id="M-UNKNOWN"), a_year())
    assert check_refused(error, "mission") == (
        "mission M-UNKNOWN is not in any adopted Local Reform Plan of GM; its missions are "
        "M-GOOD-JOBS, M-START-WELL"
    )


def test_a_grant_without_a_schedule_is_paid_in_one_instalment_on_its_start_date() -> None:
    allocation = proposed(allocation_type="grant")
    assert allocation.instalments == (domain.ScheduledInstalment(1, date(2026, 4, 1), 50_000_00),)


def test_a_grant_keeps_its_schedule_numbered_from_one() -> None:
    schedule = (
        Instalment(due_date=date(2026, 5, 1), amount_pence=10_000_00),
        Instalment(due_date=date(2026, 9, 1), amount_pence=40_000_00),
    )
    allocation = proposed(allocation_type="grant", instalments=schedule)
    assert [(i.number, i.amount_pence) for i in allocation.instalments] == [
        (1, 10_000_00),
        (2, 40_000_00),
    ]


def test_an_outcomes_contract_has_no_instalments() -> None:
    assert proposed(allocation_type="outcomes_contract").instalments == ()


# --- Votes, recusal, quorum, majority ---------------------------------------------------------


def check_vote(member_id: str, **changes: Any) -> domain.Vote | None:
    arguments: dict[str, Any] = {
        "place": a_place(),
        "interests": [],
        "subject": "allocation A-1",
        "open_for_votes": True,
        "allocation_id": "A-1",
        "recipient_id": "P-1",
        "member_id": member_id,
        "previous": None,
        "vote": "for",
    }
    return domain.check_vote(**(arguments | changes))


def test_a_voting_member_s_vote_is_recorded_with_the_rules_version() -> None:
    assert check_vote("icb") == domain.Vote("icb", "for", 1)


def test_a_vote_keeps_the_members_reason_for_publishing() -> None:
    vote = check_vote("icb", reason="The evidence for family hubs is strong")
    assert vote == domain.Vote("icb", "for", 1, "The evidence for family hubs is strong")


def test_a_vote_without_a_reason_has_none() -> None:
    vote = check_vote("icb")
    assert vote is not None and vote.reason is None


def test_a_recused_member_s_vote_is_refused() -> None:
    with pytest.raises(Refused) as error:
        check_vote("vcse", interests=[interest()])
    assert check_refused(error, "recusal") == (
        "vcse declared an interest (trustee of P-1) and is recused from allocation A-1; the vote "
        "is refused"
    )


def test_an_interest_in_the_allocation_itself_recuses_too() -> None:
    with pytest.raises(Refused, match="recused"):
        check_vote("vcse", interests=[interest(recipient_id=None, allocation_id="A-1")])


def test_an_interest_in_another_recipient_does_not_recuse() -> None:
    assert check_vote("vcse", interests=[interest(recipient_id="P-9")]) is not None


@pytest.mark.parametrize("member_id", ["observer", "stranger"])
def test_only_voting_members_vote(member_id: str) -> None:
    with pytest.raises(Refused) as error:
        check_vote(member_id)
    assert check_refused(error, "voting_member") == (
        f"{member_id} is not a voting member of GM's board (version 1)"
    )


def test_the_same_vote_twice_is_recorded_once() -> None:
    assert check_vote("icb", previous=domain.Vote("icb", "for", 1)) is None


def test_a_vote_cannot_be_changed() -> None:
    with pytest.raises(Refused, match="icb already voted 'for' on allocation A-1"):
        check_vote("icb", previous=domain.Vote("icb", "for", 1), vote="against")


def test_a_vote_on_a_decided_allocation_is_refused() -> None:
    with pytest.raises(Refused, match="allocation A-1 is not open for votes"):
        check_vote("icb", open_for_votes=False)


def test_votes_need_a_board() -> None:
    with pytest.raises(Refused) as error:
        check_vote("icb", place=a_place(board=None))
    assert check_refused(error, "board_configured") == (
        "GM has no board yet; configure one with ConfigureBoard"
    )


def tally(place: domain.Place, cast: list[domain.Vote], *interests: domain.Interest) -> Any:
    return domain.tally(place, list(interests), "allocation A-1", "A-1", "P-1", cast)


def test_quorum_not_met_is_refused_with_the_numbers() -> None:
    with pytest.raises(Refused) as error:
        tally(a_place(), votes("icb:for", "mayor:for"))
    assert check_refused(error, "quorum") == (
        "quorum not met on allocation A-1: 2 of 4 eligible voting members voted, quorum is 3 "
        "(rules version 1)"
    )


def test_a_recused_member_s_earlier_vote_is_not_counted_towards_quorum() -> None:
    with pytest.raises(Refused) as error:
        tally(a_place(), votes("icb:for", "mayor:for", "vcse:for"), interest())
    assert str(error.value) == (
        "quorum not met on allocation A-1: 2 of 3 eligible voting members voted (1 recused), "
        "quorum is 3 (rules version 1)"
    )


def test_a_quorate_simple_majority_approves_and_lists_who_voted_how() -> None:
    result = tally(a_place(), votes("icb:for", "mayor:for", "police:against", "vcse:abstain"))
    assert (result.outcome, result.votes_for, result.votes_against, result.abstentions) == (
        "approved",
        ("icb", "mayor"),
        ("police",),
        ("vcse",),
    )
    assert result.reason == (
        "majority reached on allocation A-1: 2 for, 1 against, 1 abstained of 4 eligible; a "
        "simple majority needs more votes for than against (rules version 1)"
    )


def test_a_tie_is_not_a_simple_majority() -> None:
    result = tally(a_place(), votes("icb:for", "mayor:against", "police:abstain"))
    assert result.outcome == "rejected"
    assert result.reason.startswith("majority not reached on allocation A-1: 1 for, 1 against")


def test_a_two_thirds_majority_needs_two_in_three() -> None:
    place = a_place(rules=replace(RULES, majority="two_thirds"))
    assert tally(place, votes("icb:for", "mayor:for", "police:against")).outcome == "approved"
    short = tally(place, votes("icb:for", "mayor:for", "police:against", "vcse:against"))
    assert short.outcome == "rejected"


def test_unanimity_fails_on_one_vote_against() -> None:
    place = a_place(rules=replace(RULES, majority="unanimous"))
    assert tally(place, votes("icb:for", "mayor:for", "police:abstain")).outcome == "approved"
    assert tally(place, votes("icb:for", "mayor:for", "police:against")).outcome == "rejected"


def test_a_recused_member_is_listed_as_recused_in_the_decision() -> None:
    result = tally(a_place(), votes("icb:for", "mayor:for", "police:for"), interest())
    assert result.recused == ("vcse",)


def test_a_decision_without_votes_is_refused_once_a_board_is_configured() -> None:
    with pytest.raises(Refused) as error:
        domain.resolution(a_place(), "chair", "approved", "")
    assert check_refused(error, "votes_required") == (
        "GM has a board of 4 voting members: decisions are taken by CastVote and CloseVote"
    )


def test_a_decision_without_votes_is_recorded_with_who_took_it_where_there_is_no_board() -> None:
    result = domain.resolution(
        a_place(board=None, rules=domain.DEFAULT_RULES), "chair", "rejected", ""
    )
    assert result.reason == (
        "rejected by chair without a stated reason (decided by chair without recorded votes: no "
        "board configured; rules version 0)"
    )


# --- Decisions and sign-off -------------------------------------------------------------------


def test_an_approval_under_the_threshold_asks_the_ledger_to_reserve() -> None:
    change = domain.decide(a_place(), proposed(), a_year(), approved_tally(), "mayor")
    assert change.allocation.status == domain.RESERVATION_REQUESTED
    approved, requested = change.events
    assert isinstance(approved, AllocationApproved) and approved.sign_off_required is False
    assert requested == ReservationRequested(
        place_id="GM",
        allocation_id="A-1",
        financial_year="2026-27",
        amount_pence=50_000_00,
        purpose="early help",
    )


def test_an_over_threshold_approval_without_sign_off_never_reaches_the_ledger() -> None:
    change = domain.decide(
        a_place(), proposed(value_pence=150_000_00), a_year(), approved_tally(), "mayor"
    )
    assert change.allocation.status == domain.AWAITING_SIGN_OFF
    assert [type(event) for event in change.events] == [AllocationApproved]


def test_an_approval_exactly_at_the_threshold_needs_no_sign_off() -> None:
    change = domain.decide(
        a_place(), proposed(value_pence=100_000_00), a_year(), approved_tally(), "mayor"
    )
    assert change.allocation.status == domain.RESERVATION_REQUESTED


def test_a_rejection_publishes_the_reason_and_the_rule() -> None:
    result = domain.Tally("rejected", "majority not reached", (), ("icb",), (), ())
    change = domain.decide(a_place(), proposed(), a_year(), result, "mayor")
    assert change.allocation.status == domain.REJECTED
    assert change.events == (
        AllocationRejected(
            place_id="GM", allocation_id="A-1", reason="majority not reached", rule="majority"
        ),
    )


def test_a_decision_on_an_allocation_no_longer_proposed_is_illegal() -> None:
    with pytest.raises(IllegalTransition, match="that is funded cannot become rejected"):
        domain.decide(a_place(), funded(), a_year(), approved_tally(), "mayor")


def awaiting(value_pence: int = 150_000_00) -> domain.Allocation:
    change = domain.decide(
        a_place(), proposed(value_pence=value_pence), a_year(), approved_tally(), "mayor"
    )
    return change.allocation


def test_the_accounting_officer_s_sign_off_asks_the_ledger_to_reserve() -> None:
    change = domain.sign_off(a_place(), awaiting(), "ao", "signed_off", None)
    assert change.allocation.status == domain.RESERVATION_REQUESTED
    assert [type(event) for event in change.events] == [AllocationSignedOff, ReservationRequested]


def test_a_refused_sign_off_keeps_the_reasons_and_sends_nothing_to_the_ledger() -> None:
    change = domain.sign_off(a_place(), awaiting(), "ao", "refused", "poor value for money")
    assert change.allocation.status == domain.SIGN_OFF_REFUSED
    assert change.events == (
        AllocationSignOffRefused(
            place_id="GM",
            allocation_id="A-1",
            accounting_officer_id="ao",
            reasons="poor value for money",
        ),
    )


def test_only_the_accounting_officer_signs_off() -> None:
    with pytest.raises(Refused) as error:
        domain.sign_off(a_place(), awaiting(), "mayor", "signed_off", None)
    assert check_refused(error, "accounting_officer") == (
        "only GM's accounting officer (ao) may sign off; mayor may not"
    )


def test_a_sign_off_of_an_allocation_not_awaiting_one_is_refused() -> None:
    with pytest.raises(Refused, match="A-1 is proposed, not awaiting sign-off"):
        domain.sign_off(a_place(), proposed(), "ao", "signed_off", None)


# --- Earmarks ---------------------------------------------------------------------------------

EARLY_HELP = domain.Earmark(
    "EM-1", "minimum_share", "early-intervention", 2000, None, None, "GP minimum share"
)
NOT_STATUTORY = domain.Earmark(
    "EM-2",
    "excluded_purpose",
    "statutory-services",
    None,
    "DCMS",
    "DORMANT-ASSETS",
    "dormant-asset money must not replace statutory funding",
)


def test_an_untagged_allocation_that_eats_into_the_minimum_share_is_refused_with_the_numbers() -> (
    None
):
    year = a_year(1_000_000_00, domain.Committed("A-0", 600_000_00, ()))
    with pytest.raises(Refused) as error:
        domain.check_earmarks(a_place(earmarks=(EARLY_HELP,)), year, "A-1", 275_000_00, ())
    assert check_refused(error, "earmark_minimum_share") == (
        "earmark 'EM-1' keeps at least 20% of the 2026-27 pot (£200,000.00 of £1,000,000.00) for "
        "'early-intervention'; after this allocation of £275,000.00 only £125,000.00 (12.5%) "
        "would be left for it"
    )


GROWTH_EARLY_HELP = domain.Earmark(
    "EM-3",
    "minimum_share",
    "early-intervention",
    1000,
    "MHCLG",
    "LOCAL-GROWTH",
    "of MHCLG's local growth stream, at least 10% to early intervention",
)
GROWTH = (domain.StreamSettled("MHCLG", "LOCAL-GROWTH", 400_000_00),)


def test_a_stream_earmark_counts_only_what_allocations_draw_from_that_stream() -> None:
    # The pot: £600,000 of DWP money and £400,000 of MHCLG's local growth stream (40%).
    year = a_year(600_000_00, domain.Committed("A-0", 500_000_00, ()), streams=GROWTH)
    place = a_place(earmarks=(GROWTH_EARLY_HELP,))
    # Untagged: A-0's £500,000 and this £400,000 draw 40% of £900,000 = £360,000 from the
    # stream, leaving £40,000: exactly the 10% kept.
    domain.check_earmarks(place, year, "A-1", 400_000_00, ())
    with pytest.raises(Refused) as error:
        # Three pence more draws a penny more from the stream than its 90% allows.
        domain.check_earmarks(place, year, "A-1", 400_000_03, ())

    assert check_refused(error, "earmark_stream_minimum_share") == (
        "earmark 'EM-3' keeps at least 10% of MHCLG/LOCAL-GROWTH (£40,000.00 of its "
        "£400,000.00 in 2026-27) for 'early-intervention'; with this allocation of "
        "£400,000.03, allocations for other purposes would draw about £360,000.01 from it, "
        "leaving £39,999.99"
    )
    assert error.value.figures == {
        "stream_pence": 400_000_00,
        "needed_pence": 40_000_00,
        "value_pence": 400_000_03,
        "drawn_pence": 360_000_01,
        "left_pence": 39_999_99,
    }


def test_a_stream_earmark_ignores_a_place_without_that_stream_and_tagged_allocations() -> None:
    place = a_place(earmarks=(GROWTH_EARLY_HELP,))
    domain.check_earmarks(place, a_year(1_000_000_00), "A-1", 1_000_000_00, ())
    year = a_year(600_000_00, streams=GROWTH)
    domain.check_earmarks(place, year, "A-1", 1_000_000_00, ("early-intervention",))


def test_an_untagged_allocation_within_the_rest_of_the_pot_passes() -> None:
    year = a_year(1_000_000_00, domain.Committed("A-0", 600_000_00, ()))
    domain.check_earmarks(a_place(earmarks=(EARLY_HELP,)), year, "A-1", 200_000_00, ())


def test_a_tagged_allocation_never_breaks_its_own_minimum_share() -> None:
    year = a_year(1_000_000_00, domain.Committed("A-0", 900_000_00, ()))
    domain.check_earmarks(
        a_place(earmarks=(EARLY_HELP,)), year, "A-1", 100_000_00, ("early-intervention",)
    )


def test_an_allocation_is_not_counted_twice_when_its_own_terms_are_rechecked() -> None:
    year = a_year(1_000_000_00, domain.Committed("A-1", 800_000_00, ()))
    domain.check_earmarks(a_place(earmarks=(EARLY_HELP,)), year, "A-1", 800_000_00, ())


def test_a_stream_that_may_not_fund_a_purpose_leaves_it_to_the_other_streams() -> None:
    # £250,000 of dormant-asset money beside £750,000 of DWP money: the DWP money funds it.
    year = a_year(750_000_00, streams=DORMANT_ASSETS)
    domain.check_earmarks(
        a_place(earmarks=(NOT_STATUTORY,)), year, "A-1", 750_000_00, ("statutory-services",)
    )


def test_an_allocation_the_other_streams_cannot_fund_is_refused_with_the_numbers() -> None:
    year = a_year(750_000_00, streams=DORMANT_ASSETS)
    with pytest.raises(Refused) as error:
        domain.check_earmarks(
            a_place(earmarks=(NOT_STATUTORY,)), year, "A-1", 750_000_01, ("statutory-services",)
        )
    assert check_refused(error, "earmark_excluded_purpose") == (
        "earmark 'EM-2': DCMS/DORMANT-ASSETS may not fund 'statutory-services' (dormant-asset "
        "money must not replace statutory funding); it holds £250,000.00 of the 2026-27 pot, "
        "and the other streams settled only £750,000.00, less than this allocation of "
        "£750,000.01"
    )
    assert error.value.figures == {
        "stream_pence": 250_000_00,
        "value_pence": 750_000_01,
        "eligible_pence": 750_000_00,
    }


def test_the_reservation_of_a_statutory_allocation_excludes_the_restricted_stream() -> None:
    place = a_place(earmarks=(NOT_STATUTORY,))
    allocation = proposed(purpose_tags=("statutory-services",))
    year = a_year(750_000_00, streams=DORMANT_ASSETS)
    change = domain.decide(place, allocation, year, approved_tally(), "mayor")
    [requested] = [e for e in change.events if isinstance(e, ReservationRequested)]
    assert requested.excluded_streams == (
        FundingStream(department_code="DCMS", funding_stream_code="DORMANT-ASSETS"),
    )
    assert requested.eligible_streams == ()


def test_the_reservation_of_an_untagged_allocation_excludes_nothing() -> None:
    place = a_place(earmarks=(NOT_STATUTORY,))
    year = a_year(750_000_00, streams=DORMANT_ASSETS)
    change = domain.decide(place, proposed(), year, approved_tally(), "mayor")
    [requested] = [e for e in change.events if isinstance(e, ReservationRequested)]
    assert requested.excluded_streams == ()


def test_an_excluded_stream_without_money_that_year_refuses_nothing() -> None:
    year = a_year(750_000_00)
    domain.check_earmarks(
        a_place(earmarks=(NOT_STATUTORY,)), year, "A-1", 100_000_00, ("statutory-services",)
    )


def test_an_earmark_breach_at_approval_rejects_the_allocation_with_the_numbers() -> None:
    year = a_year(100_000_00, domain.Committed("A-0", 40_000_00, ()))
    change = domain.decide(
        a_place(earmarks=(EARLY_HELP,)), proposed(), year, approved_tally(), "mayor"
    )
    rejected = change.events[0]
    assert isinstance(rejected, AllocationRejected)
    assert rejected.rule == "earmark_minimum_share"
    assert "only £10,000.00 (10%) would be left for it" in rejected.reason


def test_an_ended_allocation_counts_only_what_it_spent() -> None:
    ended = replace(funded(), status=domain.CANCELLED, paid_pence=12_000_00)
    assert ended.counted_pence == 12_000_00
    assert funded().counted_pence == 50_000_00
    assert proposed().counted_pence == 0


# --- The ledger's answers ---------------------------------------------------------------------


def requested(**changes: Any) -> domain.Allocation:
    return replace(proposed(**changes), status=domain.RESERVATION_REQUESTED)


def test_a_reservation_funds_the_allocation() -> None:
    change = domain.reservation_made(requested(), 50_000_00)
    assert (change.allocation.status, change.allocation.reserved_pence) == (
        domain.FUNDED,
        50_000_00,
    )
    assert change.events == (
        AllocationFunded(place_id="GM", allocation_id="A-1", amount_pence=50_000_00),
    )


def test_a_refused_reservation_leaves_the_allocation_unfunded_with_the_ledger_s_reason() -> None:
    change = domain.reservation_rejected(requested(), "exceeds the unreserved pot")
    assert change.allocation.status == domain.UNFUNDED
    assert change.events == (
        AllocationUnfunded(place_id="GM", allocation_id="A-1", reason="exceeds the unreserved pot"),
    )


def test_a_reservation_arriving_after_cancellation_is_released_at_once() -> None:
    cancelled = domain.cancel(requested(), "no longer needed").allocation
    change = domain.reservation_made(cancelled, 50_000_00)
    assert change.events == (
        ReservationReleaseRequested(
            place_id="GM", allocation_id="A-1", amount_pence=50_000_00, reason="cancelled"
        ),
    )


def test_a_payment_from_the_allocation_counts_as_spent_even_if_not_an_instalment() -> None:
    change = domain.payment_made(funded(), "C-1/B-1", 5_000_00)
    assert change.allocation.paid_pence == 5_000_00
    assert change.events == ()


# --- Grant instalments and endings ------------------------------------------------------------


def funded_grant() -> domain.Allocation:
    schedule = (
        Instalment(due_date=date(2026, 5, 1), amount_pence=20_000_00),
        Instalment(due_date=date(2026, 11, 1), amount_pence=20_000_00),
    )
    return funded(allocation_type="grant", instalments=schedule)


def test_a_due_instalment_of_a_funded_grant_requests_payment_from_the_ledger() -> None:
    change = domain.due_work(funded_grant(), date(2026, 6, 1))
    payment, due = change.events
    assert payment == PaymentRequested(
        place_id="GM",
        payment_id="A-1/i1",
        allocation_id="A-1",
        provider_id="P-1",
        amount_pence=20_000_00,
        payment_kind="grant_instalment",
        purpose="early help",
    )
    assert isinstance(due, InstalmentFellDue) and due.instalment_number == 1
    assert [i.status for i in change.allocation.instalments] == [domain.REQUESTED, domain.SCHEDULED]


def test_processing_the_same_date_again_changes_nothing_more() -> None:
    once = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation
    assert domain.due_work(once, date(2026, 6, 1)).events == ()


def test_instalments_of_a_grant_not_yet_funded_wait() -> None:
    assert domain.due_instalments(requested(allocation_type="grant"), date(2026, 6, 1)).events == ()


def test_a_paid_instalment_is_marked_paid() -> None:
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation
    change = domain.payment_made(asked, "A-1/i1", 20_000_00)
    assert change.events == (
        InstalmentPaid(
            place_id="GM",
            allocation_id="A-1",
            instalment_number=1,
            payment_id="A-1/i1",
            amount_pence=20_000_00,
        ),
    )
    assert change.allocation.instalments[0].status == domain.PAID


def test_a_refused_instalment_is_unpaid_with_the_ledger_s_reason() -> None:
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation
    change = domain.payment_rejected(asked, "A-1/i1", "period closed")
    assert isinstance(change.events[0], InstalmentUnpaid)
    assert change.allocation.instalments[0].status == domain.NOT_PAID


def test_a_payment_id_is_deterministic_and_never_longer_than_128_characters() -> None:
    assert domain.payment_id_for("A-1", 3) == "A-1/i3"
    long_id = domain.payment_id_for("A" * 128, 12)
    assert len(long_id) <= 128 and long_id == domain.payment_id_for("A" * 128, 12)


def test_an_allocation_does_not_expire_on_its_end_date() -> None:
    assert domain.expire(funded(), date(2027, 3, 31)) is None


def test_expiry_releases_exactly_the_unspent_rest_after_an_instalment_was_paid() -> None:
    asked = domain.due_work(funded_grant(), date(2026, 6, 1)).allocation
    paid = domain.payment_made(asked, "A-1/i1", 20_000_00).allocation
    change = domain.due_work(paid, date(2027, 4, 1))
    # The second instalment fell due before the end: it is requested, then the rest released.
    kinds = [type(event) for event in change.events]
    assert kinds == [
        PaymentRequested,
        InstalmentFellDue,
        AllocationExpired,
        ReservationReleaseRequested,
    ]
    release = change.events[-1]
    assert isinstance(release, ReservationReleaseRequested)
    assert (release.amount_pence, release.reason) == (10_000_00, "expired")
    assert change.allocation.status == domain.EXPIRED


def test_an_expired_allocation_s_instalment_refused_later_is_released_too() -> None:
    asked = domain.due_work(funded_grant(), date(2027, 4, 1)).allocation
    assert asked.status == domain.EXPIRED and asked.release_requested_pence == 10_000_00
    change = domain.payment_rejected(asked, "A-1/i2", "period closed")
    assert change.events[-1] == ReservationReleaseRequested(
        place_id="GM", allocation_id="A-1", amount_pence=20_000_00, reason="expired"
    )


def test_a_recovery_after_expiry_is_released_to_the_pot() -> None:
    ended = replace(funded(), status=domain.EXPIRED, paid_pence=50_000_00)
    change = domain.recovery_recorded(ended, 4_000_00)
    assert change.events == (
        ReservationReleaseRequested(
            place_id="GM", allocation_id="A-1", amount_pence=4_000_00, reason="expired"
        ),
    )


def test_a_proposal_never_decided_expires_without_asking_the_ledger_for_anything() -> None:
    change = domain.expire(proposed(), date(2027, 4, 1))
    assert change is not None
    assert [type(event) for event in change.events] == [AllocationExpired]


def test_cancellation_releases_the_unspent_reservation() -> None:
    spent = replace(funded(), paid_pence=15_000_00)
    change = domain.cancel(spent, "provider closed")
    assert change.events == (
        AllocationCancelled(
            place_id="GM", allocation_id="A-1", reason="provider closed", released_pence=35_000_00
        ),
        ReservationReleaseRequested(
            place_id="GM", allocation_id="A-1", amount_pence=35_000_00, reason="cancelled"
        ),
    )


def test_an_allocation_already_ended_cannot_be_cancelled() -> None:
    with pytest.raises(Refused) as error:
        domain.cancel(replace(funded(), status=domain.EXPIRED), "late")
    assert check_refused(error, "cancellable") == (
        "allocation A-1 is expired; only a running allocation can be cancelled"
    )


# --- Variations -------------------------------------------------------------------------------


def a_variation(change: str = "value_up", **changes: Any) -> domain.Variation:
    fields: dict[str, Any] = {
        "variation_id": "V-1",
        "allocation_id": "A-1",
        "change": change,
        "reason": "more referrals than planned",
        "proposed_by": "officer-1",
        "proposed_on": date(2026, 10, 1),
        "new_value_pence": 80_000_00 if change == "value_up" else None,
        "new_end_date": None,
        "new_purpose": None,
        "new_purpose_tags": None,
    }
    return domain.Variation(**(fields | changes))


def test_a_variation_after_the_end_date_is_refused() -> None:
    with pytest.raises(Refused) as error:
        domain.check_variation(
            a_place(), funded(), a_variation(proposed_on=date(2027, 4, 2)), a_year()
        )
    assert check_refused(error, "variation_before_end") == (
        "allocation A-1 ended on 2027-03-31 (funded); a variation proposed on 2027-04-02 is "
        "refused: nothing rolls over, propose a new allocation"
    )


def test_only_a_funded_allocation_can_be_varied() -> None:
    with pytest.raises(Refused, match="A-1 is proposed; only a funded allocation can be varied"):
        domain.check_variation(a_place(), proposed(), a_variation(), a_year())


def test_one_variation_at_a_time() -> None:
    busy = replace(funded(), pending_variation_id="V-0")
    with pytest.raises(Refused, match="has variation V-0 still in progress"):
        domain.check_variation(a_place(), busy, a_variation(), a_year())


def test_a_value_up_under_the_threshold_asks_the_ledger_for_the_difference() -> None:
    variation, change = domain.decide_variation(
        a_place(), funded(), a_variation(), a_year(), approved_tally()
    )
    assert variation.status == domain.VARIATION_APPLIED
    varied, extra = change.events
    assert isinstance(varied, AllocationVaried) and varied.new_value_pence == 80_000_00
    assert isinstance(extra, ReservationRequested) and extra.amount_pence == 30_000_00
    assert change.allocation.pending_increase_pence == 30_000_00


def test_the_extra_reservation_of_a_value_up_is_added_when_the_ledger_makes_it() -> None:
    _, change = domain.decide_variation(
        a_place(), funded(), a_variation(), a_year(), approved_tally()
    )
    made = domain.reservation_made(change.allocation, 30_000_00).allocation
    assert (made.reserved_pence, made.pending_variation_id) == (80_000_00, None)


def test_a_value_up_the_ledger_refuses_is_undone_with_its_reason() -> None:
    _, change = domain.decide_variation(
        a_place(), funded(), a_variation(), a_year(), approved_tally()
    )
    undone = domain.reservation_rejected(change.allocation, "pot short")
    assert undone.allocation.value_pence == 50_000_00
    assert undone.events == (
        VariationRejected(
            place_id="GM",
            allocation_id="A-1",
            variation_id="V-1",
            reason="the ledger refused the extra reservation: pot short",
        ),
    )


def test_a_value_up_over_the_threshold_waits_for_the_accounting_officer() -> None:
    variation, change = domain.decide_variation(
        a_place(), funded(), a_variation(new_value_pence=120_000_00), a_year(), approved_tally()
    )
    assert variation.awaiting_sign_off and change.events == ()
    signed_variation, signed = domain.sign_off_variation(
        a_place(), funded(), variation, "ao", "signed_off", None
    )
    assert signed_variation.status == domain.VARIATION_APPLIED
    assert [type(event) for event in signed.events] == [
        AllocationSignedOff,
        AllocationVaried,
        ReservationRequested,
    ]


def test_a_value_down_releases_the_difference_as_varied_down() -> None:
    _, change = domain.decide_variation(
        a_place(),
        funded(),
        a_variation("value_down", new_value_pence=30_000_00),
        a_year(),
        approved_tally(),
    )
    assert change.events[-1] == ReservationReleaseRequested(
        place_id="GM", allocation_id="A-1", amount_pence=20_000_00, reason="varied_down"
    )


def test_a_value_down_below_what_is_paid_or_scheduled_is_refused() -> None:
    grant = funded_grant()
    with pytest.raises(Refused) as error:
        domain.check_variation(
            a_place(), grant, a_variation("value_down", new_value_pence=30_000_00), a_year()
        )
    assert check_refused(error, "value_down") == (
        "a value_down must lower the value below £50,000.00 but not under the £40,000.00 paid, "
        "in payment or scheduled; £30,000.00 does not fit"
    )


def test_an_extension_moves_the_end_date() -> None:
    variation = a_variation("extension", new_end_date=date(2027, 9, 30))
    _, change = domain.decide_variation(a_place(), funded(), variation, a_year(), approved_tally())
    assert change.allocation.end_date == date(2027, 9, 30)
    assert [type(event) for event in change.events] == [AllocationVaried]


def test_an_extension_must_move_the_end_date_later() -> None:
    with pytest.raises(Refused, match="must move the end date beyond 2027-03-31"):
        domain.check_variation(
            a_place(), funded(), a_variation("extension", new_end_date=date(2027, 1, 1)), a_year()
        )


def test_a_change_of_purpose_is_checked_against_the_earmarks() -> None:
    year = a_year(750_000_00, streams=DORMANT_ASSETS)
    variation = a_variation(
        "purpose", new_purpose="adult social care", new_purpose_tags=("statutory-services",)
    )
    with pytest.raises(Refused, match="may not fund the new purpose of allocation A-1"):
        domain.check_variation(a_place(earmarks=(NOT_STATUTORY,)), funded(), variation, year)


def test_a_variation_the_board_rejects_is_recorded_with_the_reason() -> None:
    result = domain.Tally("rejected", "majority not reached", (), ("icb",), (), ())
    variation, change = domain.decide_variation(
        a_place(), funded(), a_variation(), a_year(), result
    )
    assert variation.status == domain.VARIATION_REJECTED
    assert change.allocation == funded()
    assert isinstance(change.events[0], VariationRejected)


# --- Right to Serve / Right to Request --------------------------------------------------------


def a_claim(**changes: Any) -> domain.Claim:
    fields: dict[str, Any] = {
        "claim_id": "RTS-1",
        "claim_kind": "right_to_serve",
        "claimant_id": "COMMUNITY-TRUST",
        "claimant_kind": "community_group",
        "service_description": "run the youth service",
        "lodged_on": date(2026, 6, 1),
        "response_due_on": domain.response_due(RULES, date(2026, 6, 1)),
    }
    return domain.Claim(**(fields | changes))


def test_a_claim_must_be_answered_within_the_place_s_response_days() -> None:
    assert domain.response_due(RULES, date(2026, 6, 1)) == date(2026, 7, 27)


def test_a_claim_is_flagged_overdue_the_day_after_its_deadline_and_only_once() -> None:
    assert domain.claim_overdue(a_claim(), "GM", date(2026, 7, 27)) is None
    overdue = domain.claim_overdue(a_claim(), "GM", date(2026, 7, 28))
    assert overdue is not None and overdue.response_due_on == date(2026, 7, 27)
    assert domain.claim_overdue(a_claim(overdue_flagged=True), "GM", date(2026, 8, 1)) is None


def test_an_answered_claim_is_never_overdue() -> None:
    assert (
        domain.claim_overdue(a_claim(status=domain.CLAIM_ANSWERED), "GM", date(2027, 1, 1)) is None
    )


def test_a_late_answer_is_recorded_as_late() -> None:
    answered, late = domain.claim_response(a_claim(), date(2026, 8, 1))
    assert (answered.status, late) == (domain.CLAIM_ANSWERED, True)


def test_a_claim_is_answered_once() -> None:
    with pytest.raises(Refused, match="claim RTS-1 has already been answered"):
        domain.check_claim_answerable("GM", a_claim(status=domain.CLAIM_ANSWERED), "RTS-1")


def test_the_same_claim_lodged_again_changes_nothing_and_another_under_its_id_is_refused() -> None:
    assert domain.lodge_claim(a_place(), a_claim(), a_claim()) is None
    with pytest.raises(Refused, match="claim RTS-1 already exists in GM with other details"):
        domain.lodge_claim(a_place(), a_claim(), a_claim(claimant_id="OTHER"))


def test_percentages_are_written_without_trailing_zeros() -> None:
    assert [domain.percent(bp) for bp in (2000, 1250, 1, 10_000)] == [
        "20%",
        "12.5%",
        "0.01%",
        "100%",
    ]


# --- Releases the ledger refuses --------------------------------------------------------------


def test_a_refused_release_counts_the_money_as_reserved_again_and_says_so() -> None:
    cancelled = domain.cancel(funded(), "stopped").allocation
    change = domain.release_refused(cancelled, 50_000_00, "exceeds its remaining reservation")
    assert change.allocation.release_requested_pence == 0
    assert change.events == (
        ReleaseRefused(
            place_id="GM",
            allocation_id="A-1",
            amount_pence=50_000_00,
            reason="exceeds its remaining reservation",
        ),
    )


def test_after_a_refused_release_an_ended_allocation_asks_again_for_what_is_now_unspent() -> None:
    cancelled = domain.cancel(funded(), "stopped").allocation
    # An outcome payment the ledger made just before the release explains the refusal.
    paid = domain.payment_made(cancelled, "C-1/B-1", 8_000_00).allocation
    change = domain.release_refused(paid, 50_000_00, "exceeds its remaining reservation")
    assert change.events[-1] == ReservationReleaseRequested(
        place_id="GM", allocation_id="A-1", amount_pence=42_000_00, reason="cancelled"
    )


def test_a_running_allocation_does_not_ask_again_after_a_refused_release() -> None:
    change = domain.release_refused(funded(), 10_000_00, "closed period")
    assert [type(event) for event in change.events] == [ReleaseRefused]


# --- Funding rules named by the allocation ----------------------------------------------------

WORK = FundingStream(department_code="DWP", funding_stream_code="WORK")
HEALTH = FundingStream(department_code="DHSC", funding_stream_code="HEALTH")
DORMANT = FundingStream(department_code="DCMS", funding_stream_code="DORMANT-ASSETS")


def test_the_streams_an_allocation_names_travel_with_its_reservation() -> None:
    place = a_place(earmarks=(NOT_STATUTORY,))
    allocation = proposed(
        funding_streams=(WORK, HEALTH),
        excluded_funding_streams=(HEALTH,),
        purpose_tags=("statutory-services",),
    )
    year = a_year(750_000_00, streams=DORMANT_ASSETS)
    change = domain.decide(place, allocation, year, approved_tally(), "mayor")
    [requested] = [e for e in change.events if isinstance(e, ReservationRequested)]
    assert requested.eligible_streams == (WORK, HEALTH)
    # The allocation's own exclusion and the earmark's, in (department, stream) order.
    assert requested.excluded_streams == (DORMANT, HEALTH)


def test_an_allocation_with_funding_rules_is_stored_and_read_back_unchanged() -> None:
    allocation = proposed(funding_streams=(WORK,), excluded_funding_streams=(DORMANT,))
    adapter = TypeAdapter(domain.Allocation)
    assert adapter.validate_json(adapter.dump_json(allocation)) == allocation


def test_an_allocation_stored_before_funding_rules_reads_with_none() -> None:
    adapter = TypeAdapter(domain.Allocation)
    document = json.loads(adapter.dump_json(proposed()))
    del document["proposal"]["funding_streams"], document["proposal"]["excluded_funding_streams"]
    allocation = adapter.validate_python(document)
    assert allocation.proposal.funding_streams == ()
    assert allocation.proposal.excluded_funding_streams == ()
