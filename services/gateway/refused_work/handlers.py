"""Read-model handlers for refused work: evidence batches refused at intake (through the
gateway's existing named query) and grant instalments the ledger refused (this room's table)."""

from __future__ import annotations

from contracts.allocations import InstalmentRetried, InstalmentUnpaid, InstalmentUnpayable
from contracts.outcomes import OutcomesCommandRefused
from services.gateway import db
from services.gateway.refused_work import db as room_db
from services.runtime.consumer import HandlerContext


async def on_outcomes_command_refused(
    context: HandlerContext, event: OutcomesCommandRefused
) -> None:
    """A refused evidence batch is shown as a rejected batch with its reason, as it was when
    outcomes published `EvidenceRejected` for it; the command's status shows every refusal."""
    if event.command_type != "SubmitEvidence":
        return
    await db.upsert_evidence_batch(
        context.connection,
        {
            "place_id": event.place_id,
            "contract_id": event.contract_id,
            "batch_id": event.subject_id,
            "status": "rejected",
            "reasons": [event.reason],
        },
    )


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
