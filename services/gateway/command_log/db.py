"""The command log's database access: every accepted request by principal and Idempotency-Key
(`command_log`), and what became of each command (`command_outcomes`). The only module of the
room that talks to asyncpg."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.runtime.outbox import OutboxRow
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

Row = dict[str, Any]


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [dict(record) for record in records]


# --- Commands ---------------------------------------------------------------------------------


async def claim_command(
    connection: asyncpg.Connection,
    *,
    principal_id: str,
    idempotency_key: str,
    token_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
    event_type: str,
    place_id: str,
    method_path: str,
    request_hash: str,
    response_status: int,
    response_body: Row,
) -> bool:
    """Record the request; False when this principal already used the key (nothing written)."""
    accepted_at = await connection.fetchval(
        QUERIES.claim_command,
        principal_id,
        idempotency_key,
        token_id,
        event_id,
        event_type,
        place_id,
        method_path,
        request_hash,
        response_status,
        json.dumps(response_body),
    )
    return accepted_at is not None


async def claim_command_queueing(
    connection: asyncpg.Connection,
    row: OutboxRow,
    *,
    principal_id: str,
    idempotency_key: str,
    token_id: uuid.UUID | None,
    place_id: str,
    method_path: str,
    request_hash: str,
    response_status: int,
    response_body: Row,
) -> bool:
    """`claim_command` with the command's outbox row written in the same statement (so with no
    transaction around it); False, and nothing written, when this principal already used the
    key."""
    claimed: int = await connection.fetchval(
        QUERIES.claim_command_queueing,
        principal_id,
        idempotency_key,
        token_id,
        row.event_id,
        row.event_type,
        place_id,
        method_path,
        request_hash,
        response_status,
        json.dumps(response_body),
        row.topic,
        row.partition_key,
        row.value,
        json.dumps(dict(row.headers)),
    )
    return claimed == 1


async def command_by_key(
    connection: asyncpg.Connection, principal_id: str, idempotency_key: str
) -> Row | None:
    row = await connection.fetchrow(QUERIES.command_by_key, principal_id, idempotency_key)
    if row is None:
        return None
    return {**dict(row), "response_body": json.loads(row["response_body"])}


async def accepted_keys(
    connection: asyncpg.Connection, principal_id: str, idempotency_keys: list[str]
) -> dict[str, str]:
    """Key → request hash, for the keys among `idempotency_keys` with which `principal_id`
    already had a request accepted (recorded in the same transaction as the command's effect)."""
    rows = await connection.fetch(QUERIES.accepted_keys, principal_id, idempotency_keys)
    return {row["idempotency_key"]: row["request_hash"] for row in rows}


# --- Command status ---------------------------------------------------------------------------


async def record_command_progress(
    connection: asyncpg.Connection,
    command_id: uuid.UUID,
    *,
    status: str,
    waiting_for: str | None,
    made: Row,
    refusal: Row | None,
    event_type: str,
    at: datetime,
) -> None:
    await connection.execute(
        QUERIES.record_command_progress,
        command_id,
        status,
        waiting_for,
        json.dumps(made),
        None if refusal is None else json.dumps(refusal),
        event_type,
        at,
    )


async def record_commands_progress(
    connection: asyncpg.Connection,
    progress: list[tuple[uuid.UUID, str, str | None, Row, Row | None, str, datetime]],
) -> None:
    """`record_command_progress` for many commands in one statement: (command id, status,
    waiting for, made, refusal, event type, at), at most one entry per command."""
    if not progress:
        return
    await connection.execute(
        QUERIES.record_commands_progress,
        [entry[0] for entry in progress],
        [entry[1] for entry in progress],
        [entry[2] for entry in progress],
        [json.dumps(entry[3]) for entry in progress],
        [None if entry[4] is None else json.dumps(entry[4]) for entry in progress],
        [entry[5] for entry in progress],
        [entry[6] for entry in progress],
    )


async def command_status(connection: asyncpg.Connection, command_id: uuid.UUID) -> Row | None:
    """The command as accepted, with what became of it; None for an unknown id."""
    row = await connection.fetchrow(QUERIES.command_status, command_id)
    if row is None:
        return None
    refusal = row["refusal"]
    return {
        **dict(row),
        "made": json.loads(row["made"]),
        "refusal": None if refusal is None else json.loads(refusal),
    }


async def command_refusals_for_place(
    connection: asyncpg.Connection, place_id: str, limit: int
) -> list[Row]:
    rows = await connection.fetch(QUERIES.command_refusals_for_place, place_id, limit)
    return [{**dict(row), "refusal": json.loads(row["refusal"])} for row in rows]


async def forget_outcomes(connection: asyncpg.Connection) -> None:
    """Forget the outcomes events will tell again (the accepted requests stay, and the outcomes
    of commands the gateway decided itself), for a rebuild."""
    await connection.execute(QUERIES.forget_outcomes)
