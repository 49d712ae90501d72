"""The gateway's message handlers: they keep the read models up to date from ledger events."""

from __future__ import annotations

from contracts import Event, ReservationMade, SettlementRecorded, SpendRecorded
from services.gateway import db, domain
from services.runtime.consumer import Handler, HandlerContext


async def on_settlement_recorded(context: HandlerContext, event: SettlementRecorded) -> None:
    for change in domain.settled(event):
        await db.add_to_pot_stream(context.connection, change)


async def on_reservation_made(context: HandlerContext, event: ReservationMade) -> None:
    for change in domain.reserved(event):
        await db.add_to_pot_stream(context.connection, change)


async def on_spend_recorded(context: HandlerContext, event: SpendRecorded) -> None:
    # Spend carries its financial year, so the pot's "paid" column is built from it.
    for share in event.attribution:
        await db.add_to_pot_stream(
            context.connection,
            domain.PotStreamChange(
                event.place_id,
                event.financial_year,
                share.department_code,
                share.funding_stream_code,
                paid_pence=share.amount_pence,
            ),
        )
    await db.insert_spend(
        context.connection,
        event.spend_id,
        event.place_id,
        event.amount_pence,
        event.model_dump(mode="json"),
    )


HANDLERS: dict[type[Event], Handler] = {
    SettlementRecorded: on_settlement_recorded,
    ReservationMade: on_reservation_made,
    SpendRecorded: on_spend_recorded,
}
