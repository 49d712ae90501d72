"""The refused-work room's database access: its one table, through named queries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")
ROWS_MAX = 1000
"""Refused instalments listed at most (a place pays a few hundred grants a year)."""


async def record_instalment(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    instalment_number: int,
    payment_id: str,
    status: str,
    rule: str | None,
    reason: str,
    amount_pence: int | None,
    at: datetime,
) -> None:
    await connection.execute(
        QUERIES.instalment_refused,
        place_id,
        allocation_id,
        instalment_number,
        payment_id,
        status,
        rule,
        reason,
        amount_pence,
        at,
    )


async def refused_instalments(
    connection: asyncpg.Connection, place_id: str, rows_max: int = ROWS_MAX
) -> list[dict[str, Any]]:
    rows = await connection.fetch(QUERIES.refused_instalments, place_id, rows_max)
    return [dict(row) for row in rows]
