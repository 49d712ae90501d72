"""Every service's migrations build its own schema from an empty database, and re-running them
changes nothing."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from singlepot.system import SERVICE_NAMES, migrate_all

pytestmark = pytest.mark.integration


async def test_migrations_build_every_schema_from_empty_and_are_idempotent(stack) -> None:
    url = stack.database_url(f"empty_{uuid.uuid4().hex[:10]}")
    first = await migrate_all(url, create_database=True)
    second = await migrate_all(url, create_database=True)
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1::text[])",
            list(SERVICE_NAMES),
        )
    finally:
        await connection.close()
    by_schema: dict[str, set[str]] = {}
    for row in tables:
        by_schema.setdefault(row["table_schema"], set()).add(row["table_name"])
    assert set(by_schema) == set(SERVICE_NAMES)
    for name in SERVICE_NAMES:
        assert {"outbox", "inbox", "schema_migrations"} <= by_schema[name]
        assert first[name][0] == "runtime/001_outbox_inbox.sql"
        assert any(m.startswith(f"{name}/") for m in first[name])
    assert "transfers" in by_schema["ledger"] and "transfers" not in by_schema["gateway"]
    assert second == {name: [] for name in SERVICE_NAMES}


async def test_ledger_transfers_cannot_be_updated_deleted_or_truncated(database_url) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        await connection.execute(
            "INSERT INTO transfers (place_id, sequence, transfer_id, request_event_id, "
            "financial_year, iati_transaction_type, description, legs, previous_hash, chain_hash) "
            "VALUES ('GM', 1, 'T-1', gen_random_uuid(), '2026-27', 11, 'x', '[]', 'a', 'b')"
        )
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await connection.execute("UPDATE transfers SET description = 'changed'")
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await connection.execute("DELETE FROM transfers")
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await connection.execute("TRUNCATE transfers")
        assert await connection.fetchval("SELECT count(*) FROM transfers") == 1
    finally:
        await connection.close()
