"""The web pages' database access (passwords and sessions): the only web module that talks to
asyncpg, with its named queries in web/queries.sql. Read models come from gateway/views.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import asyncpg

from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")


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


async def known_places(connection: asyncpg.Connection) -> list[str]:
    return [str(row["place_id"]) for row in await connection.fetch(QUERIES.known_places)]
