"""The returns room's database reads and writes: payments under contracts with their claims'
dates, and the payments notices as approved."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

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


async def payment_notice(
    connection: asyncpg.Connection, place_id: str, notice: str, financial_year: str, period: str
) -> dict[str, Any] | None:
    """The notice as approved, or None while it is a draft."""
    row = await connection.fetchrow(
        QUERIES.payment_notice, place_id, notice, financial_year, period
    )
    if row is None:
        return None
    return {**dict(row), "figures": json.loads(row["figures"])}


async def payment_notices_of_place(
    connection: asyncpg.Connection, place_id: str, rows_max: int = ROWS_MAX
) -> list[dict[str, Any]]:
    rows = await connection.fetch(QUERIES.payment_notices_of_place, place_id, rows_max)
    return [dict(row) for row in rows]


async def approve_payment_notice(
    connection: asyncpg.Connection,
    place_id: str,
    notice: str,
    financial_year: str,
    period: str,
    figures: dict[str, Any],
    digest: str,
    approved_by: str,
    approved_at: datetime,
    command_id: uuid.UUID,
) -> None:
    await connection.execute(
        QUERIES.approve_payment_notice,
        place_id,
        notice,
        financial_year,
        period,
        json.dumps(figures),
        digest,
        approved_by,
        approved_at,
        command_id,
    )


async def command_done_here(
    connection: asyncpg.Connection,
    command_id: uuid.UUID,
    made: dict[str, str],
    event_type: str,
    done_at: datetime,
) -> None:
    """Mark a command the gateway decided itself as done, in the transaction that did it."""
    await connection.execute(
        QUERIES.command_done_here, command_id, json.dumps(made), event_type, done_at
    )
