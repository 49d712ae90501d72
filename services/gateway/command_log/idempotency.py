"""Idempotent POSTs: every POST names itself with an Idempotency-Key; the request's hash and the
response are stored with the effect, in one transaction, so the same key replays the response
(marked `Idempotency-Replayed: true`) and a different request under the same key is a 409."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from fastapi.responses import JSONResponse

from services.gateway import domain, problems
from services.gateway.command_log import db
from services.gateway.domain import Principal
from services.gateway.identity.auth import Gateway
from services.gateway.problems import ProblemError
from services.runtime.outbox import OutboxRow

JsonObject = dict[str, Any]
REPLAY_HEADER = "Idempotency-Replayed"

Action = Callable[[asyncpg.Connection], Awaitable[tuple[int, JsonObject]]]
# What of a response is kept for replay: a secret shown once is left out of the log.
Redaction = Callable[[JsonObject], JsonObject]


def _kept_whole(response_body: JsonObject) -> JsonObject:
    return response_body


class _Raced(Exception):
    """Another request with the same key committed first; roll back and replay it."""


async def idempotent(
    gateway: Gateway,
    principal: Principal,
    *,
    key: str,
    method_path: str,
    body: JsonObject,
    place_id: str,
    event_type: str,
    event_id: uuid.UUID | None,
    action: Action,
    known_response: tuple[int, JsonObject] | None = None,
    logged: Redaction = _kept_whole,
) -> JSONResponse:
    """Run `action` once per (principal, key): in the same transaction as its effect the request's
    hash and response are stored; the same key again replays that response, or is a 409 when the
    request differs. When the response is known beforehand (`known_response`), the key is
    claimed first, which saves a round trip on the common path. `logged` says what of the
    response is kept (and so replayed): a secret is answered once and never stored here."""
    fingerprint = domain.request_fingerprint(method_path, body)
    claim = functools.partial(
        db.claim_command,
        principal_id=principal.principal_id,
        idempotency_key=key,
        token_id=principal.token_id,
        event_id=event_id,
        event_type=event_type,
        place_id=place_id,
        method_path=method_path,
        request_hash=fingerprint,
    )
    if known_response is not None:
        status, response_body = known_response
        async with gateway.pool.acquire() as connection:
            async with connection.transaction():
                if await claim(connection, response_status=status, response_body=response_body):
                    await action(connection)
                    return JSONResponse(response_body, status_code=status)
            existing = await db.command_by_key(connection, principal.principal_id, key)
        assert existing is not None, "a key that could not be claimed is already stored"
        return _replay(existing, fingerprint, key, method_path)
    for _ in range(3):
        try:
            async with gateway.pool.acquire() as connection, connection.transaction():
                existing = await db.command_by_key(connection, principal.principal_id, key)
                if existing is not None:
                    return _replay(existing, fingerprint, key, method_path)
                status, response_body = await action(connection)
                claimed = await claim(
                    connection, response_status=status, response_body=logged(response_body)
                )
                if not claimed:
                    raise _Raced()
                return JSONResponse(response_body, status_code=status)
        except _Raced:
            continue
    raise ProblemError(409, "idempotency-conflict", f"Idempotency-Key {key!r} is in use; retry")


async def queue_once(
    gateway: Gateway,
    principal: Principal,
    *,
    key: str,
    method_path: str,
    body: JsonObject,
    place_id: str,
    row: OutboxRow,
    response: tuple[int, JsonObject],
) -> JSONResponse:
    """`idempotent` for a command whose only effect is its outbox row and whose response is
    known beforehand (every command the services decide): the key is claimed and the row
    written in one statement, one round trip where a transaction took four; the same key again
    replays the response, or is a 409 when the request differs."""
    fingerprint = domain.request_fingerprint(method_path, body)
    status, response_body = response
    async with gateway.pool.acquire() as connection:
        if await db.claim_command_queueing(
            connection,
            row,
            principal_id=principal.principal_id,
            idempotency_key=key,
            token_id=principal.token_id,
            place_id=place_id,
            method_path=method_path,
            request_hash=fingerprint,
            response_status=status,
            response_body=response_body,
        ):
            return JSONResponse(response_body, status_code=status)
        existing = await db.command_by_key(connection, principal.principal_id, key)
    assert existing is not None, "a key that could not be claimed is already stored"
    return _replay(existing, fingerprint, key, method_path)


def _replay(existing: JsonObject, fingerprint: str, key: str, method_path: str) -> JSONResponse:
    if existing["request_hash"] != fingerprint:
        detail = (
            f"Idempotency-Key {key!r} was already used at {existing['accepted_at'].isoformat()} "
            f"for a different request ({existing['method_path']}); send a new key for a new "
            "request, or the same request to get the original response"
        )
        raise ProblemError(
            409,
            "idempotency-conflict",
            detail,
            errors=[problems.field_problem("header.idempotency-key", "same_key_same_body", detail)],
        )
    return JSONResponse(
        existing["response_body"],
        status_code=existing["response_status"],
        headers={REPLAY_HEADER: "true"},
    )
