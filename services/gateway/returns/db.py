"""The returns room's database reads: payments under contracts, with their claims' dates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg

from services.gateway.returns.prompt_payment import ContractPayment, Period
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")
ROWS_MAX = 1_000_000
"""Payments read for one period of one place at most (DOMAIN.md §6: thousands a year)."""


async def contract_payments(
    connection: asyncpg.Connection, place_id: str, period: Period, rows_max: int = ROWS_MAX
) -> list[ContractPayment]:
    """The place's contract payments paid within the period (UTC days)."""
    start = datetime.combine(period.first_day, time(0), tzinfo=UTC)
    end = datetime.combine(period.last_day + timedelta(days=1), time(0), tzinfo=UTC)
    rows = await connection.fetch(QUERIES.contract_payments, place_id, start, end, rows_max)
    return [ContractPayment(**dict(row)) for row in rows]


async def registered_names(connection: asyncpg.Connection, place_id: str) -> dict[str, str]:
    rows = await connection.fetch(QUERIES.registered_names, place_id)
    return {row["organisation_ref"]: row["name"] for row in rows}
