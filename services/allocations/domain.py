"""The allocations service's pure rules: an allocation's proposal and the statuses it moves through.

No I/O here. Functions take the current status and return the next one, or raise an
`IllegalTransition` whose message says what was asked and why it cannot happen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from contracts import AllocationType
from services.allocations.errors import IllegalTransition

PROPOSED = "proposed"
APPROVED = "approved"
REJECTED = "rejected"
FUNDED = "funded"
UNFUNDED = "unfunded"

# The only moves an allocation may make. Funding is the ledger's answer to an approval, so
# only an approved allocation can become funded or unfunded.
NEXT_STATUSES: dict[str, frozenset[str]] = {
    PROPOSED: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({FUNDED, UNFUNDED}),
    REJECTED: frozenset(),
    FUNDED: frozenset(),
    UNFUNDED: frozenset(),
}


@dataclass(frozen=True)
class Proposal:
    """What the board is asked to commit, as proposed; the allocation id is its idempotency key."""

    allocation_id: str
    allocation_type: AllocationType
    recipient_id: str
    purpose: str
    mission_id: str
    start_date: date
    end_date: date
    value_pence: int
    financial_year: str
    proposed_by: str


@dataclass(frozen=True)
class Allocation:
    """A proposal and where it has got to."""

    place_id: str
    proposal: Proposal
    status: str


def differing_fields(existing: Proposal, incoming: Proposal) -> tuple[str, ...]:
    """The names of the fields in which two proposals of the same allocation id disagree."""
    return tuple(
        field.name
        for field in dataclasses.fields(Proposal)
        if getattr(existing, field.name) != getattr(incoming, field.name)
    )


def transition(status: str, new_status: str) -> str:
    """Return `new_status` if an allocation in `status` may move to it, else raise."""
    if new_status not in NEXT_STATUSES.get(status, frozenset()):
        raise IllegalTransition(f"an allocation that is {status} cannot become {new_status}")
    return new_status


def decide(status: str, decision: str) -> str:
    """The board's decision ("approved" or "rejected") applied to an allocation in `status`."""
    assert decision in (APPROVED, REJECTED), f"unknown decision {decision!r}"
    return transition(status, decision)


def fund(status: str) -> str:
    """The ledger reserved the money: an approved allocation becomes funded."""
    return transition(status, FUNDED)


def leave_unfunded(status: str) -> str:
    """The ledger refused the reservation: an approved allocation becomes unfunded."""
    return transition(status, UNFUNDED)


def rejection_reason(reason: str, decided_by: str) -> str:
    """The reason to publish for a rejection; the command allows an empty one, the event not."""
    return reason or f"rejected by {decided_by} without a stated reason"


StatusRule = Callable[[str], str]
"""A rule that takes an allocation's status and returns the next, or raises IllegalTransition."""
