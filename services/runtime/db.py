"""The database side of the shared runtime: pools per service schema, and migrations."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class PooledConnection(asyncpg.Connection):
    """A connection of a service's pool (`create_pool`) that knows whether the code using it
    left state on it beyond a transaction, so that the pool resets it when it comes back only
    then (`reset_on_release`)."""

    __slots__ = ("_holds_session_state",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._holds_session_state = False

    def note_session_state(self) -> None:
        """Reset this connection in full when it next goes back to its pool."""
        self._holds_session_state = True

    def take_session_state_note(self) -> bool:
        """Whether session state was noted since the last release; the note is cleared."""
        held, self._holds_session_state = self._holds_session_state, False
        return held


def holds_session_state(connection: asyncpg.Connection) -> None:
    """Note that a pooled connection holds, or is about to hold, state beyond its transaction
    (a session-level advisory lock, a LISTEN, a session SET): when it goes back to its pool it
    is reset in full, with asyncpg's reset query (`pg_advisory_unlock_all()`, `CLOSE ALL`,
    `UNLISTEN *`, `RESET ALL`). Call it before the statement that takes the state, so that a
    failure half-way is reset too. A connection of no service pool (opened with `connect` and
    closed after use) has nothing to note."""
    # A pool hands out a proxy, which passes attributes it does not know to the connection.
    note = getattr(connection, "note_session_state", None)
    if note is not None:
        note()


async def reset_on_release(connection: PooledConnection) -> None:
    """The pool's reset of a released connection. asyncpg has already rolled back a transaction
    left open and dropped the connection's notification and log callbacks; the reset query, one
    more round trip on every release, goes only to a connection that noted session state
    (`holds_session_state`). Everything else the services run on pooled connections ends with
    its transaction (`SET LOCAL`, `set_config(..., true)`, `pg_advisory_xact_lock`), which
    tests/unit/test_session_state_is_declared.py keeps so. Prepared statements and temporary
    tables are not the reset query's either way (it has no DEALLOCATE nor DISCARD)."""
    if not connection.take_session_state_note():
        return
    reset_query = connection.get_reset_query()
    if reset_query:
        await connection.execute(reset_query)


async def create_pool(database_url: str, schema: str, size_max: int) -> asyncpg.Pool:
    """A pool whose connections see only `schema` (and pg_catalog): no service reads another's.
    A released connection is reset only if it holds session state (`reset_on_release`)."""
    try:
        pool = await asyncpg.create_pool(
            database_url,
            min_size=1,
            max_size=size_max,
            server_settings={"search_path": schema},
            connection_class=PooledConnection,
            reset=reset_on_release,
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
