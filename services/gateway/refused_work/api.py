"""Refused grant instalments over HTTP, for finance staff (`read.payments`): those waiting for
money to come into their reservation, those retried, and those that need a person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from contracts.money import format_pounds
from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.refused_work import db


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}",
        tags=["payments"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422),
    )
    place = identifier_path()

    @router.get("/refused-instalments")
    async def refused_instalments(
        place_id: str = place, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """Grant instalments the ledger refused, those needing a person first: `awaiting_retry`
        (the next due-work run asks again once money comes into the reservation), `retried`
        (asked again under a new payment id), `needs_attention` (retrying cannot pass)."""
        require(principal, Permission.READ_PAYMENTS, place_id, what="the place's payments")
        async with gateway.pool.acquire() as connection:
            rows = await db.refused_instalments(connection, place_id)
        return {
            "place_id": place_id,
            "instalments": [
                {
                    **row,
                    "updated_at": row["updated_at"].isoformat(),
                    "amount": None
                    if row["amount_pence"] is None
                    else format_pounds(row["amount_pence"]),
                }
                for row in rows
            ],
        }

    return router
