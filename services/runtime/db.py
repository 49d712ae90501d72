"""The database side of the shared runtime: pools per service schema, and migrations."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.runtime.errors import ConfigurationError
from services.runtime.sql import load_queries

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
QUERIES = load_queries(Path(__file__).parent / "queries.sql")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file; `name` is unique across the runtime's and a service's own."""

    name: str
    path: Path

    @functools.cached_property
    def checksum(self) -> str:
        """SHA-256 of the file: a migration edited after it was applied no longer matches."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations_for(service_migrations: Path) -> list[Migration]:
    """The runtime's migrations (outbox, inbox) first, then the service's own, each in order."""
    runtime = [Migration(f"runtime/{p.name}", p) for p in sorted(RUNTIME_MIGRATIONS.glob("*.sql"))]
    own = [
        Migration(f"{service_migrations.parent.name}/{p.name}", p)
        for p in sorted(service_migrations.glob("*.sql"))
    ]
    return runtime + own


async def connect(database_url: str, *, timeout_s: float = 10.0) -> asyncpg.Connection:
    """Open one connection, turning the usual failures into one sentence saying what to do."""
    try:
        return await asyncpg.connect(database_url, timeout=timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise ConfigurationError(
            f"Cannot reach PostgreSQL at {_redacted(database_url)} ({error.__class__.__name__}: "
            f"{error}); check DATABASE_URL, or unset it to use the embedded PostgreSQL."
        ) from None


async def ensure_database(database_url: str) -> None:
    """Create the database named in `database_url` if it is missing (local and test use)."""
    dsn_parts = database_url.rsplit("/", 1)
    database_name = dsn_parts[1].split("?")[0]
    admin = await connect(f"{dsn_parts[0]}/postgres")
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database_name)
        if not exists:
            # Identifiers cannot be query parameters; quote_ident on the server makes it safe.
            quoted = await admin.fetchval("SELECT quote_ident($1)", database_name)
            await admin.execute(f"CREATE DATABASE {quoted}")
    finally:
        await admin.close()


async def migrate_schema(
    connection: asyncpg.Connection, schema: str, migrations: Sequence[Migration]
) -> list[str]:
    """Apply the missing migrations to `schema` in one transaction; return the names applied.

    An advisory lock per schema lets several replicas start at once without racing.
    """
    applied_now: list[str] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        quoted = await connection.fetchval("SELECT quote_ident($1)", schema)
        await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await connection.execute(f"SET LOCAL search_path TO {quoted}")
        await connection.execute(QUERIES.create_migrations_table)
        await connection.execute(QUERIES.add_migration_checksums)
        done = {row["name"] for row in await connection.fetch(QUERIES.applied_migrations)}
        for migration in migrations:
            if migration.name in done:
                await connection.execute(
                    QUERIES.adopt_migration_checksum, migration.name, migration.checksum
                )
                continue
            await connection.execute(migration.path.read_text(encoding="utf-8"))
            await connection.execute(QUERIES.record_migration, migration.name, migration.checksum)
            applied_now.append(migration.name)
    return applied_now


async def migration_problems(
    connection: asyncpg.Connection, migrations: Sequence[Migration]
) -> list[str]:
    """Why the schema (the connection's search path) does not match the code's migrations:
    one sentence per migration missing or changed since it was applied; empty when it does.
    A migration the schema has but the code does not (a newer release rolled back) is fine."""
    if not await connection.fetchval(QUERIES.migrations_table_exists):
        return ["no migrations applied; run `singlepot migrate`"]
    # Every column: a schema migrated by an older release has no checksum column yet.
    rows = await connection.fetch(QUERIES.applied_migrations_as_recorded)
    applied = {row["name"]: row.get("checksum") for row in rows}
    problems = []
    for migration in migrations:
        if migration.name not in applied:
            problems.append(f"migration {migration.name} not applied; run `singlepot migrate`")
        elif applied[migration.name] not in (None, migration.checksum):
            problems.append(f"migration {migration.name} changed since it was applied")
    return problems


async def create_pool(database_url: str, schema: str, size_max: int) -> asyncpg.Pool:
    """A pool whose connections see only `schema` (and pg_catalog): no service reads another's."""
    try:
        pool = await asyncpg.create_pool(
            database_url,
            min_size=1,
            max_size=size_max,
            server_settings={"search_path": schema},
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        raise ConfigurationError(
            f"Cannot reach PostgreSQL at {_redacted(database_url)} ({error}); check DATABASE_URL, "
            "or unset it to use the embedded PostgreSQL."
        ) from None
    assert pool is not None
    return pool


def _redacted(database_url: str) -> str:
    """The URL without its password, safe to print."""
    if "@" not in database_url or "://" not in database_url:
        return database_url
    scheme, rest = database_url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
