"""An outcome payer's statement: its shares of outcome payments and of their recoveries, per
financial year, as the ledger booked the split (`payer_shares`, kept from PaymentMade and
RecoveryRecorded). A department that pays for outcomes sees it beside its stream spend."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.gateway.opendata import db


async def payer_statement(
    connection: asyncpg.Connection, place_id: str, payer_id: str
) -> dict[str, Any]:
    """`{"paid_pence", "recovered_pence", "net_pence", "by_year": [...]}`, as the stream
    statements have it; all zero (no years) for an organisation that pays for no outcomes."""
    rows = await db.payer_statement_by_year(connection, place_id, payer_id)
    by_year = [
        {
            **row,
            "paid_pence": row["paid_pence"] or 0,
            "net_pence": (row["paid_pence"] or 0) - row["recovered_pence"],
        }
        for row in rows
    ]
    paid_pence = sum(row["paid_pence"] for row in by_year)
    recovered_pence = sum(row["recovered_pence"] for row in by_year)
    return {
        "paid_pence": paid_pence,
        "recovered_pence": recovered_pence,
        "net_pence": paid_pence - recovered_pence,
        "by_year": by_year,
    }
