"""Test harness: real PostgreSQL and the real broker, started once per session on free ports
(or taken from DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS), a fresh database cloned from a migrated
template for each test, and a topic prefix per test so tests never see each other's messages."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from services.runtime.settings import RuntimeSettings
from singlepot.local.broker import LocalBroker
from singlepot.local.ports import free_port
from singlepot.local.postgres import EmbeddedPostgres
from singlepot.system import create_all_topics, migrate_all

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"


@dataclass(frozen=True)
class Stack:
    """Where the session's PostgreSQL and broker are."""

    server_url: str  # without a database name: append "/<database>"
    bootstrap_servers: str

    def database_url(self, database: str) -> str:
        return f"{self.server_url}/{database}"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    postgres = broker = None
    if os.environ.get("DATABASE_URL"):
        server_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    else:
        data_dir = tmp_path_factory.mktemp("postgres")
        postgres = EmbeddedPostgres(data_dir=data_dir, port=free_port(), throwaway=True)
        postgres.start()
        server_url = postgres.url.rsplit("/", 1)[0]
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        bootstrap_servers = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    else:
        log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
        broker = LocalBroker(port=free_port(), log_path=log_path)
        broker.start()
        bootstrap_servers = broker.bootstrap_servers
    try:
        yield Stack(server_url, bootstrap_servers)
    finally:
        if broker is not None:
            broker.stop()
        if postgres is not None:
            postgres.stop()


@pytest.fixture(scope="session")
async def template_database(stack: Stack) -> AsyncIterator[str]:
    """A database with every service's migrations applied, cloned by each test."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    await migrate_all(stack.database_url(name), create_database=True)
    yield name
    admin = await asyncpg.connect(stack.database_url("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def database_url(stack: Stack, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.database_url("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield stack.database_url(name)
    admin = await asyncpg.connect(stack.database_url("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def test_settings(stack: Stack, database_url: str, **overrides: object) -> RuntimeSettings:
    """Settings for one test: its database, a unique topic prefix, and fast consumer timings
    (the broker makes a group join wait session_timeout/2, and a fetch wait fetch_max_wait/2)."""
    values: dict[str, object] = {
        "database_url": database_url,
        "kafka_bootstrap_servers": stack.bootstrap_servers,
        "topic_prefix": f"t{uuid.uuid4().hex[:10]}.",
        "topic_partitions": 2,
        "consumer_session_timeout_ms": 2000,
        "consumer_heartbeat_interval_ms": 500,
        "consumer_fetch_max_wait_ms": 20,
        "handler_retry_backoff_s": 0.01,
        "infrastructure_retry_backoff_s": 0.2,
        "outbox_poll_interval_s": 0.01,
        # Tests run as the local launcher does, with the built-in development secrets.
        "local_defaults_allowed": True,
    }
    values.update(overrides)
    return RuntimeSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def settings(stack: Stack, database_url: str) -> RuntimeSettings:
    """This test's settings, with its topics already created."""
    test_specific = test_settings(stack, database_url)
    await create_all_topics(test_specific)
    return test_specific


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
