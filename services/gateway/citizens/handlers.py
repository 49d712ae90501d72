"""What the citizens room keeps of the services' events: a counted round's settlement that the
allocations service refused (its CommandRefused names the round's settle command as its cause),
so the round's public page says the winners were not funded, by which rule and why. `app.py`
hands these handlers to the projections room, which runs them in the projector's transaction."""

from __future__ import annotations

from contracts import Event
from contracts.allocations import SettleParticipatoryRound
from contracts.decisions import CommandRefused
from services.gateway.citizens import db, domain
from services.runtime.consumer import Handler, HandlerContext


async def on_command_refused(context: HandlerContext, event: CommandRefused) -> None:
    """A refused settlement is kept on the round it settles (other refusals change nothing)."""
    settle_event_id = context.envelope.causation_id
    if (
        event.decided_by != "allocations"
        or event.command_type != SettleParticipatoryRound.event_type
        or settle_event_id is None
    ):
        return
    refusal = domain.SettlementRefusal(event.rule, event.reason, context.envelope.occurred_at)
    await db.settlement_refused(context.connection, event.place_id, settle_event_id, refusal)


HANDLERS: dict[type[Event], Handler] = {CommandRefused: on_command_refused}
