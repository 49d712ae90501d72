"""A ledger and a gateway on one real PostgreSQL database, joined without the broker: requests
go through the ledger's own batch handler, and the events it wrote to its outbox go through the
gateway's own batch handler, in order, as the relay and the consumer would deliver them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from contracts import Event, decode, unwrap, wrap
from services.gateway import app as gateway
from services.gateway.projections import db as gateway_db
from services.gateway.projections.reconciliation import PlaceReconciliation, reconcile_place
from services.ledger import db as ledger_db
from services.ledger import handlers as ledger

UNPUBLISHED = """
SELECT id, value FROM outbox WHERE published_at IS NULL ORDER BY id
"""
MARK_PUBLISHED = "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"


class Books:
    """The ledger's books and the gateway's read models of the same events."""

    def __init__(self, ledger_pool: asyncpg.Pool, gateway_pool: asyncpg.Pool) -> None:
        self.ledger_pool = ledger_pool
        self.gateway_pool = gateway_pool

    async def send(self, *requests: Event) -> list[Event]:
        """Have the ledger decide the requests (one batch), then deliver its answers to the
        gateway; returns the answers."""
        async with self.ledger_pool.acquire() as connection, connection.transaction():
            await ledger.handle_batch(
                connection, [(wrap(request, producer="test"), request) for request in requests]
            )
            rows = await connection.fetch(UNPUBLISHED)
            await connection.execute(MARK_PUBLISHED, [row["id"] for row in rows])
        envelopes = [decode(bytes(row["value"])) for row in rows]
        answers = [(envelope, unwrap(envelope)) for envelope in envelopes]
        for_gateway = [(env, event) for env, event in answers if type(event) in gateway.HANDLERS]
        if for_gateway:
            async with self.gateway_pool.acquire() as connection, connection.transaction():
                await gateway.handle_batch(connection, for_gateway)
        return [event for _, event in answers]

    async def reconcile(self, place_id: str) -> PlaceReconciliation:
        """The gateway's money read models of a place beside the ledger's balances."""
        async with self.ledger_pool.acquire() as connection:
            balances = await ledger_db.balances_for_place(connection, place_id)
        async with self.gateway_pool.acquire() as connection:
            models = await gateway_db.money_read_models(connection, place_id)
        return reconcile_place(place_id, balances, models)

    async def ledger_streams(self, place_id: str) -> list[dict[str, Any]]:
        async with self.ledger_pool.acquire() as connection:
            return await ledger_db.stream_summary(connection, place_id)


@asynccontextmanager
async def books_on(database_url: str) -> AsyncIterator[Books]:
    """Pools on the ledger's and the gateway's schemas of one migrated database."""
    ledger_pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=2, server_settings={"search_path": "ledger"}
    )
    gateway_pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=2, server_settings={"search_path": "gateway"}
    )
    assert ledger_pool is not None and gateway_pool is not None
    try:
        yield Books(ledger_pool, gateway_pool)
    finally:
        await ledger_pool.close()
        await gateway_pool.close()
