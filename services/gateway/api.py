"""The gateway's HTTP API under `/api/v1`: one endpoint per row of the command table (commands
become events through the outbox, idempotently), queries on the read models, and departments'
spend subscriptions (a feed, Server-Sent Events and webhooks). Every error is problem+json."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts import Event
from contracts.values import FINANCIAL_YEAR_PATTERN, FINANCIAL_YEAR_PATTERN_SHAPE
from services.gateway import (
    claim_results,
    command_status,
    db,
    domain,
    intake,
    ledger_reports,
    openapi_rules,
    problems,
    references,
    security,
    subscriptions,
    uploads,
)
from services.gateway.auth import (
    CALLER,
    Gateway,
    GuardedRoute,
    RateLimiter,
    require,
    require_some_subject,
)
from services.gateway.commands import COMMAND_ROUTES, CommandRoute, Subject
from services.gateway.domain import Permission, Principal, Role
from services.gateway.idempotency import idempotent
from services.gateway.insights import api as insights_api
from services.gateway.intake import identifier_path
from services.gateway.opendata import api as opendata_api
from services.gateway.opendata import register_api as organisations_api
from services.gateway.opendata import transparency_api
from services.gateway.returns import api as returns_api
from services.gateway.settings import GatewaySettings
from services.gateway.web import routes as web_routes
from services.runtime.host import ServiceHost
from services.runtime.outbox import Outbox
from services.runtime.telemetry import ServiceSpanMiddleware

JsonObject = dict[str, Any]

COMMAND_PROBLEMS = problems.openapi_responses(400, 401, 403, 404, 409, 413, 422, 429)
QUERY_PROBLEMS = problems.openapi_responses(401, 403, 404, 422, 429)


class Accepted(BaseModel):
    """A command accepted: it is on its way to the service that owns it. Its status is read at
    `Location: /api/v1/commands/{command_id}` (the command id is its event id)."""

    status: str
    event_id: str
    event_type: str
    command_id: str | None = None


# --- Commands, one endpoint per table row -----------------------------------------------------


async def _contract_provider(gateway: Gateway, path: dict[str, str]) -> str | None:
    async with gateway.pool.acquire() as connection:
        return await db.contract_provider(connection, path["place_id"], path["contract_id"])


def command_endpoint(gateway: Gateway, route: CommandRoute) -> Callable[..., Any]:
    """The endpoint of one command route; its signature is built from the route's path ids."""

    async def endpoint(
        request: Request, principal: Principal, idempotency_key: str, **path: str
    ) -> JSONResponse:
        for name, value in path.items():
            intake.check_storable(value, name)
        place_id = path["place_id"]
        subject: str | None = None
        if route.subject is Subject.CONTRACT_PROVIDER:
            subject = await _contract_provider(gateway, path)
            what = f"contract {path['contract_id']}"
            require(principal, route.permission, place_id, subject, what=what)
        else:
            require_some_subject(principal, route.permission, place_id)
        raw = await intake.read_body(request, gateway.settings.gateway_request_bytes_max)
        body = intake.parse_json_object(raw, gateway.settings.gateway_json_depth_max)
        command = intake.build_command(route, body, path, principal.principal_id)
        await references.check(gateway, command)
        if route.subject is Subject.CLAIMANT:
            claimant = getattr(command, "claimant_id", None)
            require(principal, route.permission, place_id, claimant, what=f"claimant {claimant}")
        if subject is not None and getattr(command, "provider_id", subject) != subject:
            raise problems.invalid(
                "provider_id", "contract_provider", f"this contract's provider is {subject}"
            )
        event_id = domain.command_event_id(principal.principal_id, idempotency_key)
        return await accept(gateway, principal, request, idempotency_key, command, event_id, body)

    key_header = Header(
        ...,
        description="Names this request: the same key and body again replays the response.",
        min_length=1,
        max_length=gateway.settings.gateway_idempotency_key_length_max,
    )
    parameters = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter(
            "principal",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Principal,
            default=CALLER,
        ),
        inspect.Parameter(
            "idempotency_key", inspect.Parameter.KEYWORD_ONLY, annotation=str, default=key_header
        ),
        *[
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str,
                default=intake.path_parameter(name),
            )
            for name in route.path_fields
        ],
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = f"command_{route.command.__name__}"
    return endpoint


async def accept(
    gateway: Gateway,
    principal: Principal,
    request: Request,
    idempotency_key: str,
    command: Event,
    event_id: uuid.UUID,
    body: JsonObject,
) -> JSONResponse:
    """Put the command in the outbox, once per Idempotency-Key, and answer 202."""

    accepted = {
        "status": "accepted",
        "event_id": str(event_id),
        "event_type": command.event_type,
        "command_id": str(event_id),
    }

    async def write(connection: asyncpg.Connection) -> tuple[int, JsonObject]:
        await Outbox(connection, producer="gateway").add(command, event_id=event_id)
        return 202, accepted

    response = await idempotent(
        gateway,
        principal,
        key=idempotency_key,
        method_path=f"POST {request.url.path}",
        body=body,
        place_id=command.place_id,
        event_type=command.event_type,
        event_id=event_id,
        action=write,
        known_response=(202, accepted),
    )
    if response.status_code == 202:
        response.headers["Location"] = command_status.location(event_id)
    return response


def body_schema(route: CommandRoute, components: dict[str, Any]) -> dict[str, Any]:
    """The request body's JSON schema: the command's fields less path ids and actor fields."""
    schema = route.command.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    hidden = set(route.path_fields) | set(route.actor_fields)
    schema["properties"] = {
        name: value for name, value in schema.get("properties", {}).items() if name not in hidden
    }
    schema["required"] = [name for name in schema.get("required", []) if name not in hidden]
    schema["title"] = f"{route.command.__name__}Body"
    return schema


def command_routes(gateway: Gateway, components: dict[str, Any]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", route_class=GuardedRoute)
    for route in COMMAND_ROUTES:
        router.add_api_route(
            route.path,
            command_endpoint(gateway, route),
            methods=["POST"],
            status_code=202,
            response_model=Accepted,
            responses=COMMAND_PROBLEMS,
            tags=[route.tag],
            summary=(route.command.__doc__ or route.command.__name__).split("\n")[0],
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body_schema(route, components)}},
                }
            },
        )
    return router


# --- Queries on the read models ---------------------------------------------------------------


def query_routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=QUERY_PROBLEMS, route_class=GuardedRoute)
    place = identifier_path()
    page_max = gateway.settings.gateway_page_size_max

    def limit_query(default: int = 100) -> Any:
        from fastapi import Query

        return Query(default, ge=1, le=page_max)

    @router.get("/me", tags=["identity"])
    async def me(principal: Principal = CALLER) -> JsonObject:
        """Who the token belongs to and what it may do."""
        return {
            "principal_id": principal.principal_id,
            "grants": [domain.format_grant(grant) for grant in principal.grants],
        }

    @router.get("/places/{place_id}/pot", tags=["ledger"])
    async def pot(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """The pot by stream and year: settled, received, reserved, paid and available."""
        _readable(principal, Permission.READ_POT, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.pot_for_place(connection, place_id)
        return {"place_id": place_id, **domain.pot_overview(rows)}

    @router.get("/places/{place_id}/statements", tags=["ledger"])
    async def statements(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """One statement per financial year: totals, and whether the year is closed."""
        _readable(principal, Permission.READ_STATEMENTS, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.statements_for_place(connection, place_id)
        return {"place_id": place_id, "statements": rows}

    @router.get("/places/{place_id}/spend", tags=["ledger"])
    async def spend(
        place_id: str = place,
        limit: int = limit_query(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Every spend event of the place, with every department's share."""
        _readable(principal, Permission.READ_SPEND, place_id)
        async with gateway.pool.acquire() as connection:
            records = await db.spend_for_place(connection, place_id, limit)
        return {"place_id": place_id, "spend": records}

    @router.get("/places/{place_id}/payments", tags=["ledger"])
    async def payments(
        place_id: str = place,
        limit: int = limit_query(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Payments made or refused, with recoveries."""
        _readable(principal, Permission.READ_PAYMENTS, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.payments_for_place(connection, place_id, limit)
        return {"place_id": place_id, "payments": rows}

    @router.get("/places/{place_id}/allocations", tags=["allocations"])
    async def allocations(
        place_id: str = place,
        limit: int = limit_query(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Allocations and where each stands (proposed, approved, funded, ...)."""
        _readable(principal, Permission.READ_ALLOCATIONS, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.allocations_for_place(connection, place_id, limit)
        return {"place_id": place_id, "allocations": rows}

    @router.get("/places/{place_id}/outcomes-contracts", tags=["outcomes"])
    async def contracts(
        place_id: str = place,
        limit: int = limit_query(),
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
        limit: int = limit_query(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Evidence batches of a contract and what became of them; a provider's own only."""
        _check_path(place_id=place_id, contract_id=contract_id)
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
            require(principal, Permission.READ_EVIDENCE, place_id, provider, what=contract_id)
            rows = await db.evidence_for_contract(connection, place_id, contract_id, limit)
        return {"place_id": place_id, "contract_id": contract_id, "batches": rows}

    # --- The views the web pages show (services/gateway/views.py), as JSON ------------------

    from fastapi import Query

    from services.gateway import views

    year_query = Query(
        None,
        pattern=FINANCIAL_YEAR_PATTERN_SHAPE,
        json_schema_extra={"pattern": FINANCIAL_YEAR_PATTERN},
        description='A financial year, "2026-27".',
    )
    department_query = Query(None, min_length=1, max_length=128)

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

    @router.get("/places/{place_id}/board/proposals", tags=["allocations"])
    async def board_proposals(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """Proposals with votes, recusals, decision, sign-off state, refusals, earmark check."""
        _readable(principal, Permission.READ_BOARD, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await views.board_proposals(connection, place_id)
        return {"place_id": place_id, "proposals": rows}

    @router.get("/places/{place_id}/decisions", tags=["allocations"])
    async def public_decisions(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """The place's decisions with their vote tallies, as the public may read them."""
        _readable(principal, Permission.READ_ALLOCATIONS, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await views.public_decisions(connection, place_id)
        return {"place_id": place_id, "decisions": rows}

    @router.get("/places/{place_id}/claims", tags=["allocations"])
    async def claims(place_id: str = place, principal: Principal = CALLER) -> JsonObject:
        """Right to Serve and Right to Request claims, with deadlines and overdue flags."""
        _readable(principal, Permission.READ_CLAIMS, place_id)
        async with gateway.pool.acquire() as connection:
            rows = await views.claims(connection, place_id)
        return {"place_id": place_id, "claims": rows}

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

    @router.get("/places/{place_id}/outcomes-contracts/{contract_id}/targets", tags=["outcomes"])
    async def outcomes_against_targets(
        place_id: str = place,
        contract_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Per metric: outcomes paid against target and caps; a provider's own contracts only."""
        _check_path(place_id=place_id, contract_id=contract_id)
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
            require(principal, Permission.READ_CONTRACTS, place_id, provider, what=contract_id)
            rows = await views.outcomes_against_targets(connection, place_id, contract_id)
        return {"place_id": place_id, "contract_id": contract_id, "metrics": rows}

    @router.get("/places/{place_id}/outcomes-contracts/{contract_id}/funnel", tags=["outcomes"])
    async def funnel_by_segment(
        place_id: str = place,
        contract_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Referred, engaged and paid by difficulty segment; a provider's own contracts only."""
        _check_path(place_id=place_id, contract_id=contract_id)
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
            require(principal, Permission.READ_CONTRACTS, place_id, provider, what=contract_id)
            rows = await views.funnel_by_segment(connection, place_id, contract_id)
        return {"place_id": place_id, "contract_id": contract_id, "segments": rows}

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


# --- Wiring -----------------------------------------------------------------------------------


def extend_http(app: FastAPI, host: ServiceHost, settings: GatewaySettings | None = None) -> None:
    """Mount the API, the problem handlers and the OpenAPI document on the gateway's app."""
    gateway_settings = settings or GatewaySettings()
    security.refuse_default_secrets(
        gateway_settings.local_secrets_in_use(), host.settings.local_defaults_allowed
    )
    gateway = Gateway(
        host,
        gateway_settings,
        RateLimiter(
            gateway_settings.gateway_rate_limit_per_s,
            gateway_settings.gateway_rate_limit_burst_max,
        ),
    )
    app.state.gateway = gateway
    # FastAPI runs each request in a server span; this names the service on it.
    app.add_middleware(ServiceSpanMiddleware, service=host.name)
    problems.install(app)
    components: dict[str, Any] = {}
    app.include_router(command_routes(gateway, components))
    app.include_router(query_routes(gateway))
    app.include_router(subscriptions.routes(gateway))
    app.include_router(command_status.routes(gateway))
    app.include_router(claim_results.routes(gateway))
    app.include_router(uploads.routes(gateway))
    # Auditors' ledger reports, when this gateway holds the ledger's report credential.
    if gateway_settings.ledger_report_token is not None:
        app.include_router(ledger_reports.routes(gateway))
    app.include_router(opendata_api.routes(gateway))
    app.include_router(organisations_api.routes(gateway))
    app.include_router(transparency_api.routes(gateway))
    app.include_router(returns_api.routes(gateway))
    app.include_router(insights_api.routes(gateway))
    app.include_router(insights_api.open_data_routes(gateway))
    app.include_router(insights_api.compare_routes(gateway))
    # The web pages for people, their assets, and `/` (HTML to browsers, the JSON index to others).
    web_routes.install(app, gateway)
    security.install(app, gateway_settings.web_swagger_ui_dir)
    app.add_middleware(openapi_rules.UnknownQueryRefusal, document=lambda: app.openapi())
    _publish_openapi(app, components)


def _publish_openapi(app: FastAPI, components: dict[str, Any]) -> None:
    """The OpenAPI document, with the command bodies' nested models among its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title="singlepot gateway",
                version="1",
                description=__doc__,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in components.items():
                schemas.setdefault(name, schema)
            app.openapi_schema = openapi_rules.with_storable_rules(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
