"""The command intake over HTTP: one endpoint per row of the command table. A command is checked
(the caller's grant, its references, its subject), put in the outbox once per Idempotency-Key,
and answered 202 with its status resource (`Location: /api/v1/commands/{id}`)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts import Event
from services.gateway import domain, intake, problems
from services.gateway.command_log import idempotency
from services.gateway.command_log import status as command_status
from services.gateway.command_table import COMMAND_ROUTES, CommandRoute, Subject
from services.gateway.commands import references
from services.gateway.domain import Principal
from services.gateway.identity.auth import (
    CALLER,
    Gateway,
    GuardedRoute,
    contract_provider_of,
    require,
    require_some_subject,
)
from services.runtime.outbox import first_row

JsonObject = dict[str, Any]

COMMAND_PROBLEMS = problems.openapi_responses(400, 401, 403, 404, 409, 413, 422, 429)


class Accepted(BaseModel):
    """A command accepted: it is on its way to the service that owns it. Its status is read at
    `Location: /api/v1/commands/{command_id}` (the command id is its event id)."""

    status: str
    event_id: str
    event_type: str
    command_id: str | None = None


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
            subject = await contract_provider_of(gateway, request, place_id, path["contract_id"])
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

    response = await idempotency.queue_once(
        gateway,
        principal,
        key=idempotency_key,
        method_path=f"POST {request.url.path}",
        body=body,
        place_id=command.place_id,
        row=first_row(command, producer="gateway", event_id=event_id),
        response=(202, accepted),
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


def routes(gateway: Gateway, components: dict[str, Any]) -> APIRouter:
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
