"""A rebuild of the gateway's read models forgets what events will tell again, but keeps the
outcome of a command the gateway decided itself (returns/local_commands.py): no event would
bring it back, and its status would read `accepted` for ever."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from services.gateway.app import definition
from services.gateway.command_log import db as command_log_db
from services.gateway.projections import db as projections_db
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    settlement_body,
    token_for,
)
from tests.integration.gateway.test_gateway_transparency_return import write_read_models

pytestmark = pytest.mark.integration

TAX = "/api/v1/places/GM/payments/P-1/tax-details"


async def test_a_rebuild_keeps_gateway_decided_outcomes_and_forgets_event_derived_ones(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    async with client_for(settings, gateway_settings()) as client:
        decided_here = await client.post(
            TAX,
            json={"irrecoverable_vat_pence": 200_00},
            headers={**finance, "Idempotency-Key": "tax-1"},
        )
        sent_on = await client.post(
            "/api/v1/places/GM/settlements",
            json=settlement_body(),
            headers={**finance, "Idempotency-Key": "settle-1"},
        )
    assert (decided_here.status_code, sent_on.status_code) == (201, 202), sent_on.text
    # What the projector records when the ledger's answer arrives.
    await _record_done(database_url, uuid.UUID(sent_on.json()["command_id"]))

    await _rebuild(database_url)

    async with client_for(settings, gateway_settings()) as client:
        local = await client.get(decided_here.headers["location"], headers=finance)
        answered = await client.get(sent_on.headers["location"], headers=finance)
    assert local.json()["status"] == "done", local.text
    assert local.json()["made"] == {"payment_id": "P-1"}
    # The settlement's outcome comes back when the replayed answer arrives, not before.
    assert answered.json()["status"] == "accepted"


async def _rebuild(database_url: str) -> None:
    """The database half of `rebuild_read_models` (the other rewinds the consumer group)."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        async with connection.transaction():
            await projections_db.clear_read_models(connection, definition().name)
    finally:
        await connection.close()


async def _record_done(database_url: str, command_id: uuid.UUID) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await command_log_db.record_command_progress(
            connection,
            command_id,
            status="done",
            waiting_for=None,
            made={"settlement_id": "S-1"},
            refusal=None,
            event_type="SettlementRecorded",
            at=datetime.now(UTC),
        )
        status = await connection.fetchval(
            "SELECT status FROM command_outcomes WHERE command_id = $1", command_id
        )
        assert status == "done"
    finally:
        await connection.close()


async def test_the_migration_restores_outcomes_an_earlier_rebuild_forgot(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    async with client_for(settings, gateway_settings()) as client:
        decided_here = await client.post(
            TAX,
            json={"irrecoverable_vat_pence": 200_00},
            headers={**finance, "Idempotency-Key": "tax-1"},
        )
    command_id = uuid.UUID(decided_here.json()["command_id"])
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        # What a rebuild did before migration 032: every outcome forgotten.
        await connection.execute("DELETE FROM command_outcomes WHERE command_id = $1", command_id)
        await connection.execute(RESTORE_FORGOTTEN)
        restored = await connection.fetchrow(
            "SELECT status, made::text AS made, decided_here FROM command_outcomes"
            " WHERE command_id = $1",
            command_id,
        )
    finally:
        await connection.close()
    assert restored is not None
    assert (restored["status"], restored["made"], restored["decided_here"]) == (
        "done",
        '{"payment_id": "P-1"}',
        True,
    )


MIGRATION = (
    Path(__file__).resolve().parents[3]
    / "services/gateway/migrations/032_outcomes_decided_here.sql"
)
# The migration's last statement: the outcomes restored from the command log.
RESTORE_FORGOTTEN = MIGRATION.read_text(encoding="utf-8").rsplit(";", 2)[-2].strip()
