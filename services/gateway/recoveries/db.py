"""Reads what was recovered of payments from the department feed (its own queries.sql)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")


async def recovered_by_department(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> dict[str, int]:
    """Pence recovered per department in the year (departments with none left out)."""
    rows = await connection.fetch(QUERIES.recovered_by_department, place_id, financial_year)
    return {row["department_code"]: row["recovered_pence"] for row in rows}


async def spend_by_month_net(
    connection: asyncpg.Connection, place_id: str, department_code: str | None
) -> list[dict[str, object]]:
    """Spend per month and department, net of recoveries, with each department's running
    total (`views.spend_over_time` says the shape)."""
    rows = await connection.fetch(QUERIES.spend_by_month_net, place_id, department_code)
    return [dict(row) for row in rows]
