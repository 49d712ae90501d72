"""What the returns room keeps from the ledger's results, beside the read models' own handlers:
each receipt with the day it happened (the partner returns' income), and each year-end risk
share with its partners' figures, its stream moves mirrored into the pot overview, and each
partner's adjustment told to it in its department feed (`kind: "risk_share"`): the ledger
counts money moved between partners as each partner's spend, so the feeds and `singlepot
reconcile` keep agreeing with it."""

from __future__ import annotations

from contracts import Event, ReceiptRecorded, RiskShareApplied
from services.gateway.delivery import db as delivery_db
from services.gateway.projections import db as projections_db
from services.gateway.projections import domain
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
        await projections_db.add_to_pot_streams(context.connection, domain.combined(changes))
        await delivery_db.append_department_spend(context.connection, _feed_views(context, event))


def _feed_views(context: HandlerContext, event: RiskShareApplied) -> list[delivery_db.SpendView]:
    """Per partner whose streams moved, the adjustment as its feed shows it: positive when the
    partner now bears more of the pool's spend (money left its streams), negative when less."""
    views = []
    for partner in event.partners:
        moves = [m for m in event.moves if m.department_code == partner.department_code]
        if not moves:
            continue
        borne_more_pence = -sum(move.amount_pence for move in moves)
        record = {
            "kind": "risk_share",
            "place_id": event.place_id,
            "spend_id": f"risk_share/{event.transfer_id}",
            "risk_share_id": event.risk_share_id,
            "financial_year": event.financial_year,
            "purpose": f"risk share {event.risk_share_id} under {event.agreement_reference}",
            "amount_pence": borne_more_pence,
            "department_code": partner.department_code,
            "department_amount_pence": borne_more_pence,
            "attribution": [
                {
                    "department_code": move.department_code,
                    "funding_stream_code": move.funding_stream_code,
                    "amount_pence": -move.amount_pence,
                }
                for move in moves
            ],
            "agreed_share_pence": partner.agreed_share_pence,
            "transfer_id": event.transfer_id,
            "applied_at": context.envelope.occurred_at.isoformat(),
        }
        views.append(
            delivery_db.SpendView(
                partner.department_code,
                borne_more_pence,
                record,
                event.place_id,
                str(record["spend_id"]),
                context.envelope.event_id,
                context.envelope.traceparent,
            )
        )
    return views


HANDLERS: dict[type[Event], Handler] = {
    ReceiptRecorded: on_receipt_recorded,  # type: ignore[dict-item]
    RiskShareApplied: on_risk_share_applied,  # type: ignore[dict-item]
}
