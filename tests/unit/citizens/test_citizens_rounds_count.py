"""The participatory budgeting count (greedy by votes within the budget) against figures worked
by hand, its tie-breaks, and the round's phases, proposals and ballots rules."""

from __future__ import annotations

from datetime import date

from services.gateway.citizens import domain
from services.gateway.citizens.domain import Tallied

POUND = 100


def test_the_count_matches_the_figures_worked_by_hand() -> None:
    # Budget £100,000. In count order: B and A tie on 120 votes, so the cheaper B goes first;
    # E and D tie on 60, so E (£5,000) before D (£22,000).
    #   B £35,000 → £65,000 left; A £40,000 → £25,000 left; C £30,000 does not fit, passed
    #   over; E £5,000 → £20,000 left; D £22,000 does not fit; F fits but has no votes.
    proposals = [
        Tallied("a", 40_000 * POUND, 120),
        Tallied("b", 35_000 * POUND, 120),
        Tallied("c", 30_000 * POUND, 90),
        Tallied("d", 22_000 * POUND, 60),
        Tallied("e", 5_000 * POUND, 60),
        Tallied("f", 1_000 * POUND, 0),
    ]
    counted = domain.count(100_000 * POUND, proposals)
    assert [winner.proposal_id for winner in counted.winners] == ["b", "a", "e"]
    assert [p.proposal_id for p in counted.not_funded] == ["c", "d", "f"]
    assert counted.funded_pence == 80_000 * POUND
    assert counted.unspent_pence == 20_000 * POUND


def test_equal_votes_and_cost_go_by_the_smaller_proposal_id_whatever_the_input_order() -> None:
    tied = [Tallied("2b", 60 * POUND, 10), Tallied("1a", 60 * POUND, 10)]
    for order in (tied, list(reversed(tied))):
        counted = domain.count(100 * POUND, order)
        assert [winner.proposal_id for winner in counted.winners] == ["1a"]
        assert counted.unspent_pence == 40 * POUND


def test_a_round_with_no_votes_funds_nothing_and_releases_everything() -> None:
    counted = domain.count(500, [Tallied("a", 100, 0)])
    assert counted.winners == () and counted.funded_pence == 0 and counted.unspent_pence == 500


DATES = domain.RoundDates(date(2026, 5, 1), date(2026, 5, 31), date(2026, 6, 10), date(2026, 6, 20))


def test_the_dates_decide_the_phase_and_counting_ends_it() -> None:
    phases = [
        domain.round_phase(DATES, False, day)
        for day in (
            date(2026, 4, 30),
            date(2026, 5, 31),
            date(2026, 6, 1),
            date(2026, 6, 10),
            date(2026, 6, 20),
            date(2026, 6, 21),
        )
    ]
    assert phases == ["upcoming", "proposing", "moderating", "voting", "voting", "closed"]
    assert domain.round_phase(DATES, True, date(2026, 6, 21)) == "counted"
    assert domain.dates_problem(DATES) is None
    overlapping = domain.RoundDates(
        DATES.proposals_open_on, DATES.voting_open_on, DATES.voting_open_on, DATES.voting_close_on
    )
    assert domain.dates_problem(overlapping) is not None


def test_a_proposal_must_fit_the_round_and_a_ballot_the_budget() -> None:
    areas, purposes = ("north", "south"), ("parks",)
    assert domain.proposal_problem("north", "parks", 100, areas, purposes, 100) is None
    assert domain.proposal_problem("east", "parks", 1, areas, purposes, 100)[:2] == (  # type: ignore[index]
        "area",
        "eligible_area",
    )
    assert domain.proposal_problem("north", "roads", 1, areas, purposes, 100)[1] == (  # type: ignore[index]
        "eligible_purpose"
    )
    assert domain.proposal_problem("north", "parks", 101, areas, purposes, 100)[1] == (  # type: ignore[index]
        "within_budget"
    )
    assert domain.ballot_problem({"a": 60, "b": 40}, 100) is None
    assert domain.ballot_problem({"a": 60, "b": 41}, 100)[0] == "within_budget"  # type: ignore[index]
    assert domain.ballot_problem({"a": 60, "x": None}, 100)[0] == "accepted_proposal"  # type: ignore[index]
