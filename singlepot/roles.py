"""One database role per service, with rights on its own schema only, and a read-only auditor.

`singlepot migrate --service-roles` calls `grant_service_roles` after the migrations, as the
database's owner (the one role that creates and changes the schemas). Each service's role,
`singlepot_<service>`, may then use its own schema and read and write the rows in it, and
nothing else: the gateway's role cannot read or write `ledger.transfers`. The role
`singlepot_auditor` may read every service's schema, for `singlepot ledger verify` and
`singlepot reconcile`. No role here may create or drop anything.

The roles are created (without a login) when missing, if the owner may create roles; in a
cluster the operator creates them with their passwords first (CloudNativePG's managed roles,
deploy/k8s/base/postgres.yaml), and this only grants.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.runtime.errors import ConfigurationError

AUDITOR_ROLE = "singlepot_auditor"

# Identifiers cannot be query parameters, so these are filled with names that PostgreSQL's own
# quote_ident has quoted (see `_quoted`). Rows only: no TRUNCATE, REFERENCES or TRIGGER, and no
# CREATE on the schema, so a service cannot change its tables, only their rows.
SERVICE_GRANTS = (
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    # Tables and sequences a later migration creates get the same rights without a new grant.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
)
AUDITOR_GRANTS = (
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
)


def service_role(service: str) -> str:
    """The database role a service logs in as (its schema has the service's name)."""
    return f"singlepot_{service}"


async def grant_service_roles(
    connection: asyncpg.Connection, services: Sequence[str]
) -> dict[str, str]:
    """Give each service's role rights on its own schema only, and the auditor read rights on
    every one; return each schema's roles. Safe to run again: grants are idempotent."""
    granted = {}
    async with connection.transaction():
        await _ensure_role(connection, AUDITOR_ROLE)
        for service in services:
            role = service_role(service)
            await _ensure_role(connection, role)
            await _grant(connection, SERVICE_GRANTS, schema=service, role=role)
            await _grant(connection, AUDITOR_GRANTS, schema=service, role=AUDITOR_ROLE)
            granted[service] = f"{role} (rows), {AUDITOR_ROLE} (read)"
    return granted


async def _grant(
    connection: asyncpg.Connection, statements: Sequence[str], *, schema: str, role: str
) -> None:
    quoted_schema, quoted_role = await _quoted(connection, schema), await _quoted(connection, role)
    for statement in statements:
        await connection.execute(statement.format(schema=quoted_schema, role=quoted_role))


async def _ensure_role(connection: asyncpg.Connection, role: str) -> None:
    """Create `role` without a login if it does not exist yet; an operator gives it one."""
    if await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        return
    try:
        # A savepoint, so another migrator creating the same role at once costs only this step.
        async with connection.transaction():
            await connection.execute(f"CREATE ROLE {await _quoted(connection, role)} NOLOGIN")
    except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
        return  # created at the same moment by another migrator (roles span databases)
    except asyncpg.InsufficientPrivilegeError:
        raise ConfigurationError(
            f"The role {role} does not exist and the migrating role may not create it; create "
            "it first (CloudNativePG's managed roles do), or migrate as a role with CREATEROLE."
        ) from None


async def _quoted(connection: asyncpg.Connection, identifier: str) -> str:
    quoted: str = await connection.fetchval("SELECT quote_ident($1)", identifier)
    return quoted
