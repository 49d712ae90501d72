"""The whole system as one unit: its services by name, their migrations and the topics."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from contracts import topics
from services.runtime.db import connect, ensure_database, migrate_schema, migrations_for
from services.runtime.settings import RuntimeSettings
from singlepot.local.stack import create_topics
from singlepot.roles import grant_service_roles

if TYPE_CHECKING:
    # Only named here: `up` imports this module to migrate and create topics before any service
    # starts, and the host's imports (FastAPI, FastStream, OpenTelemetry) cost about a second of
    # CPU there, on the way to the first service (bench/NOTES.md, "Start-up wall clock").
    from services.runtime.host import ServiceDefinition

SERVICE_NAMES = ("ledger", "allocations", "outcomes", "gateway")


def service_definition(name: str, role: str = "all") -> ServiceDefinition:
    """The definition built by `services/<name>/app.py`'s `definition()`, which reads the
    service's settings from the environment now, not at import; for the gateway, the one doing
    `role` (api, projector, delivery, or all)."""
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}; choose one of {', '.join(SERVICE_NAMES)}")
    module = importlib.import_module(f"services.{name}.app")
    if name == "gateway" and role != "all":
        roles = [known.value for known in module.Role]
        if role not in roles:
            raise ValueError(f"unknown gateway role {role!r}; choose one of {', '.join(roles)}")
        gateway: ServiceDefinition = module.definition(role=module.Role(role))
        return gateway
    if role != "all":
        raise ValueError(f"--role is the gateway's only; {name} runs as one role")
    definition: ServiceDefinition = module.definition()
    return definition


def migrations_folder(name: str) -> Path:
    """Where service `name` keeps its migrations, `services/<name>/migrations` (what its
    definition names), found without importing the service: `up` migrates before it starts any
    service, and importing all four there (the gateway's tree most of all) cost about half a
    second of CPU on the way to the first one."""
    spec = importlib.util.find_spec(f"services.{name}")
    assert spec is not None and spec.origin is not None, f"services.{name} is not installed"
    return Path(spec.origin).parent / "migrations"


async def migrate_all(
    database_url: str, *, create_database: bool, service_roles: bool = False
) -> dict[str, list[str]]:
    """Apply every service's migrations to its own schema; return what each applied now.
    With `service_roles`, then give each service's role rights on its own schema only."""
    if create_database:
        await ensure_database(database_url)
    connection = await connect(database_url)
    try:
        applied = {}
        for name in SERVICE_NAMES:
            applied[name] = await migrate_schema(
                connection, name, migrations_for(migrations_folder(name))
            )
        if service_roles:
            await grant_service_roles(connection, SERVICE_NAMES)
        return applied
    finally:
        await connection.close()


async def create_all_topics(settings: RuntimeSettings) -> list[str]:
    """Create every topic (with the configured prefix) before any consumer starts."""
    names = [settings.topic(topic) for topic in topics.ALL_TOPICS]
    await create_topics(
        settings.effective_bootstrap_servers(),
        names,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
    )
    return names
