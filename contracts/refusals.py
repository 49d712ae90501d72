"""One refusal shape for every service: which command was refused, by whom, under which rule,
why in a sentence, and the figures; read out of each service's own refusal events.

Allocations, outcomes and the ledger refuse with the one refusal event,
`contracts.decisions.CommandRefused` (outcomes' former `OutcomesCommandRefused` and the ledger's
former `RequestRejected` are read as it, `contracts.upcasting.RENAMED`); the older and other
refusal events (`CommandRejected` from outcomes, the specific reservation and payment refusals
from the ledger) stay readable as they are. `refusal_of` reads any of them, old or new, as one
`Refusal`, so a reader (the gateway's command status, a page) never needs to know
which service decided. The command is found through the envelope: a service wraps what it
decides with the command's envelope as causation, so the correlation id is the command's id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import Field

from contracts.allocations import AllocationUnfunded, ReleaseRefused
from contracts.base import Event
from contracts.decisions import CommandRefused
from contracts.envelope import Envelope
from contracts.ledger import PaymentRejected, ReservationRejected
from contracts.outcomes import (
    ClawbackRefused,
    CommandRejected,
    EvidenceRejected,
    OpenBookRejected,
    OutcomesContractRejected,
)
from contracts.values import TEXT_LENGTH_MAX, Figures, Identifier, Text, ValueObject


class Refusal(ValueObject):
    """A command refused: the same fields whichever service decided."""

    command_id: UUID
    place_id: Identifier
    command_type: Identifier
    subject_id: Identifier
    rule: Identifier
    reason: Text
    figures: Figures = Field(default_factory=dict)
    decided_by: Identifier


def _from_refusal(event: CommandRefused) -> dict[str, Any]:
    """The one refusal event (`contracts.decisions.CommandRefused`), read as it is."""
    return {
        "command_type": event.command_type,
        "subject_id": event.subject_id,
        "rule": event.rule,
        "reason": event.reason,
        "figures": event.figures,
    }


def _from_outcomes(event: CommandRejected) -> dict[str, Any]:
    return {
        "command_type": event.command_type,
        "subject_id": event.contract_id,
        "rule": event.rule or "outcomes_command_valid",
        "reason": _joined(event.reasons),
        "figures": event.figures,
    }


def _from_reservation(event: ReservationRejected) -> dict[str, Any]:
    return {
        "command_type": "ReservationRequested",
        "subject_id": event.allocation_id,
        "rule": event.rule or "reservation_within_unreserved_pot",
        "reason": event.reason,
        "figures": event.figures
        or {"amount_pence": event.amount_pence, "unreserved_pence": event.unreserved_pence},
    }


def _from_unfunded(event: AllocationUnfunded) -> dict[str, Any]:
    return {
        "command_type": "ReservationRequested",
        "subject_id": event.allocation_id,
        "rule": "reservation_within_unreserved_pot",
        "reason": event.reason,
        "figures": {},
    }


def _from_payment(event: PaymentRejected) -> dict[str, Any]:
    return {
        "command_type": "PaymentRequested",
        "subject_id": event.payment_id,
        "rule": event.rule or "payment_within_reservation",
        "reason": event.reason,
        "figures": event.figures or {"amount_pence": event.amount_pence},
    }


def _from_release(event: ReleaseRefused) -> dict[str, Any]:
    return {
        "command_type": "ReservationReleaseRequested",
        "subject_id": event.allocation_id,
        "rule": "release_within_reservation",
        "reason": event.reason,
        "figures": {"amount_pence": event.amount_pence},
    }


def _from_evidence(event: EvidenceRejected) -> dict[str, Any]:
    return {
        "command_type": "SubmitEvidence",
        "subject_id": event.batch_id,
        "rule": "evidence_batch_valid",
        "reason": _joined(event.reasons),
        "figures": {},
    }


def _from_registration(event: OutcomesContractRejected) -> dict[str, Any]:
    return {
        "command_type": "RegisterOutcomesContract",
        "subject_id": event.contract_id,
        "rule": "contract_fits_allocation",
        "reason": _joined(event.reasons),
        "figures": {},
    }


def _from_open_book(event: OpenBookRejected) -> dict[str, Any]:
    return {
        "command_type": "SubmitOpenBook",
        "subject_id": event.period_id,
        "rule": "open_book_complete",
        "reason": _joined(event.reasons),
        "figures": {},
    }


def _from_clawback(event: ClawbackRefused) -> dict[str, Any]:
    return {
        "command_type": "ClawBackClaim",
        "subject_id": event.clawback_id,
        "rule": "clawback_of_a_paid_claim",
        "reason": event.reason,
        "figures": {},
    }


def _joined(reasons: tuple[str, ...]) -> str:
    """Several reasons as one sentence a person reads, cut (saying so) at the text limit."""
    joined = "; ".join(reasons)
    if len(joined) <= TEXT_LENGTH_MAX:
        return joined
    return joined[: TEXT_LENGTH_MAX - 20] + " … (and more)"


READERS: dict[type[Event], Callable[[Any], dict[str, Any]]] = {
    CommandRefused: _from_refusal,
    CommandRejected: _from_outcomes,
    ReservationRejected: _from_reservation,
    AllocationUnfunded: _from_unfunded,
    PaymentRejected: _from_payment,
    ReleaseRefused: _from_release,
    EvidenceRejected: _from_evidence,
    OutcomesContractRejected: _from_registration,
    OpenBookRejected: _from_open_book,
    ClawbackRefused: _from_clawback,
}
"""Every event that refuses a command, with how it reads as a `Refusal`."""

REFUSAL_EVENTS: tuple[type[Event], ...] = tuple(READERS)


def refusal_of(envelope: Envelope, event: Event) -> Refusal | None:
    """The event as a `Refusal` of the command it answers, or None when it refuses nothing."""
    reader = READERS.get(type(event))
    if reader is None:
        return None
    return Refusal(
        command_id=envelope.correlation_id,
        place_id=event.place_id,
        decided_by=envelope.producer,
        **reader(event),
    )
