"""Read-model handlers for refused work: grant instalments the ledger refused, awaiting a retry,
retried, or needing attention (this room's table)."""

from __future__ import annotations

from contracts.allocations import InstalmentRetried, InstalmentUnpaid, InstalmentUnpayable
from contracts.events import Event
from services.gateway.refused_work import db as room_db
from services.runtime.consumer import Handler, HandlerContext


async def on_instalment_unpaid(context: HandlerContext, event: InstalmentUnpaid) -> None:
    """Refused: it waits for money when the next due-work run may retry it; a refusal that
    cannot pass is recorded by `on_instalment_unpayable`, which follows it."""
    if not event.will_retry:
        return
    await room_db.record_instalment(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.instalment_number,
        event.payment_id,
        "awaiting_retry",
        event.rule,
        event.reason,
        None,
        context.envelope.occurred_at,
    )


async def on_instalment_retried(context: HandlerContext, event: InstalmentRetried) -> None:
    await room_db.record_instalment(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.instalment_number,
        event.payment_id,
        "retried",
        None,
        f"asked again on {event.as_of}: the reservation holds {event.available_pence} pence, "
        f"{event.available_at_refusal_pence} when {event.refused_payment_id} was refused",
        event.amount_pence,
        context.envelope.occurred_at,
    )


async def on_instalment_unpayable(context: HandlerContext, event: InstalmentUnpayable) -> None:
    await room_db.record_instalment(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.instalment_number,
        event.payment_id,
        "needs_attention",
        event.rule,
        event.reason,
        event.amount_pence,
        context.envelope.occurred_at,
    )


HANDLERS: dict[type[Event], Handler] = {
    InstalmentUnpaid: on_instalment_unpaid,
    InstalmentRetried: on_instalment_retried,
    InstalmentUnpayable: on_instalment_unpayable,
}
