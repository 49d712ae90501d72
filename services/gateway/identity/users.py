"""Managing who may call the gateway: principals (people and services), their grants, and their
tokens, and their web sign-in passwords. Used by `singlepot users ...`, the demo and tests; the
token itself is returned once and only its hash is stored, and a password only as a scrypt hash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from services.gateway import domain
from services.gateway.domain import Grant
from services.gateway.identity import db, passwords


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the secret to hand over (shown once), its id (to revoke it) and expiry."""

    token: str
    token_id: uuid.UUID
    principal_id: str
    expires_at: datetime


async def add_principal(
    connection: asyncpg.Connection,
    principal_id: str,
    grants: Sequence[Grant],
    *,
    kind: str = "user",
    display_name: str = "",
) -> None:
    """Create (or update) a principal and add grants to it; adding is idempotent."""
    if kind not in ("user", "service"):
        raise ValueError(f"kind must be 'user' or 'service', not {kind!r}")
    async with connection.transaction():
        await db.upsert_principal(connection, principal_id, kind, display_name or principal_id)
        for grant in grants:
            await db.add_grant(connection, principal_id, grant)


async def add_grants(
    connection: asyncpg.Connection, principal_id: str, grants: Sequence[Grant]
) -> None:
    """Add grants to an existing principal (idempotent)."""
    async with connection.transaction():
        for grant in grants:
            await db.add_grant(connection, principal_id, grant)


async def issue_token(
    connection: asyncpg.Connection,
    principal_id: str,
    *,
    lifetime: timedelta,
    description: str = "",
) -> IssuedToken:
    """A new random token for an existing principal, valid for `lifetime`."""
    known = {row["principal_id"] for row in await db.list_principals(connection)}
    if principal_id not in known:
        raise LookupError(f"no user or service {principal_id!r}; add it first")
    token = domain.new_token()
    token_id = uuid.uuid4()
    expires_at = datetime.now(UTC) + lifetime
    await db.insert_token(
        connection, token_id, principal_id, domain.token_hash(token), description, expires_at
    )
    return IssuedToken(token, token_id, principal_id, expires_at)


async def revoke(connection: asyncpg.Connection, what: str) -> int:
    """Revoke one token (by its id) or every token of a principal (by its id); return how many."""
    try:
        token_id = uuid.UUID(what)
    except ValueError:
        return await db.revoke_tokens_of(connection, what)
    return 1 if await db.revoke_token(connection, token_id) else 0


async def list_principals(connection: asyncpg.Connection) -> list[dict[str, object]]:
    return await db.list_principals(connection)


async def set_password(connection: asyncpg.Connection, principal_id: str, password: str) -> None:
    """Set a person's web sign-in password (stored only as an Argon2id hash); their open
    web sessions end, so a changed password locks out whoever knew the old one."""
    if not await db.principal_exists(connection, principal_id):
        raise LookupError(f"no user or service {principal_id!r}; add it first")
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    async with connection.transaction():
        await db.set_password(connection, principal_id, hashed)
        await db.end_sessions_of(connection, principal_id)


async def has_password(connection: asyncpg.Connection, principal_id: str) -> bool:
    """Whether the principal can sign in on the web (a password hash is stored)."""
    return await db.password_hash_of(connection, principal_id) is not None


async def check_password(connection: asyncpg.Connection, principal_id: str, password: str) -> bool:
    """Whether the password is the principal's; an unknown principal takes as long as a wrong
    password and is simply False, so the answer does not reveal who has an account. A right
    password kept in an older or weaker form is hashed again with today's Argon2id."""
    stored = await db.password_hash_of(connection, principal_id)
    verified = await asyncio.to_thread(passwords.verify_password, password, stored)
    if verified and stored is not None and passwords.needs_rehash(stored):
        rehashed = await asyncio.to_thread(passwords.hash_password, password)
        await db.set_password(connection, principal_id, rehashed)
    return verified
