"""The gateway's database access: the only gateway module that talks to asyncpg."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from services.gateway.domain import PotStreamChange
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")


async def add_to_pot_stream(connection: asyncpg.Connection, change: PotStreamChange) -> None:
    await connection.execute(
        QUERIES.add_to_pot_stream,
        change.place_id,
        change.financial_year,
        change.department_code,
        change.funding_stream_code,
        change.settled_pence,
        change.reserved_pence,
        change.paid_pence,
    )


async def pot_for_place(connection: asyncpg.Connection, place_id: str) -> list[dict]:
    return [dict(row) for row in await connection.fetch(QUERIES.pot_for_place, place_id)]


async def insert_spend(
    connection: asyncpg.Connection, spend_id: str, place_id: str, amount_pence: int, record: dict
) -> None:
    await connection.execute(
        QUERIES.insert_spend, spend_id, place_id, amount_pence, json.dumps(record)
    )


async def spend_for_place(connection: asyncpg.Connection, place_id: str, limit: int) -> list[dict]:
    rows = await connection.fetch(QUERIES.spend_for_place, place_id, limit)
    return [json.loads(row["record"]) for row in rows]
