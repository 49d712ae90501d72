"""Commands the gateway decides itself (approving a notice, agreeing a balance, resolving a
dispute): read once per Idempotency-Key like every other command, written in one transaction
with the command log and a `done` outcome, so `GET /api/v1/commands/{id}` answers them as it
answers the services' commands, and the sender sees the outcome at once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from services.gateway import domain, problems
from services.gateway.command_log import db as command_log_db
from services.gateway.command_log import status as command_status
from services.gateway.command_log.idempotency import idempotent
from services.gateway.domain import Principal
from services.gateway.identity.auth import Gateway
from services.gateway.intake import check_storable, parse_json_object, read_body
from services.gateway.returns import db

JsonObject = dict[str, Any]
Effect = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[None]]
Model = TypeVar("Model", bound=BaseModel)


def idempotency_key_header(gateway: Gateway) -> Any:
    return Header(..., min_length=1, max_length=gateway.settings.gateway_idempotency_key_length_max)


async def body_of(
    request: Request, gateway: Gateway, model: type[Model]
) -> tuple[JsonObject, Model]:
    """The request's JSON body, within the gateway's limits, as the raw fields and the model."""
    raw = await read_body(request, gateway.settings.gateway_request_bytes_max)
    fields = parse_json_object(raw, gateway.settings.gateway_json_depth_max)
    check_storable(fields, "body")
    try:
        return fields, model.model_validate(fields)
    except ValidationError as error:
        raise problems.from_pydantic(error) from None


def command_id(principal: Principal, key: str) -> uuid.UUID:
    return domain.command_event_id(principal.principal_id, key)


async def already_sent(gateway: Gateway, principal: Principal, key: str) -> bool:
    """Whether this key already named a command: its answer is replayed (or the request is a
    409 when it differs), so the rules are not asked again."""
    async with gateway.pool.acquire() as connection:
        found = await command_log_db.command_by_key(connection, principal.principal_id, key)
    return found is not None


async def decide_here(
    gateway: Gateway,
    principal: Principal,
    request: Request,
    *,
    key: str,
    body: JsonObject,
    place_id: str,
    command_type: str,
    decided_at: datetime,
    made: dict[str, str],
    answer: JsonObject,
    effect: Effect,
) -> JSONResponse:
    """Run `effect` once per key and answer 201 with the command's id, `done`, what it made and
    `answer`; `Location` names its status resource."""
    decided_id = command_id(principal, key)
    response_body = {
        "command_id": str(decided_id),
        "command_type": command_type,
        "status": command_status.DONE,
        "made": made,
        **answer,
    }

    async def action(connection: asyncpg.Connection) -> tuple[int, JsonObject]:
        await effect(connection, decided_id)
        await db.command_done_here(connection, decided_id, made, command_type, decided_at)
        return 201, response_body

    response = await idempotent(
        gateway,
        principal,
        key=key,
        method_path=f"POST {request.url.path}",
        body=body,
        place_id=place_id,
        event_type=command_type,
        event_id=decided_id,
        action=action,
        known_response=(201, response_body),
    )
    response.headers["Location"] = command_status.location(decided_id)
    return response
