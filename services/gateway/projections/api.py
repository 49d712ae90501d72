"""The read models over HTTP under `/api/v1`: the pot, statements, spend, payments, allocations,
contracts and evidence, and the views the web pages show (`views.py`), as JSON. Each read checks
the caller's grant again after its door, so a door made too wide cannot widen what it reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import APIRouter, Query

from contracts.values import FINANCIAL_YEAR_PATTERN, FINANCIAL_YEAR_PATTERN_SHAPE
from services.gateway import intake, problems
from services.gateway.domain import Permission, Principal, Role
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.projections import db, views
from services.gateway.projections import domain as projections_domain

JsonObject = dict[str, Any]

QUERY_PROBLEMS = problems.openapi_responses(401, 403, 404, 422, 429)

# A list of the place's rows: (connection, place_id, limit) → rows; limit is None when unpaged.
PlaceRows = Callable[[asyncpg.Connection, str, int | None], Awaitable[list[Any]]]


@dataclass(frozen=True)
class PlaceList:
    """One read of a place's rows: `GET /places/{place_id}/<path>` answers
    `{"place_id": ..., <key>: [rows]}` to a caller who may read `permission` in the place."""

    path: str
    name: str
    tag: str
    permission: Permission
    key: str
    description: str
    rows: PlaceRows
    paged: bool = False


PLACE_LISTS = (
    PlaceList(
        "statements",
        "statements",
        "ledger",
        Permission.READ_STATEMENTS,
        "statements",
        "One statement per financial year: totals, and whether the year is closed.",
        lambda connection, place_id, _: db.statements_for_place(connection, place_id),
    ),
    PlaceList(
        "spend",
        "spend",
        "ledger",
        Permission.READ_SPEND,
        "spend",
        "Every spend event of the place, with every department's share.",
        lambda connection, place_id, limit: db.spend_for_place(connection, place_id, limit or 0),
        paged=True,
    ),
    PlaceList(
        "payments",
        "payments",
        "ledger",
        Permission.READ_PAYMENTS,
        "payments",
        "Payments made or refused, with recoveries.",
        lambda connection, place_id, limit: db.payments_for_place(connection, place_id, limit or 0),
        paged=True,
    ),
    PlaceList(
        "allocations",
        "allocations",
        "allocations",
        Permission.READ_ALLOCATIONS,
        "allocations",
        "Allocations and where each stands (proposed, approved, funded, ...).",
        lambda connection, place_id, limit: db.allocations_for_place(
            connection, place_id, limit or 0
        ),
        paged=True,
    ),
    PlaceList(
        "decisions",
        "public_decisions",
        "allocations",
        Permission.READ_ALLOCATIONS,
        "decisions",
        "The place's decisions with their vote tallies, as the public may read them.",
        lambda connection, place_id, _: views.public_decisions(connection, place_id),
    ),
    PlaceList(
        "claims",
        "claims",
        "allocations",
        Permission.READ_CLAIMS,
        "claims",
        "Right to Serve and Right to Request claims, with deadlines and overdue flags.",
        lambda connection, place_id, _: views.claims(connection, place_id),
    ),
)


# A list of one outcomes contract's rows: (connection, place_id, contract_id) → rows.
ContractRows = Callable[[asyncpg.Connection, str, str], Awaitable[list[Any]]]


@dataclass(frozen=True)
class ContractList:
    """One read of an outcomes contract's rows:
    `GET /places/{place_id}/outcomes-contracts/{contract_id}/<path>` answers
    `{"place_id": ..., "contract_id": ..., <key>: [rows]}` to a caller who may read the place's
    contracts, or the contract's own provider."""

    path: str
    name: str
    key: str
    description: str
    rows: ContractRows


CONTRACT_LISTS = (
    ContractList(
        "targets",
        "outcomes_against_targets",
        "metrics",
        "Per metric: outcomes paid against target and caps; a provider's own contracts only.",
        views.outcomes_against_targets,
    ),
    ContractList(
        "funnel",
        "funnel_by_segment",
        "segments",
        "Referred, engaged and paid by difficulty segment; a provider's own contracts only.",
        views.funnel_by_segment,
    ),
)


def contract_list_endpoint(gateway: Gateway, read: ContractList) -> Callable[..., Any]:
    """The endpoint of one contract list: the door is the contract's provider's, so the
    contract is looked up before the caller's grant is checked again."""

    async def endpoint(
        place_id: str = identifier_path(),
        contract_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        _check_path(place_id=place_id, contract_id=contract_id)
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
            require(principal, Permission.READ_CONTRACTS, place_id, provider, what=contract_id)
            rows = await read.rows(connection, place_id, contract_id)
        return {"place_id": place_id, "contract_id": contract_id, read.key: rows}

    endpoint.__name__ = read.name
    endpoint.__doc__ = read.description
    return endpoint


def place_list_endpoint(gateway: Gateway, read: PlaceList) -> Callable[..., Any]:
    """The endpoint of one place list; paged lists take `limit` (1 to the page size maximum)."""
    place = identifier_path()

    async def answer(place_id: str, principal: Principal, limit: int | None) -> JsonObject:
        _readable(principal, read.permission, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await read.rows(connection, place_id, limit)
        return {"place_id": place_id, read.key: rows}

    if not read.paged:

        async def unpaged(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
            return await answer(place_id, principal, None)

        return unpaged

    limit_query = Query(100, ge=1, le=gateway.settings.gateway_page_size_max)

    async def paged(
        place_id: str = place, limit: int = limit_query, principal: Principal = CALLER
    ) -> JsonObject:
        return await answer(place_id, principal, limit)

    return paged


def place_lists_router(gateway: Gateway, lists: tuple[PlaceList, ...]) -> APIRouter:
    """A router serving each of `lists` as `GET /api/v1/places/{place_id}/<path>` (rooms above
    serve their own lists this way: the board's proposals, services/gateway/monitoring/board.py)."""
    router = APIRouter(prefix="/api/v1", responses=QUERY_PROBLEMS, route_class=GuardedRoute)
    for read in lists:
        router.add_api_route(
            f"/places/{{place_id}}/{read.path}",
            place_list_endpoint(gateway, read),
            methods=["GET"],
            name=read.name,
            description=read.description,
            tags=[read.tag],
        )
    return router


def routes(gateway: Gateway) -> APIRouter:
    router = place_lists_router(gateway, PLACE_LISTS)
    place = identifier_path()
    page_max = gateway.settings.gateway_page_size_max
    year_query = Query(
        None,
        pattern=FINANCIAL_YEAR_PATTERN_SHAPE,
        json_schema_extra={"pattern": FINANCIAL_YEAR_PATTERN},
        description='A financial year, "2026-27".',
    )
    department_query = Query(None, min_length=1, max_length=128)

    @router.get("/places/{place_id}/pot", tags=["ledger"])
    async def pot(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """The pot by stream and year: settled, received, reserved, paid and available."""
        _readable(principal, Permission.READ_POT, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.pot_for_place(connection, place_id)
        return {"place_id": place_id, **projections_domain.pot_overview(rows)}

    @router.get("/places/{place_id}/outcomes-contracts", tags=["outcomes"])
    async def contracts(
        place_id: str = place,
        limit: int = Query(100, ge=1, le=page_max),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Outcomes contracts; a provider sees its own only."""
        _readable(principal, Permission.READ_CONTRACTS, place_id)
        providers = _providers_visible(principal, Permission.READ_CONTRACTS, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.contracts_for_place(connection, place_id, providers, limit)
        return {"place_id": place_id, "contracts": rows}

    @router.get("/places/{place_id}/outcomes-contracts/{contract_id}/evidence", tags=["outcomes"])
    async def evidence(
        place_id: str = place,
        contract_id: str = identifier_path(),
        limit: int = Query(100, ge=1, le=page_max),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Evidence batches of a contract and what became of them; a provider's own only."""
        _check_path(place_id=place_id, contract_id=contract_id)
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
            require(principal, Permission.READ_EVIDENCE, place_id, provider, what=contract_id)
            rows = await db.evidence_for_contract(connection, place_id, contract_id, limit)
        return {"place_id": place_id, "contract_id": contract_id, "batches": rows}

    @router.get("/places/{place_id}/pot/overview", tags=["ledger"])
    async def pot_overview(
        place_id: str = place,
        financial_year: str | None = year_query,
        principal: Principal = CALLER,
    ) -> JsonObject:
        """The pot in one financial year (default: the latest) by stream and department."""
        _readable(principal, Permission.READ_POT, place_id)
        async with gateway.pool.acquire() as connection:
            return await views.pot_overview(connection, place_id, financial_year)

    @router.get("/places/{place_id}/spend/monthly", tags=["ledger"])
    async def spend_over_time(
        place_id: str = place,
        department_code: str | None = department_query,
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Spend per month and department, with each department's running total; a department
        may read its own."""
        _check_path(place_id=place_id)
        if department_code is not None:
            _check_path(department_code=department_code)
        if department_code is None or not principal.may(
            Permission.READ_DEPARTMENT_SPEND, place_id, department_code
        ):
            require(principal, Permission.READ_SPEND, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await views.spend_over_time(connection, place_id, department_code)
        return {"place_id": place_id, "months": rows}

    @router.get("/places/{place_id}/providers/{provider_id}/overview", tags=["outcomes"])
    async def provider_overview(
        place_id: str = place,
        provider_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """A provider's contracts, batches, remittances, payments and statement; its own only."""
        _check_path(place_id=place_id, provider_id=provider_id)
        require(principal, Permission.READ_CONTRACTS, place_id, provider_id, what=provider_id)
        async with gateway.pool.acquire() as connection:
            return await views.provider_overview(connection, place_id, provider_id)

    @router.get("/places/{place_id}/verification-queue", tags=["outcomes"])
    async def verifier_queue(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """Batches awaiting a verifier's decision, with the claims drawn (pseudonymous)."""
        _check_path(place_id=place_id)
        require(principal, Permission.READ_EVIDENCE, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await views.verifier_queue(connection, place_id)
        return {"place_id": place_id, "batches": rows}

    @router.get("/places/{place_id}/departments/{department_code}/spend", tags=["ledger"])
    async def department_spend(
        place_id: str = place,
        department_code: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Spend attributed to one department's streams in the place; its own only."""
        _check_path(place_id=place_id, department_code=department_code)
        require(
            principal,
            Permission.READ_DEPARTMENT_SPEND,
            place_id,
            department_code,
            what=department_code,
        )
        async with gateway.pool.acquire() as connection:
            rows = await views.department_spend(connection, place_id, department_code)
        return {"place_id": place_id, "department_code": department_code, "spend": rows}

    for contract_read in CONTRACT_LISTS:
        router.add_api_route(
            f"/places/{{place_id}}/outcomes-contracts/{{contract_id}}/{contract_read.path}",
            contract_list_endpoint(gateway, contract_read),
            methods=["GET"],
            name=contract_read.name,
            tags=["outcomes"],
        )
    return router


def _check_path(**values: str) -> None:
    for name, value in values.items():
        intake.check_storable(value, name)


def _readable(principal: Principal, permission: Permission, place_id: str) -> None:
    """403 unless some grant lets the principal read this in the place: whole when bound to no
    subject, or (a provider) its own rows only. The route's door has checked this already;
    the endpoint checks again so a door entry made too wide cannot widen what it reads."""
    _check_path(place_id=place_id)
    if principal.sees_everything(permission, place_id):
        return
    if principal.subjects(permission, place_id, Role.PROVIDER):
        return
    require(principal, permission, place_id)


def _providers_visible(
    principal: Principal, permission: Permission, place_id: str
) -> list[str] | None:
    """None when every provider's rows are visible, else the providers the caller is."""
    if principal.sees_everything(permission, place_id):
        return None
    return sorted(principal.subjects(permission, place_id, Role.PROVIDER))
