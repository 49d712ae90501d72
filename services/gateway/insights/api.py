"""The insights room's API: the liability forecast for the board, the accounting officer and
finance staff (`read.board`), and the place's own rules for it (`allocations.manage_board`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.gateway import problems
from services.gateway.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.domain import Permission, Principal
from services.gateway.insights import db, domain
from services.gateway.intake import identifier_path, parse_json_object, read_body

AS_OF = Query(None, description="The day to forecast from (default: today).")


class PlaceRulesBody(BaseModel):
    """The place's choices for the insights figures."""

    model_config = ConfigDict(extra="forbid")

    liability_test: str = Field(description="maximum, expected or off")
    provider_share_max_basis_points: int = Field(
        description="A provider's share of the pot past which the board is told (2500 = 25%)."
    )


RULES_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PlaceRulesBody.model_json_schema()}},
    }
}


async def liability_forecast(
    connection: asyncpg.Connection, place_id: str, as_of: date
) -> dict[str, Any]:
    """The place's forecast with its flagged proposals, under its own liability test."""
    rules = await db.place_rules(connection, place_id)
    commitments = await db.commitments(connection, place_id)
    funding = await db.funding(connection, place_id)
    result = domain.forecast(commitments, funding, as_of, rules.liability_test)
    flags = domain.proposal_flags(commitments, funding, as_of, rules.liability_test)
    return {"place_id": place_id, **domain.forecast_figures(result, flags)}


async def provider_concentration(connection: asyncpg.Connection, place_id: str) -> dict[str, Any]:
    """The place's provider concentration by year, flagged at its own threshold."""
    rules = await db.place_rules(connection, place_id)
    figures = domain.concentration(
        await db.allocation_flows(connection, place_id),
        await db.payment_flows(connection, place_id),
        await db.provider_facts(connection, place_id),
        rules.provider_share_max_basis_points,
    )
    return {"place_id": place_id, **figures}


async def board_papers(
    connection: asyncpg.Connection, place_id: str, today: date
) -> dict[str, Any]:
    """What the board's papers carry from this room: `forecast` and `concentration`."""
    return {
        "forecast": await liability_forecast(connection, place_id, today),
        "concentration": await provider_concentration(connection, place_id),
    }


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/insights",
        tags=["insights"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422),
    )
    place = identifier_path()

    @router.get("/liability-forecast")
    async def forecast(
        place_id: str = place, as_of: date | None = AS_OF, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """Year by year over the life of every funded allocation: the most the place may still
        pay (contract caps, planned claim periods, grant instalments), what it expects to pay,
        the money settled for the year and still to be received, and the years (and pending
        proposals) where liabilities exceed the year's settled money not yet paid out."""
        require(principal, Permission.READ_BOARD, place_id, what="the place's forecast")
        async with gateway.pool.acquire() as connection:
            return await liability_forecast(connection, place_id, as_of or date.today())

    @router.get("/provider-concentration")
    async def concentration(place_id: str = place, principal: Principal = CALLER) -> dict[str, Any]:
        """Per financial year, each provider's and each legal form's share of the pot's
        allocations and of its payments, the Herfindahl-Hirschman index, small or local
        providers' share (SME or VCSE in the organisations register), and every provider past
        the share the place set (`provider_share_max_basis_points`)."""
        require(principal, Permission.READ_BOARD, place_id, what="the place's providers")
        async with gateway.pool.acquire() as connection:
            return await provider_concentration(connection, place_id)

    @router.get("/rules")
    async def rules(place_id: str = place, principal: Principal = CALLER) -> dict[str, Any]:
        """The place's choices: the liability test and the provider share the board watches."""
        require(principal, Permission.READ_BOARD, place_id, what="the place's rules")
        async with gateway.pool.acquire() as connection:
            chosen = await db.place_rules(connection, place_id)
        return {"place_id": place_id, **vars(chosen)}

    @router.put("/rules", openapi_extra=RULES_BODY)
    async def set_rules(
        request: Request, place_id: str = place, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """Set the place's choices (idempotent: the same body twice leaves one row)."""
        require(principal, Permission.MANAGE_BOARD, place_id, what="the place's rules")
        raw = await read_body(request, gateway.settings.gateway_request_bytes_max)
        fields = parse_json_object(raw, gateway.settings.gateway_json_depth_max)
        try:
            body = PlaceRulesBody.model_validate(fields)
            chosen = domain.check_rules(body.liability_test, body.provider_share_max_basis_points)
        except ValidationError as error:
            raise problems.from_pydantic(error) from None
        except domain.RulesRefused as refused:
            raise problems.invalid(refused.field, refused.rule, str(refused)) from None
        async with gateway.pool.acquire() as connection:
            await db.set_place_rules(connection, place_id, chosen, principal.principal_id)
        return {"place_id": place_id, **vars(chosen)}

    return router
