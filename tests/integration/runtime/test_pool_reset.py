"""A pooled connection goes back to its pool without the reset round trip unless it said it
holds session state (`services/runtime/db.py`): an ordinary one is not sent the reset query, a
declared one is reset once, one left inside a transaction is still rolled back, the outbox
relay's session lock is given back when the relay steps down, so another relay can take over,
and the webhook delivery's listening connection is reset when it goes back."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.gateway.delivery.webhooks import DeliveryWakeUp
from services.runtime.db import create_pool, holds_session_state
from services.runtime.outbox import OutboxRelay

pytestmark = pytest.mark.integration


async def last_statement_of(pool: asyncpg.Pool, server_pid: int) -> str:
    """What the backend ran last, as PostgreSQL reports it, read on another connection."""
    async with pool.acquire() as connection:
        return str(
            await connection.fetchval(
                "SELECT query FROM pg_stat_activity WHERE pid = $1", server_pid
            )
        )


async def test_a_connection_that_took_no_session_state_is_released_without_the_reset_query(
    database_url,
) -> None:
    pool = await create_pool(database_url, "ledger", 2)
    observer = await create_pool(database_url, "ledger", 1)
    try:
        async with pool.acquire() as connection:
            server_pid = connection.get_server_pid()
            await connection.fetchval("SELECT 41 + 1")
        assert await last_statement_of(observer, server_pid) == "SELECT 41 + 1"
    finally:
        await pool.close()
        await observer.close()


async def test_a_connection_that_holds_session_state_is_reset_in_full_on_release(
    database_url,
) -> None:
    pool = await create_pool(database_url, "ledger", 2)
    observer = await create_pool(database_url, "ledger", 1)
    try:
        async with pool.acquire() as connection:
            server_pid = connection.get_server_pid()
            await connection.execute("SET application_name = 'kept for the session'")
            holds_session_state(connection)
        assert "RESET ALL" in await last_statement_of(observer, server_pid)
        async with pool.acquire() as connection:
            assert connection.get_server_pid() == server_pid  # the same connection, reused
            assert await connection.fetchval("SHOW application_name") == ""
        # The note went with the reset: this use declared nothing, so nothing was sent after it.
        assert await last_statement_of(observer, server_pid) == "SHOW application_name"
    finally:
        await pool.close()
        await observer.close()


async def test_a_connection_released_inside_a_transaction_is_rolled_back(database_url) -> None:
    pool = await create_pool(database_url, "ledger", 1)
    try:
        connection = await pool.acquire()
        await connection.execute("CREATE TABLE IF NOT EXISTS public.reset_probe (n integer)")
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("INSERT INTO public.reset_probe VALUES (1)")
        await pool.release(connection)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT count(*) FROM public.reset_probe") == 0
    finally:
        await pool.close()


async def test_a_relay_that_steps_down_gives_its_lock_back_to_another_relay(settings) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    first_pool = await create_pool(settings.effective_database_url(), "ledger", 1)
    second_pool = await create_pool(settings.effective_database_url(), "ledger", 1)
    try:
        first, second = (
            OutboxRelay(
                pool,
                producer,
                topic_prefix=settings.topic_prefix,
                batch_size_max=10,
                poll_interval_s=1.0,
                service="ledger",
            )
            for pool in (first_pool, second_pool)
        )
        assert await first.take_over()
        assert not await second.take_over()
        await first.step_down()  # its connection goes back to its pool, still open
        assert await second.take_over()
        await second.step_down()
    finally:
        await first_pool.close()
        await second_pool.close()
        await producer.stop()


async def test_the_delivery_wake_ups_listening_connection_is_reset_when_it_goes_back(
    database_url,
) -> None:
    pool = await create_pool(database_url, "gateway", 2)
    observer = await create_pool(database_url, "gateway", 1)
    wake_up = DeliveryWakeUp(pool)
    try:
        await wake_up.wait(0.01)  # listens first, then times out: nothing was queued
        async with observer.acquire() as connection:
            listening = await connection.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN %webhook_deliveries_queued%'"
            )
        assert listening is not None
        await wake_up.close()
        assert "UNLISTEN *" in await last_statement_of(observer, listening)
    finally:
        await wake_up.close()
        await pool.close()
        await observer.close()
