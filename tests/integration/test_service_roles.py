"""One database role per service: after `migrate --service-roles`, each service's role reaches its
own schema's rows and nothing of another's; the auditor only reads. Set up as in the cluster:
an owner that is not a superuser migrates, and the login roles exist before (as CloudNativePG's
managed roles do)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from contracts import (
    FinancialYearAmount,
    RecordSettlement,
    ReservationMade,
    ReservationRequested,
    topics,
)
from services.runtime.host import ServiceHost
from singlepot.roles import AUDITOR_ROLE, grant_service_roles, service_role
from singlepot.system import SERVICE_NAMES, create_all_topics, migrate_all, service_definition
from tests.conftest import test_settings as settings_for
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = pytest.mark.integration

INSERT_TRANSFER = (
    "INSERT INTO ledger.transfers (place_id, sequence, transfer_id, request_event_id, "
    "financial_year, iati_transaction_type, description, legs, previous_hash, chain_hash) "
    "VALUES ('GM', $1, $2, gen_random_uuid(), '2026-27', 11, 'x', '[]', 'a', 'b')"
)
LEDGER_TABLE_RIGHTS = (
    "SELECT relname, relacl::text FROM pg_class "
    "WHERE relnamespace = 'ledger'::regnamespace ORDER BY relname"
)
ROLES = [service_role(name) for name in SERVICE_NAMES] + [AUDITOR_ROLE]
# Every role of these tests logs in with this password (the embedded PostgreSQL asks each
# connection for one, SCRAM-SHA-256, as a production server does).
ROLE_PASSWORD = "roles-test-password"


async def _create_login_roles(admin: asyncpg.Connection) -> None:
    """What the cluster's operator does before the migrations Job: login roles, no rights.
    Roles span the server's databases; another test may have made them already."""
    for role in ROLES:
        try:
            await admin.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{ROLE_PASSWORD}'")
        except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
            await admin.execute(f"ALTER ROLE \"{role}\" LOGIN PASSWORD '{ROLE_PASSWORD}'")


@pytest.fixture
async def migrated_by_owner(stack) -> AsyncIterator[str]:
    """A database owned by a role that is not a superuser, migrated by it with service roles."""
    owner = f"owner_{uuid.uuid4().hex[:10]}"
    database = f"roles_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.database_url("postgres"))
    try:
        await _create_login_roles(admin)
        await admin.execute(
            f"CREATE ROLE \"{owner}\" LOGIN NOSUPERUSER NOCREATEROLE PASSWORD '{ROLE_PASSWORD}'"
        )
        await admin.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
        url = stack.database_url(database)
        await migrate_all(_as(url, owner), create_database=False, service_roles=True)
        yield url
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{owner}"')
    finally:
        await admin.close()


def _as(url: str, role: str) -> str:
    """`url` with `role` (and the tests' password) as the user."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}:{ROLE_PASSWORD}@{rest.rsplit('@', 1)[-1]}"


async def _connect_as(url: str, role: str) -> asyncpg.Connection:
    return await asyncpg.connect(_as(url, role))


async def test_the_gateways_role_can_neither_read_nor_write_the_ledgers_transfers(
    migrated_by_owner: str,
) -> None:
    gateway = await _connect_as(migrated_by_owner, service_role("gateway"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.fetch("SELECT * FROM ledger.transfers")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.execute(INSERT_TRANSFER, 1, "T-gateway")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.fetch("SELECT * FROM ledger.outbox")
    finally:
        await gateway.close()


async def test_the_ledgers_role_writes_and_reads_its_transfers_but_not_the_gateways_tables(
    migrated_by_owner: str,
) -> None:
    ledger = await _connect_as(migrated_by_owner, service_role("ledger"))
    try:
        await ledger.execute(INSERT_TRANSFER, 1, "T-ledger")
        assert await ledger.fetchval("SELECT transfer_id FROM ledger.transfers") == "T-ledger"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await ledger.fetch("SELECT * FROM gateway.outbox")
    finally:
        await ledger.close()


async def test_each_service_role_uses_only_its_own_schema_and_changes_no_table(
    migrated_by_owner: str,
) -> None:
    for service in SERVICE_NAMES:
        connection = await _connect_as(migrated_by_owner, service_role(service))
        try:
            reachable = {
                schema
                for schema in SERVICE_NAMES
                if await connection.fetchval("SELECT has_schema_privilege($1, 'USAGE')", schema)
            }
            assert reachable == {service}
            # Its own outbox: rows yes, the table itself no.
            await connection.fetchval(f"SELECT count(*) FROM {service}.outbox")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"TRUNCATE {service}.outbox")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"CREATE TABLE {service}.extra (id int)")
        finally:
            await connection.close()


async def test_the_auditor_reads_every_schema_and_writes_none(migrated_by_owner: str) -> None:
    owner_writes = await asyncpg.connect(migrated_by_owner)
    await owner_writes.execute(INSERT_TRANSFER, 1, "T-audited")
    await owner_writes.close()
    auditor = await _connect_as(migrated_by_owner, AUDITOR_ROLE)
    try:
        assert await auditor.fetchval("SELECT count(*) FROM ledger.transfers") == 1
        for service in SERVICE_NAMES:
            await auditor.fetchval(f"SELECT count(*) FROM {service}.inbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await auditor.execute(INSERT_TRANSFER, 2, "T-auditor")
    finally:
        await auditor.close()


async def test_a_table_a_later_migration_adds_is_reachable_without_a_new_grant(
    migrated_by_owner: str, stack
) -> None:
    owner = await asyncpg.connect(migrated_by_owner)
    owner_name = await owner.fetchval(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
    )
    await owner.close()
    later = await _connect_as(migrated_by_owner, owner_name)
    try:
        await later.execute("CREATE TABLE ledger.later_migration (id bigint)")
    finally:
        await later.close()
    ledger = await _connect_as(migrated_by_owner, service_role("ledger"))
    try:
        await ledger.execute("INSERT INTO ledger.later_migration VALUES (1)")
        assert await ledger.fetchval("SELECT count(*) FROM ledger.later_migration") == 1
    finally:
        await ledger.close()


async def test_granting_again_changes_nothing_and_fails_nothing(migrated_by_owner: str) -> None:
    owner = await asyncpg.connect(migrated_by_owner)
    owner_name = await owner.fetchval(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
    )
    await owner.close()
    connection = await _connect_as(migrated_by_owner, owner_name)
    try:
        before = await connection.fetch(LEDGER_TABLE_RIGHTS)
        await grant_service_roles(connection, SERVICE_NAMES)
        after = await connection.fetch(LEDGER_TABLE_RIGHTS)
        assert before == after
    finally:
        await connection.close()


async def test_every_service_starts_and_is_ready_logged_in_as_its_own_role(
    migrated_by_owner: str, stack
) -> None:
    for service in SERVICE_NAMES:
        settings = settings_for(stack, _as(migrated_by_owner, service_role(service)))
        await create_all_topics(settings)
        async with running(service_definition(service), settings) as host:
            readiness = await eventually(lambda host=host: _ready(host))  # type: ignore[misc]
        assert readiness["database"] is True, (service, readiness)


async def test_the_ledger_reserves_and_posts_logged_in_as_its_own_role(
    migrated_by_owner: str, stack
) -> None:
    settings = settings_for(stack, _as(migrated_by_owner, service_role("ledger")))
    await create_all_topics(settings)
    async with (
        TopicReader(settings, topics.LEDGER_RESULTS) as reader,
        running(service_definition("ledger"), settings),
    ):
        await publish(
            settings,
            RecordSettlement(
                place_id="GM",
                settlement_id="S-ROLE",
                department_code="DWP",
                funding_stream_code="WORK",
                spending_review_period="SR2025",
                profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=100_00),),
            ),
            ReservationRequested(
                place_id="GM",
                allocation_id="A-ROLE",
                financial_year="2026-27",
                amount_pence=40_00,
                purpose="as its own role",
            ),
        )
        made = await eventually(lambda: _reservations(reader))
    assert made[0].amount_pence == 40_00
    auditor = await _connect_as(migrated_by_owner, AUDITOR_ROLE)
    try:
        assert await auditor.fetchval("SELECT count(*) FROM ledger.transfers") == 2
    finally:
        await auditor.close()


async def _reservations(reader: TopicReader) -> list[ReservationMade]:
    return reader.events(ReservationMade)


async def _ready(host: ServiceHost) -> dict[str, Any] | None:
    readiness: dict[str, Any] = await host.readiness()
    return readiness if readiness["ready"] else None
