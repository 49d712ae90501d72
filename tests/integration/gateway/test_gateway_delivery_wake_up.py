"""The webhook delivery loop is woken by the commit that queued deliveries (LISTEN/NOTIFY), not
by its poll: a gateway whose delivery loop would poll once an hour still delivers each spend,
and goes on doing so after PostgreSQL dropped the connection it listened on."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.gateway.test_gateway_subscriptions import _at_least, _subscribe, spend
from tests.support.kafka import eventually, publish

pytestmark = pytest.mark.integration

# Far longer than any test waits: a delivery made within a test was made on a wake-up.
POLL_ONCE_AN_HOUR = gateway_settings(webhook_poll_interval_s=3600.0)
LISTENING_CONNECTIONS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND query LIKE 'LISTEN %webhook_deliveries_queued%'"
)


async def test_each_spend_is_delivered_on_the_wake_up_of_the_commit_that_queued_it(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver()
    async with receiver.running(), client_for(settings, POLL_ONCE_AN_HOUR) as client:
        await _subscribe(client, token, receiver.url, "sub-1")
        await publish(settings, spend(1, ("DWP", 1_000)))
        await eventually(lambda: _at_least(receiver, 1))
        await publish(settings, spend(2, ("DWP", 2_000)))
        await eventually(lambda: _at_least(receiver, 2))
    assert len(receiver.accepted) == 2


async def test_after_its_listening_connection_is_dropped_the_loop_listens_again_by_itself(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver()
    connection = await asyncpg.connect(database_url)
    try:
        async with receiver.running(), client_for(settings, POLL_ONCE_AN_HOUR) as client:
            await _subscribe(client, token, receiver.url, "sub-1")
            listening = await eventually(lambda: connection.fetch(LISTENING_CONNECTIONS))
            # The database drops the loop's listening connection (a restart, a network cut).
            await connection.execute("SELECT pg_terminate_backend($1)", listening[0]["pid"])
            await eventually(lambda: _listening_again(connection, listening[0]["pid"]))
            await publish(settings, spend(1, ("DWP", 1_000)))
            await eventually(lambda: _at_least(receiver, 1))
    finally:
        await connection.close()
    assert len(receiver.accepted) == 1


async def _listening_again(connection: asyncpg.Connection, dropped_pid: int) -> bool:
    pids = {row["pid"] for row in await connection.fetch(LISTENING_CONNECTIONS)}
    return bool(pids - {dropped_pid})
