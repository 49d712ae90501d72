"""Cross-references a command makes to another aggregate (a contract naming an allocation),
checked against the gateway's read models before the command is accepted, so a reference the
gateway can already see is wrong is a 422 naming the field rather than a refusal later.

The read models lag the services slightly, so only what is known to be wrong is refused: an
allocation not known anywhere yet passes here, and the owning service decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import Event
from contracts.allocations import SignOffAllocation
from contracts.outcomes import RegisterOutcomesContract
from services.gateway.identity.auth import Gateway
from services.gateway.monitoring import gate
from services.gateway.problems import ProblemError, invalid
from services.gateway.projections import db


def contract_allocation_problem(
    command: RegisterOutcomesContract, allocations: Sequence[dict[str, Any]]
) -> ProblemError | None:
    """Why a contract cannot draw on its allocation, given every place's allocation of that
    id; None when nothing known says it is wrong."""
    own = [row for row in allocations if row["place_id"] == command.place_id]
    if not own:
        if not allocations:
            return None
        places = ", ".join(row["place_id"] for row in allocations)
        return invalid(
            "allocation_id",
            "same_place",
            f"allocation {command.allocation_id} belongs to {places}, not {command.place_id}: "
            "a contract draws on an allocation of its own place",
        )
    allocation = own[0]
    if allocation["allocation_type"] != "outcomes_contract":
        return invalid(
            "allocation_id",
            "outcomes_contract",
            f"allocation {command.allocation_id} is a {allocation['allocation_type']}, "
            "not an outcomes_contract",
        )
    if allocation["recipient_id"] != command.provider_id:
        return invalid(
            "provider_id",
            "allocation_recipient",
            f"allocation {command.allocation_id} is for {allocation['recipient_id']}, "
            f"not {command.provider_id}",
        )
    return None


async def check(gateway: Gateway, command: Event) -> None:
    """Raise a 422 for a reference the read models show to be wrong (and a 409 for a sign-off
    the recipient's red due diligence rating blocks: services/gateway/monitoring/gate.py)."""
    if isinstance(command, SignOffAllocation):
        await gate.check_sign_off(gateway, command)
        return
    if not isinstance(command, RegisterOutcomesContract):
        return
    async with gateway.pool.acquire() as connection:
        allocations = await db.allocations_with_id(connection, command.allocation_id)
    problem = contract_allocation_problem(command, allocations)
    if problem is not None:
        raise problem
