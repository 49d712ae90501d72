"""The insights room's API: the liability forecast for the board, the accounting officer and
finance staff (`read.board`), and the place's own rules for it (`allocations.manage_board`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal
from urllib.parse import quote

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.insights import db, domain, unit_costs
from services.gateway.intake import check_storable, identifier_path, parse_json_object, read_body
from services.gateway.opendata.api import published
from services.gateway.problems import ProblemError

AS_OF = Query(None, description="The day to forecast from (default: today).")


class PlaceRulesBody(BaseModel):
    """The place's choices for the insights figures."""

    model_config = ConfigDict(extra="forbid")

    liability_test: Literal["maximum", "expected", "off"] = Field(
        description="The figure each year is tested on: maximum, expected or off."
    )
    provider_share_max_basis_points: int = Field(
        ge=1,
        le=10_000,
        description="A provider's share of the pot past which the board is told (2500 = 25%).",
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


CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string", "pattern": domain.UNIT_COST_CSV_PATTERN},
                "example": ",".join(domain.UNIT_COST_COLUMNS)
                + "\nJOB,DWP,400000,900000,GMCA unit cost database (illustrative),2024\n",
            }
        },
    }
}
VERSION = Query(
    None, ge=1, le=2**31 - 1, description="A version of the table (default: the latest)."
)


def unit_cost_rows(table: list[domain.UnitCost]) -> list[dict[str, Any]]:
    return [vars(unit) for unit in table]


async def reform_dividend(connection: asyncpg.Connection, place_id: str) -> dict[str, Any]:
    """The place's outcomes paid valued by its latest unit-cost table, with the table's version
    and sources (aggregates per contract, mission and place; never a person)."""
    version, table = await db.unit_costs(connection, place_id)
    paid = await db.outcomes_paid(connection, place_id)
    return {
        "place_id": place_id,
        "unit_costs_version": version,
        "sources": sorted({f"{unit.source} ({unit.source_year})" for unit in table}),
        **domain.reform_dividend(paid, table),
    }


EXTENSION = (
    "singlepot insights, version 1: a documented extension of the place's open data (README: "
    "Insights) holding the reform dividend and the figures places are compared on. Aggregates "
    "per metric, contract, mission and place only: never a person."
)


async def open_insights(connection: asyncpg.Connection, place_id: str) -> dict[str, Any]:
    """The place's insights open-data document."""
    version, table = await db.unit_costs(connection, place_id)
    paid = await db.outcomes_paid(connection, place_id)
    figures = domain.place_figures(
        paid,
        await db.metric_targets(connection, place_id),
        await db.funded_purposes(connection, place_id),
        await db.evidence_to_payment_days(connection, place_id),
    )
    dividend = await reform_dividend(connection, place_id)
    return {
        "extension": EXTENSION,
        "place_id": place_id,
        "personal_data": "none: aggregates only",
        "unit_costs": {"version": version, "rows": unit_cost_rows(table)},
        "reform_dividend": {
            key: dividend[key] for key in ("sources", "place", "missions", "contracts")
        },
        "figures": figures,
    }


def open_data_routes(gateway: Gateway) -> APIRouter:
    """`/open-data/places/{place_id}/insights.json`, for anyone (GET and HEAD)."""
    router = APIRouter(
        tags=["open data"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(404, 422),
    )

    async def insights_json(request: Request, place_id: str = identifier_path()) -> Response:
        """The reform dividend and the comparison figures of a place (a documented extension
        of its open data; aggregates only)."""
        check_storable(place_id, "place_id")
        async with gateway.pool.acquire() as connection:
            if not await db.place_known(connection, place_id):
                raise ProblemError(404, "not-found", f"no place {place_id} publishes open data")
            document = await open_insights(connection, place_id)
        body = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return published(request, body, "application/json")

    path = "/open-data/places/{place_id}/insights.json"
    router.add_api_route(path, insights_json, methods=["GET"])
    router.add_api_route(path, insights_json, methods=["HEAD"], include_in_schema=False)
    return router


COMPARED_PLACES_MAX = 20
PLACES = Query(
    None,
    max_length=COMPARED_PLACES_MAX,
    description="Places of this installation to compare (default: every place it knows).",
)


async def places_compared(
    connection: asyncpg.Connection, place_ids: list[str] | None
) -> dict[str, Any]:
    """This installation's places side by side, each from the document its open data serves."""
    chosen = place_ids or await db.known_places(connection, COMPARED_PLACES_MAX)
    documents, unknown = [], []
    for place_id in dict.fromkeys(chosen):
        check_storable(place_id, "place")
        if not await db.place_known(connection, place_id):
            unknown.append(place_id)
            continue
        source = f"/open-data/places/{quote(place_id, safe='')}/insights.json"
        documents.append((source, await open_insights(connection, place_id)))
    return {**domain.compare(documents), "unknown_places": unknown}


def compare_routes(gateway: Gateway) -> APIRouter:
    """`/api/v1/places-compared`, for anyone: the public and the Office for Place."""
    router = APIRouter(
        tags=["insights"], route_class=GuardedRoute, responses=problems.openapi_responses(422)
    )

    @router.get("/api/v1/places-compared")
    async def compared(place: list[str] | None = PLACES) -> dict[str, Any]:
        """Places side by side from their insights open data: per metric and mission the unit
        cost (paid per outcome) and outcomes against targets; per place the share of the pot by
        purpose, days from evidence to payment and the clawback rate. Another installation's
        places are compared by URL with `singlepot compare URL…`."""
        async with gateway.pool.acquire() as connection:
            return await places_compared(connection, place)

    return router


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/insights",
        tags=["insights"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(400, 401, 403, 413, 422),
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

    @router.post("/unit-costs", status_code=201, openapi_extra=CSV_BODY)
    async def load_unit_costs(
        request: Request, place_id: str = place, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """Load a unit-cost table from CSV (header: metric_id, beneficiary_agency,
        fiscal_saving_pence, public_value_pence, source, source_year) as the place's next
        version; earlier versions are kept."""
        require(principal, Permission.MANAGE_BOARD, place_id, what="the place's unit costs")
        check_storable(place_id, "place_id")
        raw = await read_body(request, gateway.settings.gateway_request_bytes_max)
        try:
            text = raw.decode("utf-8")
            check_storable(text, "body")
            table = unit_costs.table_of(text)
        except UnicodeDecodeError:
            raise problems.invalid("body", "utf8", "the CSV must be UTF-8 text") from None
        except domain.UnitCostsRefused as refused:
            raise problems.invalid(refused.field, refused.rule, str(refused)) from None
        async with gateway.pool.acquire() as connection:
            version = await db.load_unit_costs(connection, place_id, table, principal.principal_id)
        return {"place_id": place_id, "version": version, "unit_costs": unit_cost_rows(table)}

    @router.get("/unit-costs")
    async def read_unit_costs(
        place_id: str = place, version: int | None = VERSION, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """A version of the place's unit-cost table (the latest by default), with sources."""
        require(principal, Permission.READ_POT, place_id, what="the place's unit costs")
        async with gateway.pool.acquire() as connection:
            found, table = await db.unit_costs(connection, place_id, version)
        return {"place_id": place_id, "version": found, "unit_costs": unit_cost_rows(table)}

    @router.get("/reform-dividend")
    async def dividend(place_id: str = place, principal: Principal = CALLER) -> dict[str, Any]:
        """Per contract, mission and place: outcomes paid, fiscal savings by beneficiary agency,
        public value and value per £1 paid, from the place's latest unit-cost table."""
        require(principal, Permission.READ_POT, place_id, what="the place's reform dividend")
        async with gateway.pool.acquire() as connection:
            return await reform_dividend(connection, place_id)

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
