"""Balances as at any date, by effective date (when the money event happened) or by recorded
date (when the ledger posted it), for any account, stream, department or allocation. Each answer
names the chain position (sequence and hash) it was computed to, so an auditor can re-derive it
from the audit export up to that position (docs/audit-export.md).

By recorded date the answer is always a whole prefix of the chain: every transfer up to the last
one recorded before the end of the day (UTC), `recorded_through_sequence`. By effective date it
is computed to the chain's head when asked: that same prefix, less the transfers in it whose
effective date is later (`left_out_sequences`), plus the transfers recorded after it whose
effective date is by the day (`added_sequences`, back-dated entries). Both lists hold only the
entries whose two dates fall either side of the day, so they stay short however long the chain;
the export up to the named position re-derives the answer from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import asyncpg

from services.ledger import db, domain

AsAtBasis = Literal["effective", "recorded"]


@dataclass(frozen=True)
class BalanceFilter:
    """Which accounts an answer covers; None for a field means any."""

    account: str | None = None
    department_code: str | None = None
    funding_stream_code: str | None = None
    allocation_id: str | None = None

    def admits(self, account: str) -> bool:
        described = describe_account(account)
        wanted = {
            "account": self.account,
            "department_code": self.department_code,
            "funding_stream_code": self.funding_stream_code,
            "allocation_id": self.allocation_id,
        }
        return all(value is None or described[key] == value for key, value in wanted.items())


def describe_account(account: str) -> dict[str, str | None]:
    """An account with the department, stream and allocation it belongs to, where it has them."""
    department_code, funding_stream_code = domain.stream_of(account)
    allocation_id = account.split(":")[1] if account.startswith("commitment:") else None
    return {
        "account": account,
        "department_code": department_code,
        "funding_stream_code": funding_stream_code,
        "allocation_id": allocation_id,
    }


def end_of_day(day: date) -> datetime:
    """The first instant after the day, in UTC: 'as at a date' includes the whole day."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


async def balances_as_at(
    connection: asyncpg.Connection,
    place_id: str,
    as_at: date,
    by: AsAtBasis = "effective",
    wanted: BalanceFilter | None = None,
) -> dict[str, Any]:
    """The non-zero balances (credit-positive pence, per financial year and account) as at the
    end of `as_at`, read in one repeatable-read snapshot, with the chain position they reach."""
    wanted = wanted or BalanceFilter()
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        recorded_through = await db.recorded_position(connection, place_id, end_of_day(as_at))
        left_out: list[int] = []
        added: list[int] = []
        position = recorded_through
        if by == "effective":
            position = await db.head_position(connection, place_id)
            left_out = await db.effective_later_than(connection, place_id, recorded_through, as_at)
            added = await db.effective_by_recorded_after(
                connection, place_id, recorded_through, position, as_at
            )
        head_hash = await db.chain_hash_at(connection, place_id, position)
        rows = await db.balances_from_legs(connection, place_id, recorded_through, left_out, added)
    balances = [
        {
            "financial_year": row["financial_year"],
            **describe_account(row["account"]),
            "balance_pence": row["balance_pence"],
        }
        for row in rows
        if row["balance_pence"] != 0 and wanted.admits(row["account"])
    ]
    return {
        "place_id": place_id,
        "as_at": as_at.isoformat(),
        "by": by,
        "chain_position": {"sequence": position, "chain_hash": head_hash},
        "recorded_through_sequence": recorded_through,
        "left_out_sequences": left_out,
        "added_sequences": added,
        "balances": balances,
        "total_pence": sum(row["balance_pence"] for row in balances),
    }
