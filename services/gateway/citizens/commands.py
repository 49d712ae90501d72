"""The citizens room's commands as one table, served by one route builder: each command names
its path, its command type, the permission its door needs, its body and the step that takes it;
`add_routes` gives every command the same route (check the door, read the body, take the
command, then decide it here once per Idempotency-Key with a command status,
services/gateway/returns/local_commands.py)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.gateway import problems
from services.gateway.citizens.panel import PanelRefused
from services.gateway.citizens.rounds import RoundRefused
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.problems import ProblemError
from services.gateway.returns import local_commands

Taken = tuple[dict[str, str], local_commands.Effect]
"""What a command made (its answer) and the effect to run, once, with the command log."""

REFUSALS = (PanelRefused, RoundRefused)
"""The room's rule refusals: each names the field, the rule, the message and the status."""


def refused(refusal: PanelRefused | RoundRefused) -> ProblemError:
    """A room rule's refusal as the API answers it: the field, the rule, the message."""
    return problems.invalid(refusal.field, refusal.rule, refusal.message, refusal.status)


@dataclass(frozen=True)
class Sent:
    """A command as the room receives it: who sent it, for which place, under which key, and
    the values its path names (a question's id, a round's id...)."""

    gateway: Gateway
    principal: Principal
    place_id: str
    key: str
    named: Mapping[str, Any] = field(default_factory=dict)

    async def first_time(self) -> bool:
        """Whether this key names a new command (a repeat replays, unchecked)."""
        return not await local_commands.already_sent(self.gateway, self.principal, self.key)

    @property
    def command_id(self) -> uuid.UUID:
        return local_commands.command_id(self.principal, self.key)


@dataclass(frozen=True)
class Named:
    """A value the command's path names: its name, its type and its path rule (FastAPI's)."""

    name: str
    annotation: Any
    rule: Any


@dataclass(frozen=True)
class Command:
    """One command: its path under the router, its command type, the permission its door
    needs, what a refusal names, its body (None: the key alone names it), the step that takes
    it (named after the route), and the values its path names."""

    path: str
    command_type: str
    permission: Permission
    what: str
    body: type[BaseModel] | None
    take: Callable[[Sent, Any], Awaitable[Taken]]
    named: tuple[Named, ...] = ()

    @property
    def name(self) -> str:
        return self.take.__name__

    @property
    def description(self) -> str:
        return inspect.getdoc(self.take) or ""

    def openapi_extra(self) -> dict[str, Any] | None:
        return request_body(self.body) if self.body is not None else None


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI document's required JSON body of a route that reads its body itself."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def room_router(prefix: str) -> APIRouter:
    """A router of the room's API: guarded routes, tagged `citizens`, with its problems."""
    return APIRouter(
        prefix=prefix,
        tags=["citizens"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(400, 401, 403, 404, 409, 413, 422),
    )


def add_routes(router: APIRouter, gateway: Gateway, table: Iterable[Command]) -> None:
    """Serve each command of `table` as `POST <router's prefix><path>`, answering 201."""
    for command in table:
        router.add_api_route(
            command.path,
            endpoint(gateway, command),
            methods=["POST"],
            status_code=201,
            openapi_extra=command.openapi_extra(),
            name=command.name,
            description=command.description,
        )


def endpoint(gateway: Gateway, command: Command) -> Callable[..., Awaitable[JSONResponse]]:
    """The route of one command: the place, the path's values, the key and the caller."""

    async def serve(
        request: Request, place_id: str, idempotency_key: str, principal: Principal, **named: Any
    ) -> JSONResponse:
        check_storable(place_id, "place_id")
        for name, value in named.items():
            check_storable(value, name)
        require(principal, command.permission, place_id, what=command.what)
        body: dict[str, Any] = {}
        parsed = None
        if command.body is not None:
            body, parsed = await local_commands.body_of(request, gateway, command.body)
        sent = Sent(gateway, principal, place_id, idempotency_key, named)
        try:
            made, effect = await command.take(sent, parsed)
        except REFUSALS as refusal:
            raise refused(refusal) from None

        async def guarded(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            try:
                await effect(connection, command_id)
            except REFUSALS as refusal:
                raise refused(refusal) from None

        return await local_commands.decide_here(
            gateway, principal, request, key=idempotency_key, body=body, place_id=place_id,
            command_type=command.command_type, decided_at=datetime.now(UTC), made=made,
            answer=dict(made), effect=guarded,
        )  # fmt: skip

    serve.__signature__ = signature(gateway, command)  # type: ignore[attr-defined]
    serve.__name__ = command.name
    return serve


def signature(gateway: Gateway, command: Command) -> inspect.Signature:
    """The route's parameters as FastAPI reads them: the request, the place, the path's own
    values in order, the Idempotency-Key header and the caller."""
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD

    def parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
        return inspect.Parameter(name, keyword, annotation=annotation, default=default)

    return inspect.Signature(
        [
            parameter("request", Request),
            parameter("place_id", str, identifier_path()),
            *(parameter(item.name, item.annotation, item.rule) for item in command.named),
            parameter("idempotency_key", str, local_commands.idempotency_key_header(gateway)),
            parameter("principal", Principal, CALLER),
        ],
        return_annotation=JSONResponse,
    )
