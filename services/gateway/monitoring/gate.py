"""The due diligence gate on the command path: a sign-off of an allocation whose recipient is
rated red (and not overridden by the accounting officer) is refused before it is sent, naming
the rule and the reasons. Called from `services.gateway.references.check`."""

from __future__ import annotations

from contracts.allocations import SignOffAllocation
from services.gateway import problems
from services.gateway.identity.auth import Gateway
from services.gateway.monitoring import db, service


async def check_sign_off(gateway: Gateway, command: SignOffAllocation) -> None:
    if command.decision != "signed_off":
        return  # refusing to sign off is never blocked
    async with gateway.pool.acquire() as connection:
        allocation = await db.grant_of(connection, command.place_id, command.allocation_id)
        if allocation is None:
            return  # not known here yet: the allocations service decides
        blocked = await service.blocked_reason(
            connection, command.place_id, allocation["recipient_id"]
        )
    if blocked is not None:
        raise problems.invalid(
            "allocation_id",
            "recipient_due_diligence",
            f"sign-off waits: {blocked}. The accounting officer may override the red rating "
            "with a recorded reason",
            409,
        )
