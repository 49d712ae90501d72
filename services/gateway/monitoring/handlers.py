"""The grant monitoring room's read of the public events: the instalments the allocations
service holds and releases, and what became of each approved claim (sent for payment, paid, or
refused with its reason). `HANDLERS` is merged into the gateway's registry."""

from __future__ import annotations

from contracts import Event, PaymentMade
from contracts.allocations import (
    GrantClaimPaymentRequested,
    InstalmentHeld,
    InstalmentHoldReleased,
    PayGrantClaim,
)
from contracts.decisions import CommandRefused
from contracts.ledger import PaymentRejected
from services.gateway.monitoring import db
from services.runtime.consumer import Handler, HandlerContext


async def on_instalment_held(context: HandlerContext, event: InstalmentHeld) -> None:
    await db.record_hold(
        context.connection, event.place_id, event.model_dump(), context.envelope.occurred_at
    )


async def on_hold_released(context: HandlerContext, event: InstalmentHoldReleased) -> None:
    await db.release_hold(
        context.connection, event.place_id, event.model_dump(), context.envelope.occurred_at
    )


async def on_claim_payment_requested(
    context: HandlerContext, event: GrantClaimPaymentRequested
) -> None:
    await db.claim_payment_requested(
        context.connection, event.place_id, event.claim_id, event.payment_id
    )


async def on_payment_made(context: HandlerContext, event: PaymentMade) -> None:
    """A claim's payment reached the recipient (other payments change no claim)."""
    await db.claim_paid(context.connection, event.place_id, event.payment_id)


async def on_payment_rejected(context: HandlerContext, event: PaymentRejected) -> None:
    """The ledger refused a claim's payment: the claim is refused with the ledger's reason and
    no longer counts against what remains (other payments change no claim)."""
    await db.claim_payment_refused(
        context.connection, event.place_id, event.payment_id, event.reason
    )


async def on_command_refused(context: HandlerContext, event: CommandRefused) -> None:
    """A claim the allocations service would not pay is refused, with its reason and figures."""
    causation = context.envelope.causation_id
    if event.command_type != PayGrantClaim.event_type or causation is None:
        return
    await db.claim_refused(context.connection, event.place_id, causation, event.reason)


# The room's handlers; `app.py` hands them to the projections room, which runs each after the
# read models' own handler of the same event (payments and refusals have one).
HANDLERS: dict[type[Event], Handler] = {
    InstalmentHeld: on_instalment_held,
    InstalmentHoldReleased: on_hold_released,
    GrantClaimPaymentRequested: on_claim_payment_requested,
    PaymentMade: on_payment_made,
    PaymentRejected: on_payment_rejected,
    CommandRefused: on_command_refused,
}
