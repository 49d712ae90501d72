"""The allocations domain's rules for participatory budgeting rounds: a round's budget is an
allocation the board approved like any other (so the ledger reserved it), and settling a
counted round makes each winner an allocation whose reservation is *moved* from the round's by
the ledger, then sends the rest of the round's budget back to the pot.

Pure, like `domain.py`, and kept beside it so that the allocation rules there stay as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace

from contracts import AllocationApproved, AllocationProposed, Event, format_pounds
from contracts.allocations import (
    PARTICIPATORY_BUDGETING_TAG,
    ParticipatoryRoundSettled,
    RoundWinner,
    SettleParticipatoryRound,
)
from contracts.decisions import Decision
from contracts.ledger import ReservationTransferRequested
from services.allocations import domain

ROUND_ALLOCATION_TYPE = "partnership_agreement"
"""A round's budget pays nobody itself: a partnership agreement has no instalments, so the
due-work run never pays it out; only its winners (grants) are paid."""

Settled = tuple[domain.Allocation, tuple[domain.Allocation, ...]]


def settled_reason(round_id: str) -> str:
    """The round allocation's status reason once settled: how a repeat is recognised."""
    return f"participatory budgeting round {round_id} counted: winners funded, the rest released"


def reservation_transfer_id(round_allocation_id: str, winner_allocation_id: str) -> str:
    """The ledger moves a winner's money once: the id is fixed by the round and the winner."""
    name = f"{round_allocation_id}\x00{winner_allocation_id}".encode()
    return f"pb-{hashlib.sha256(name).hexdigest()[:40]}"


def decide_settle_round(
    round_allocation: domain.Allocation | None,
    existing_winners: Mapping[str, domain.Allocation | None],
    command: SettleParticipatoryRound,
) -> Decision[Settled]:
    """Winners become grants funded by moving money from the round's reservation; the round
    ends and its unspent rest is released. The same round settled twice changes nothing."""
    if round_allocation is None:
        return Decision.refuse(
            "allocation_exists", f"no allocation {command.allocation_id} in {command.place_id}"
        )
    if round_allocation.status_reason == settled_reason(command.round_id):
        return Decision()
    refusal = _round_refusal(round_allocation, existing_winners, command)
    if refusal is not None:
        return refusal
    winners = tuple(_winner(round_allocation, command, winner) for winner in command.winners)
    funded_pence = sum(winner.amount_pence for winner in command.winners)
    moved = replace(
        round_allocation,
        release_requested_pence=round_allocation.release_requested_pence + funded_pence,
    )
    ended = domain.cancel(moved, settled_reason(command.round_id))
    released_pence = ended.allocation.release_requested_pence - moved.release_requested_pence
    events: list[Event] = [e for winner in winners for e in _winner_events(command, winner)]
    events.append(
        ParticipatoryRoundSettled(
            place_id=command.place_id,
            allocation_id=command.allocation_id,
            round_id=command.round_id,
            winners=command.winners,
            funded_pence=funded_pence,
            released_pence=released_pence,
        )
    )
    # The moves come before the release on the place's ordered stream, so the ledger decides
    # the winners' money before it gives the rest back.
    return Decision((ended.allocation, winners), (*events, *ended.events))


def _round_refusal(
    round_allocation: domain.Allocation,
    existing_winners: Mapping[str, domain.Allocation | None],
    command: SettleParticipatoryRound,
) -> Decision[Settled] | None:
    allocation_id = round_allocation.allocation_id
    if PARTICIPATORY_BUDGETING_TAG not in round_allocation.purpose_tags:
        return Decision.refuse(
            "participatory_budgeting_round",
            f"allocation {allocation_id} is not tagged {PARTICIPATORY_BUDGETING_TAG}",
        )
    if round_allocation.proposal.allocation_type != ROUND_ALLOCATION_TYPE:
        return Decision.refuse(
            "round_is_partnership_agreement",
            f"allocation {allocation_id} is a {round_allocation.proposal.allocation_type}; a "
            f"round's budget is a {ROUND_ALLOCATION_TYPE}, which pays nobody itself",
        )
    if round_allocation.status != domain.FUNDED:
        return Decision.refuse(
            "round_funded",
            f"allocation {allocation_id} is {round_allocation.status}; only a funded round "
            "can fund winners",
        )
    taken = sorted(key for key, found in existing_winners.items() if found is not None)
    if taken:
        return Decision.refuse(
            "winner_allocation_new", f"allocation ids already in use: {', '.join(taken)}"
        )
    funded_pence = sum(winner.amount_pence for winner in command.winners)
    held_pence = round_allocation.reservation_left_pence
    if funded_pence > held_pence:
        return Decision.refuse(
            "winners_within_round",
            f"the winners cost {format_pounds(funded_pence)}, more than the "
            f"{format_pounds(held_pence)} the round's reservation holds",
            {"funded_pence": funded_pence, "reserved_pence": held_pence},
        )
    return None


def _winner(
    round_allocation: domain.Allocation, command: SettleParticipatoryRound, winner: RoundWinner
) -> domain.Allocation:
    """A winner: a grant paid in one instalment on the start date, awaiting the ledger's move.
    It is proposed by the round (its budget allocation's id), which is how a refused move
    finds the round again."""
    proposal = domain.Proposal(
        allocation_id=winner.allocation_id,
        allocation_type="grant",
        recipient_id=winner.recipient_id,
        purpose=winner.purpose,
        mission_id=round_allocation.proposal.mission_id,
        start_date=command.start_date,
        end_date=command.end_date,
        value_pence=winner.amount_pence,
        financial_year=round_allocation.proposal.financial_year,
        proposed_by=round_allocation.allocation_id,
        purpose_tags=_winner_tags(round_allocation),
    )
    return domain.Allocation(
        place_id=command.place_id,
        proposal=proposal,
        status=domain.RESERVATION_REQUESTED,
        value_pence=winner.amount_pence,
        end_date=command.end_date,
        purpose=winner.purpose,
        purpose_tags=proposal.purpose_tags,
        instalments=domain.schedule_of(proposal),
    )


def _winner_tags(round_allocation: domain.Allocation) -> tuple[str, ...]:
    """The round's purpose tags, less the one marking a round: a winner is not a round."""
    return tuple(tag for tag in round_allocation.purpose_tags if tag != PARTICIPATORY_BUDGETING_TAG)


def _winner_events(
    command: SettleParticipatoryRound, winner: domain.Allocation
) -> tuple[AllocationProposed | AllocationApproved | ReservationTransferRequested, ...]:
    """A winner is recorded as proposed and approved (by the round's count), like any
    allocation, and its money is asked of the round's reservation."""
    proposal = winner.proposal
    return (
        AllocationProposed(
            place_id=command.place_id,
            allocation_id=proposal.allocation_id,
            allocation_type=proposal.allocation_type,
            recipient_id=proposal.recipient_id,
            purpose=proposal.purpose,
            mission_id=proposal.mission_id,
            start_date=proposal.start_date,
            end_date=proposal.end_date,
            value_pence=proposal.value_pence,
            financial_year=proposal.financial_year,
            proposed_by=proposal.proposed_by,
            purpose_tags=proposal.purpose_tags,
        ),
        AllocationApproved(
            place_id=command.place_id,
            allocation_id=proposal.allocation_id,
            allocation_type=proposal.allocation_type,
            recipient_id=proposal.recipient_id,
            value_pence=proposal.value_pence,
            financial_year=proposal.financial_year,
            decided_by=command.settled_by,
        ),
        ReservationTransferRequested(
            place_id=command.place_id,
            reservation_transfer_id=reservation_transfer_id(
                command.allocation_id, proposal.allocation_id
            ),
            from_allocation_id=command.allocation_id,
            to_allocation_id=proposal.allocation_id,
            amount_pence=proposal.value_pence,
            purpose=f"participatory budgeting round {command.round_id}: {proposal.purpose}",
        ),
    )


def move_refused(round_allocation: domain.Allocation, amount_pence: int) -> domain.Change:
    """The ledger refused to move a winner's money: it is still in the round's reservation, so
    it counts as held again and, the round having ended, is released to the pot."""
    kept = replace(
        round_allocation,
        release_requested_pence=round_allocation.release_requested_pence - amount_pence,
    )
    if kept.status not in domain.ENDED:
        return domain.Change(kept, ())
    return domain.release_unspent(kept)
