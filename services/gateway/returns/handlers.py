"""What the returns room keeps from the ledger's results, beside the read models' own handlers:
each receipt with the day it happened (the partner returns' income), and each year-end risk
share with its partners' figures, its stream moves mirrored into the pot overview."""

from __future__ import annotations

from contracts import Event, ReceiptRecorded, RiskShareApplied
from services.gateway import db as gateway_db
from services.gateway import domain
from services.gateway.returns import db
from services.runtime.consumer import Handler, HandlerContext


async def on_receipt_recorded(context: HandlerContext, event: ReceiptRecorded) -> None:
    await db.note_partner_receipt(
        context.connection,
        event.place_id,
        event.receipt_id,
        event.financial_year,
        event.department_code,
        event.funding_stream_code,
        event.amount_pence,
        context.envelope.occurred_at,
    )


async def on_risk_share_applied(context: HandlerContext, event: RiskShareApplied) -> None:
    """Keep the risk share's figures, and move each stream's unreserved mirror by what the
    ledger moved, so the pot overview keeps agreeing with the ledger."""
    share = event.model_dump(mode="json")
    await db.note_risk_share(context.connection, share, context.envelope.occurred_at)
    changes = [
        domain.PotStreamChange(
            event.place_id,
            event.financial_year,
            move.department_code,
            move.funding_stream_code,
            available_pence=move.amount_pence,
        )
        for move in event.moves
    ]
    if changes:
        await gateway_db.add_to_pot_streams(context.connection, domain.combined(changes))


RETURNS_HANDLERS: dict[type[Event], Handler] = {
    ReceiptRecorded: on_receipt_recorded,  # type: ignore[dict-item]
    RiskShareApplied: on_risk_share_applied,  # type: ignore[dict-item]
}


def alongside(handlers: dict[type[Event], Handler]) -> dict[type[Event], Handler]:
    """The read models' handlers, each event's returns handler run after its own."""

    def both(first: Handler | None, second: Handler) -> Handler:
        async def handle(context: HandlerContext, event: Event) -> None:
            if first is not None:
                await first(context, event)
            await second(context, event)

        handle.__name__ = getattr(first, "__name__", getattr(second, "__name__", "handle"))
        return handle

    combined = dict(handlers)
    for kind, handler in RETURNS_HANDLERS.items():
        combined[kind] = both(handlers.get(kind), handler)
    return combined
