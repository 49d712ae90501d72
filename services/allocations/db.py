"""The allocations service's database access: the only allocations module that talks to asyncpg."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services.allocations.domain import Allocation, Proposal
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")


async def lock_allocation(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> Allocation | None:
    """The allocation, locked until commit so two messages about it cannot interleave."""
    row = await connection.fetchrow(QUERIES.lock_allocation, place_id, allocation_id)
    return None if row is None else _allocation(row)


async def insert_allocation(
    connection: asyncpg.Connection, place_id: str, proposal: Proposal
) -> None:
    await connection.execute(
        QUERIES.insert_allocation,
        place_id,
        proposal.allocation_id,
        proposal.allocation_type,
        proposal.recipient_id,
        proposal.purpose,
        proposal.mission_id,
        proposal.start_date,
        proposal.end_date,
        proposal.value_pence,
        proposal.financial_year,
        proposal.proposed_by,
    )


async def record_decision(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    status: str,
    decided_by: str,
    reason: str | None,
) -> None:
    await connection.execute(
        QUERIES.record_decision, place_id, allocation_id, status, decided_by, reason
    )


async def set_status(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    status: str,
    reason: str | None,
) -> None:
    await connection.execute(QUERIES.set_status, place_id, allocation_id, status, reason)


async def add_settled(
    connection: asyncpg.Connection,
    place_id: str,
    department_code: str,
    funding_stream_code: str,
    amount_pence: int,
) -> None:
    await connection.execute(
        QUERIES.add_settled, place_id, department_code, funding_stream_code, amount_pence
    )


async def streams_for_place(connection: asyncpg.Connection, place_id: str) -> list[dict]:
    return [dict(row) for row in await connection.fetch(QUERIES.streams_for_place, place_id)]


def _allocation(row: asyncpg.Record) -> Allocation:
    proposal = Proposal(
        allocation_id=row["allocation_id"],
        allocation_type=row["allocation_type"],
        recipient_id=row["recipient_id"],
        purpose=row["purpose"],
        mission_id=row["mission_id"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        value_pence=row["value_pence"],
        financial_year=row["financial_year"],
        proposed_by=row["proposed_by"],
    )
    return Allocation(place_id=row["place_id"], proposal=proposal, status=row["status"])
