"""Command progress in the projector's batch path (`status.progress_once_per_batch`): one
statement per fetch, folded per command, leaves every command's status row exactly as recording
each event one at a time (the one-message path) does: what each event made accumulates, the
last event's status wins, a refusal is final, and correlations to no command are skipped."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from contracts import Event, SubmitEvidence
from contracts.decisions import CommandRefused
from contracts.envelope import Envelope, wrap
from services.gateway.app import handle_batch
from services.gateway.command_log import db as command_db
from services.gateway.projections import db as gateway_db
from tests.integration.gateway.gateway_support import feed_projector
from tests.integration.opendata.test_opendata_exports_live import EVENTS, GRANT_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMANDS = [uuid.UUID(int=number) for number in range(1, 5)]
NOT_A_COMMAND = uuid.UUID(int=99)  # the services' own work: no command log row


def refused(subject: str) -> CommandRefused:
    return CommandRefused(
        place_id="GM",
        decided_by="outcomes",
        contract_id="C-1",
        command_type=SubmitEvidence.event_type,
        subject_id=subject,
        rule="evidence_batch_valid",
        reason="refused for the test",
    )


def correlated(events: list[Event]) -> list[tuple[Envelope, Event]]:
    """The events in order, each correlated to one of the commands (round robin, with one
    correlation to no command), a second apart."""
    start = datetime(2026, 9, 1, tzinfo=UTC)
    correlations = [*COMMANDS, NOT_A_COMMAND]
    messages = []
    for number, event in enumerate(events):
        envelope = wrap(event, producer="test", occurred_at=start + timedelta(seconds=number))
        envelope = envelope.model_copy(
            update={"correlation_id": correlations[number % len(correlations)]}
        )
        messages.append((envelope, event))
    return messages


async def outcomes(connection: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await connection.fetch(
        "SELECT command_id, status, waiting_for, made, refusal, last_event_type, updated_at "
        "FROM command_outcomes ORDER BY command_id"
    )
    return [dict(row) for row in rows]


async def accept_commands(connection: asyncpg.Connection) -> None:
    for number, command_id in enumerate(COMMANDS):
        await command_db.claim_command(
            connection,
            principal_id="fin",
            idempotency_key=f"k-{number}",
            token_id=None,
            event_id=command_id,
            event_type="SubmitEvidence",
            place_id="GM",
            method_path="POST /test",
            request_hash="hash",
            response_status=202,
            response_body={},
        )


async def test_a_batch_records_each_commands_progress_as_the_one_message_path_does(
    database_url,
) -> None:
    # A refusal for the second command part way through: what follows it for that command
    # must not change its row, in either path.
    events = [*EVENTS[:6], refused("B-R1"), *EVENTS[6:], refused("B-R2"), *GRANT_EVENTS]
    messages = correlated(events)
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await accept_commands(connection)
        await feed_projector(database_url, [envelope for envelope, _ in messages])
        one_by_one = await outcomes(connection)
        await gateway_db.clear_read_models(connection, "gateway")
        await connection.execute("DELETE FROM command_outcomes")
        async with connection.transaction():
            await handle_batch(connection, messages)
        batched = await outcomes(connection)
    finally:
        await connection.close()

    assert [row["command_id"] for row in one_by_one] == COMMANDS  # never NOT_A_COMMAND
    assert {row["status"] for row in one_by_one} >= {"done", "refused"}
    assert any(len(json.loads(row["made"])) > 1 for row in one_by_one)  # made accumulated
    assert batched == one_by_one
