"""What the board sees of duplicate funding before it votes: for each open proposal of a place,
the recipient's other funding for a similar purpose (services/gateway/monitoring/duplicates.py)."""

from __future__ import annotations

import asyncpg

from services.gateway.monitoring import db, duplicates


async def board_overlaps(connection: asyncpg.Connection, place_id: str) -> dict[str, list[str]]:
    """Allocation id of each proposal still to be voted on → sentences about other funding."""
    every = await db.fundings(connection, (*db.FUNDING_STATUSES, "proposed"))
    funded = [f for f in every if f.status in db.FUNDING_STATUSES]
    overlaps = {}
    for proposal in every:
        if proposal.place_id != place_id or proposal.status != "proposed":
            continue
        facts = duplicates.already_funded(proposal, funded)
        if facts:
            overlaps[proposal.allocation_id] = facts
    return overlaps
