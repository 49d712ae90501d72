"""Events on the allocations topics: board commands and what happened to each allocation."""

from datetime import date
from typing import Literal

from pydantic import model_validator

from contracts.base import Event
from contracts.money import Pence, PositivePence
from contracts.topics import ALLOCATIONS_COMMANDS, ALLOCATIONS_LIFECYCLE
from contracts.values import FinancialYear, Identifier, Text

AllocationType = Literal["grant", "partnership_agreement", "outcomes_contract"]
VariationKind = Literal["value_up", "value_down", "extension", "purpose"]


class _AllocationProposal(Event, abstract=True):
    """The fields of a proposal, shared by the command and the event that records it."""

    allocation_id: Identifier
    allocation_type: AllocationType
    recipient_id: Identifier
    purpose: Text
    mission_id: Identifier
    start_date: date
    # Every allocation ends: contracts rolled over by default are a failure the papers document.
    end_date: date
    value_pence: PositivePence
    financial_year: FinancialYear
    proposed_by: Identifier

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "_AllocationProposal":
        if self.end_date <= self.start_date:
            raise ValueError(
                f"end_date ({self.end_date}) must be after start_date ({self.start_date})"
            )
        return self


# --- Commands (ALLOCATIONS_COMMANDS) ----------------------------------------------------------


class ProposeAllocation(_AllocationProposal):
    """Propose committing part of the pot to a programme or provider."""

    topic = ALLOCATIONS_COMMANDS


class DecideAllocation(Event):
    """Record the board's decision on a proposed allocation."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    decision: Literal["approved", "rejected"]
    decided_by: Identifier
    reason: str = ""


# --- Lifecycle (ALLOCATIONS_LIFECYCLE) --------------------------------------------------------


class AllocationProposed(_AllocationProposal):
    """An allocation was proposed to the board."""

    topic = ALLOCATIONS_LIFECYCLE


class AllocationApproved(Event):
    """The board approved an allocation; it is funded only once the ledger reserves it."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    allocation_type: AllocationType
    recipient_id: Identifier
    value_pence: Pence
    financial_year: FinancialYear
    decided_by: Identifier


class AllocationRejected(Event):
    """The board rejected a proposed allocation."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    reason: Text


class AllocationVaried(Event):
    """An allocation was changed; every variation is recorded with its reason."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    change: VariationKind
    reason: Text
    previous_value_pence: Pence
    new_value_pence: Pence
    new_end_date: date | None
    new_purpose: Text | None

    @model_validator(mode="after")
    def _change_matches_the_figures(self) -> "AllocationVaried":
        problem = _variation_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def _variation_problem(varied: AllocationVaried) -> str | None:
    previous, new = varied.previous_value_pence, varied.new_value_pence
    if varied.change == "value_up" and new <= previous:
        return f"value_up needs new_value_pence ({new}) above previous_value_pence ({previous})"
    if varied.change == "value_down" and new >= previous:
        return f"value_down needs new_value_pence ({new}) below previous_value_pence ({previous})"
    if varied.change == "extension" and varied.new_end_date is None:
        return "an extension needs new_end_date"
    if varied.change == "purpose" and varied.new_purpose is None:
        return "a purpose change needs new_purpose"
    return None


class AllocationCancelled(Event):
    """An allocation was cancelled; the ledger releases what is unspent."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    reason: Text


class AllocationExpired(Event):
    """An allocation reached its end date; the ledger releases what is unspent."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    end_date: date


class AllocationFunded(Event):
    """The ledger reserved the money for an approved allocation."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    amount_pence: Pence


class AllocationUnfunded(Event):
    """The ledger could not reserve the money for an approved allocation."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    reason: Text
