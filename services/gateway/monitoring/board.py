"""What the board sees of duplicate funding before it votes: for each open proposal of a place,
the recipient's other funding for a similar purpose (services/gateway/monitoring/duplicates.py),
on the board's page and in its list of proposals, `GET /api/v1/places/{place_id}/board/proposals`
(the projections room's view of each proposal, with `already_funded`)."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter

from services.gateway.domain import Permission
from services.gateway.identity.auth import Gateway
from services.gateway.monitoring import db, duplicates
from services.gateway.projections import views
from services.gateway.projections.api import PlaceList, place_lists_router


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


async def proposals_with_overlaps(
    connection: asyncpg.Connection, place_id: str, _: int | None = None
) -> list[dict[str, Any]]:
    """The board's proposals, each with `already_funded`: sentences about the recipient's other
    funding for a similar purpose (empty when none, and once the proposal is decided)."""
    proposals = await views.board_proposals(connection, place_id)
    overlaps = await board_overlaps(connection, place_id)
    return [
        {**proposal, "already_funded": overlaps.get(proposal["allocation_id"], [])}
        for proposal in proposals
    ]


BOARD_PROPOSALS = PlaceList(
    "board/proposals",
    "board_proposals",
    "allocations",
    Permission.READ_BOARD,
    "proposals",
    "Proposals with votes, recusals, decision, sign-off state, refusals, earmark check, and "
    "`already_funded`: what the recipient already holds for a similar purpose.",
    proposals_with_overlaps,
)


def routes(gateway: Gateway) -> APIRouter:
    """`GET /api/v1/places/{place_id}/board/proposals`, served as the read models' lists are."""
    return place_lists_router(gateway, (BOARD_PROPOSALS,))
