"""Read-model handlers for refused work: they write through the gateway's existing named
queries, so this room owns no SQL of its own."""

from __future__ import annotations

from contracts.outcomes import OutcomesCommandRefused
from services.gateway import db
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
