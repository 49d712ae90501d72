"""Settling a participatory budgeting round: winners become grants whose money is moved from
the round's reservation, the rest is released, a repeat changes nothing, and a round that is
not one (or is short) is refused with the rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from contracts import AllocationApproved, AllocationProposed, ReservationReleaseRequested
from contracts.allocations import (
    ParticipatoryRoundSettled,
    RoundWinner,
    SettleParticipatoryRound,
)
from contracts.ledger import ReservationTransferRequested
from services.allocations import domain, rounds

PLACE = "GM"


def a_round(value_pence: int = 100_000_00, **changes: object) -> domain.Allocation:
    proposal = domain.Proposal(
        allocation_id="PB-2026",
        allocation_type="partnership_agreement",
        recipient_id="citizens",
        purpose="Participatory budgeting 2026",
        mission_id="M-1",
        start_date=date(2026, 5, 1),
        end_date=date(2027, 3, 31),
        value_pence=value_pence,
        financial_year="2026-27",
        proposed_by="chair",
        purpose_tags=("participatory-budgeting", "community"),
    )
    allocation = domain.Allocation(
        place_id=PLACE,
        proposal=proposal,
        status=domain.FUNDED,
        value_pence=value_pence,
        end_date=proposal.end_date,
        purpose=proposal.purpose,
        purpose_tags=proposal.purpose_tags,
        instalments=(),
        reserved_pence=value_pence,
    )
    return replace(allocation, **changes)  # type: ignore[arg-type]


def settle(*amounts: int) -> SettleParticipatoryRound:
    return SettleParticipatoryRound(
        place_id=PLACE,
        allocation_id="PB-2026",
        round_id="R-2026",
        winners=tuple(
            RoundWinner(
                allocation_id=f"PB-2026-W{number}",
                recipient_id=f"group-{number}",
                purpose=f"project {number}",
                amount_pence=amount,
            )
            for number, amount in enumerate(amounts, start=1)
        ),
        start_date=date(2026, 9, 1),
        end_date=date(2027, 3, 1),
        settled_by="finance-1",
    )


def test_winners_are_funded_by_moves_and_the_rest_is_released() -> None:
    decision = rounds.decide_settle_round(a_round(), {}, settle(40_000_00, 35_000_00))
    assert decision.state is not None
    round_after, winners = decision.state
    assert [w.status for w in winners] == [domain.RESERVATION_REQUESTED] * 2
    assert [w.instalments[0].amount_pence for w in winners] == [40_000_00, 35_000_00]
    assert winners[0].purpose_tags == ("community",)
    moves = [e for e in decision.events if isinstance(e, ReservationTransferRequested)]
    assert [(m.from_allocation_id, m.amount_pence) for m in moves] == [
        ("PB-2026", 40_000_00),
        ("PB-2026", 35_000_00),
    ]
    [release] = [e for e in decision.events if isinstance(e, ReservationReleaseRequested)]
    assert release.amount_pence == 25_000_00
    # Every move is asked for before the release, so the ledger funds the winners first.
    kinds = [type(e) for e in decision.events]
    assert kinds.index(ReservationReleaseRequested) > max(
        index for index, kind in enumerate(kinds) if kind is ReservationTransferRequested
    )
    [settled] = [e for e in decision.events if isinstance(e, ParticipatoryRoundSettled)]
    assert (settled.funded_pence, settled.released_pence) == (75_000_00, 25_000_00)
    assert sum(isinstance(e, AllocationProposed | AllocationApproved) for e in decision.events) == 4
    assert round_after.status == domain.CANCELLED and round_after.unspent_pence == 0


def test_settling_the_same_round_again_changes_nothing() -> None:
    first = rounds.decide_settle_round(a_round(), {}, settle(40_000_00))
    assert first.state is not None
    again = rounds.decide_settle_round(first.state[0], {}, settle(40_000_00))
    assert again.state is None and not again.events and not again.refused


def test_winners_costing_more_than_the_round_holds_are_refused() -> None:
    decision = rounds.decide_settle_round(a_round(50_00), {}, settle(30_00, 20_01))
    assert decision.refusal is not None and decision.refusal.rule == "winners_within_round"
    assert decision.refusal.figures == {"funded_pence": 50_01, "reserved_pence": 50_00}


def test_only_a_funded_partnership_agreement_tagged_as_a_round_can_be_settled() -> None:
    untagged = a_round(purpose_tags=("community",))
    grant = a_round(proposal=replace(a_round().proposal, allocation_type="grant"))
    unfunded = a_round(status=domain.UNFUNDED)
    rules = [
        rounds.decide_settle_round(allocation, {}, settle(1_00)).refusal
        for allocation in (untagged, grant, unfunded)
    ]
    assert [rule.rule if rule else None for rule in rules] == [
        "participatory_budgeting_round",
        "round_is_partnership_agreement",
        "round_funded",
    ]


def test_a_refused_move_is_released_from_the_ended_round() -> None:
    decision = rounds.decide_settle_round(a_round(100_00), {}, settle(60_00))
    assert decision.state is not None
    change = rounds.move_refused(decision.state[0], 60_00)
    [release] = change.events
    assert isinstance(release, ReservationReleaseRequested) and release.amount_pence == 60_00
