"""The identity room's database access: principals, their grants and tokens, web passwords and
sessions. The only module of the room that talks to asyncpg."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.domain import Grant, Role
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

Row = dict[str, Any]


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [dict(record) for record in records]


async def set_password(connection: asyncpg.Connection, principal_id: str, hashed: str) -> None:
    await connection.execute(QUERIES.set_password, principal_id, hashed)


async def password_hash_of(connection: asyncpg.Connection, principal_id: str) -> str | None:
    value = await connection.fetchval(QUERIES.password_hash_of, principal_id)
    return None if value is None else str(value)


async def principal_exists(connection: asyncpg.Connection, principal_id: str) -> bool:
    return bool(await connection.fetchval(QUERIES.principal_exists, principal_id))


async def insert_session(
    connection: asyncpg.Connection, session_hash: bytes, principal_id: str, expires_at: datetime
) -> None:
    await connection.execute(QUERIES.insert_session, session_hash, principal_id, expires_at)


async def live_session(connection: asyncpg.Connection, session_hash: bytes) -> str | None:
    """The principal of a session that is neither ended nor expired, else None."""
    row = await connection.fetchrow(QUERIES.live_session, session_hash)
    return None if row is None else str(row["principal_id"])


async def end_session(connection: asyncpg.Connection, session_hash: bytes) -> None:
    await connection.execute(QUERIES.end_session, session_hash)


async def end_sessions_of(connection: asyncpg.Connection, principal_id: str) -> None:
    await connection.execute(QUERIES.end_sessions_of, principal_id)


async def delete_expired_sessions(connection: asyncpg.Connection) -> None:
    await connection.execute(QUERIES.delete_expired_sessions)


# --- Identity ---------------------------------------------------------------------------------


async def upsert_principal(
    connection: asyncpg.Connection, principal_id: str, kind: str, display_name: str
) -> None:
    await connection.execute(QUERIES.upsert_principal, principal_id, kind, display_name)


async def add_grant(connection: asyncpg.Connection, principal_id: str, grant: Grant) -> None:
    await connection.execute(
        QUERIES.add_grant, principal_id, grant.role.value, grant.place_id, grant.subject_id
    )


async def grants_of(connection: asyncpg.Connection, principal_id: str) -> tuple[Grant, ...]:
    rows = await connection.fetch(QUERIES.grants_of, principal_id)
    return tuple(Grant(Role(row["role"]), row["place_id"], row["subject_id"]) for row in rows)


async def insert_token(
    connection: asyncpg.Connection,
    token_id: uuid.UUID,
    principal_id: str,
    hashed: bytes,
    description: str,
    expires_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.insert_token, token_id, principal_id, hashed, description, expires_at
    )


async def token_by_hash(connection: asyncpg.Connection, hashed: bytes) -> Row | None:
    """The token's row with its principal's grants, or None for an unknown token."""
    row = await connection.fetchrow(QUERIES.token_by_hash, hashed)
    if row is None:
        return None
    grants = tuple(
        Grant(Role(role), place_id, subject_id)
        for role, place_id, subject_id in json.loads(row["grants"])
    )
    return {**dict(row), "grants": grants}


async def revoke_token(connection: asyncpg.Connection, token_id: uuid.UUID) -> bool:
    return await connection.fetchval(QUERIES.revoke_token, token_id) is not None


async def revoke_tokens_of(connection: asyncpg.Connection, principal_id: str) -> int:
    return len(await connection.fetch(QUERIES.revoke_tokens_of, principal_id))


async def list_principals(connection: asyncpg.Connection) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.list_principals))


async def tokens_of(connection: asyncpg.Connection, principal_id: str) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.tokens_of, principal_id))
