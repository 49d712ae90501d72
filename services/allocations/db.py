"""The allocations service's database access: the only allocations module that talks to asyncpg.

Domain objects are stored as JSON documents (pydantic's TypeAdapter turns the domain's frozen
dataclasses into JSON and back), with the columns queries select on kept beside them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter

from services.allocations.domain import (
    DEFAULT_RULES,
    Allocation,
    Board,
    Claim,
    Committed,
    Earmark,
    Interest,
    Place,
    Rules,
    StreamSettled,
    Variation,
    Vote,
    YearBook,
)
from services.allocations.holds import Reporting
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

T = TypeVar("T")
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[T]) -> TypeAdapter[T]:
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def _dump(value: object) -> str:
    return _adapter(type(value)).dump_json(value).decode()


def _load(kind: type[T], document: str | None) -> T | None:
    return None if document is None else _adapter(kind).validate_json(document)


# --- The place --------------------------------------------------------------------------------


async def lock_place(connection: asyncpg.Connection, place_id: str) -> None:
    """Take the place's lock until commit (creating its row on first use)."""
    await connection.execute(QUERIES.ensure_place, place_id)
    await connection.fetchval(QUERIES.lock_place, place_id)


async def load_place(connection: asyncpg.Connection, place_id: str) -> Place:
    board = _load(Board, await connection.fetchval(QUERIES.current_board, place_id))
    rules = _load(Rules, await connection.fetchval(QUERIES.current_rules, place_id))
    missions = await connection.fetch(QUERIES.mission_ids, place_id)
    earmarks = await connection.fetch(QUERIES.earmarks, place_id)
    return Place(
        place_id=place_id,
        board=board,
        rules=rules or DEFAULT_RULES,
        mission_ids=frozenset(row["mission_id"] for row in missions),
        earmarks=tuple(_adapter(Earmark).validate_json(row["document"]) for row in earmarks),
    )


async def insert_board(connection: asyncpg.Connection, place_id: str, board: Board) -> None:
    await connection.execute(QUERIES.insert_board, place_id, board.version, _dump(board))


async def insert_rules(connection: asyncpg.Connection, place_id: str, rules: Rules) -> None:
    await connection.execute(QUERIES.insert_rules, place_id, rules.version, _dump(rules))


async def upsert_earmark(connection: asyncpg.Connection, place_id: str, earmark: Earmark) -> None:
    await connection.execute(QUERIES.upsert_earmark, place_id, earmark.earmark_id, _dump(earmark))


async def find_plan(connection: asyncpg.Connection, place_id: str, plan_id: str) -> str | None:
    document: str | None = await connection.fetchval(QUERIES.find_plan, place_id, plan_id)
    return document


async def insert_plan(
    connection: asyncpg.Connection,
    place_id: str,
    plan_id: str,
    document: str,
    mission_ids: list[str],
) -> None:
    await connection.execute(QUERIES.insert_plan, place_id, plan_id, document)
    for mission_id in mission_ids:
        await connection.execute(QUERIES.insert_mission, place_id, mission_id, plan_id)


async def find_interest(
    connection: asyncpg.Connection, place_id: str, interest_id: str
) -> Interest | None:
    document = await connection.fetchval(QUERIES.find_interest, place_id, interest_id)
    return _load(Interest, document)


async def insert_interest(
    connection: asyncpg.Connection, place_id: str, interest: Interest
) -> None:
    await connection.execute(
        QUERIES.insert_interest,
        place_id,
        interest.interest_id,
        interest.member_id,
        interest.recipient_id,
        interest.allocation_id,
        _dump(interest),
    )


async def interests_in(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, recipient_id: str
) -> list[Interest]:
    rows = await connection.fetch(QUERIES.interests_in, place_id, allocation_id, recipient_id)
    return [_adapter(Interest).validate_json(row["document"]) for row in rows]


# --- Settlements and the year's pot -----------------------------------------------------------


async def add_settled(
    connection: asyncpg.Connection,
    place_id: str,
    financial_year: str,
    department_code: str,
    funding_stream_code: str,
    amount_pence: int,
) -> None:
    await connection.execute(
        QUERIES.add_settled,
        place_id,
        financial_year,
        department_code,
        funding_stream_code,
        amount_pence,
    )


async def year_book(connection: asyncpg.Connection, place_id: str, financial_year: str) -> YearBook:
    streams = await connection.fetch(QUERIES.settled_in_year, place_id, financial_year)
    committed = await connection.fetch(QUERIES.committed_in_year, place_id, financial_year)
    return YearBook(
        financial_year=financial_year,
        streams=tuple(
            StreamSettled(r["department_code"], r["funding_stream_code"], r["settled_pence"])
            for r in streams
        ),
        committed=tuple(
            Committed(r["allocation_id"], r["counted_pence"], tuple(r["purpose_tags"]))
            for r in committed
        ),
    )


# --- Allocations ------------------------------------------------------------------------------


async def lock_allocation(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> Allocation | None:
    """The allocation, locked until commit so two messages about it cannot interleave."""
    document = await connection.fetchval(QUERIES.lock_allocation, place_id, allocation_id)
    return _load(Allocation, document)


async def save_allocation(connection: asyncpg.Connection, allocation: Allocation) -> None:
    await connection.execute(
        QUERIES.upsert_allocation,
        allocation.place_id,
        allocation.allocation_id,
        allocation.proposal.financial_year,
        allocation.status,
        allocation.value_pence,
        allocation.end_date,
        list(allocation.purpose_tags),
        allocation.counted_pence,
        _dump(allocation),
    )


async def lock_due_allocations(
    connection: asyncpg.Connection, place_id: str, as_of: date
) -> list[Allocation]:
    rows = await connection.fetch(QUERIES.lock_due_allocations, place_id, as_of)
    return [_adapter(Allocation).validate_json(row["document"]) for row in rows]


# --- Votes and variations ---------------------------------------------------------------------


async def find_vote(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    variation_id: str | None,
    member_id: str,
) -> Vote | None:
    row = await connection.fetchrow(
        QUERIES.find_vote, place_id, allocation_id, variation_id or "", member_id
    )
    return None if row is None else Vote(row["member_id"], row["vote"], row["rules_version"])


async def insert_vote(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    variation_id: str | None,
    vote: Vote,
) -> None:
    await connection.execute(
        QUERIES.insert_vote,
        place_id,
        allocation_id,
        variation_id or "",
        vote.member_id,
        vote.vote,
        vote.rules_version,
        vote.reason,
    )


async def votes_on(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, variation_id: str | None
) -> list[Vote]:
    rows = await connection.fetch(QUERIES.votes_on, place_id, allocation_id, variation_id or "")
    return [Vote(row["member_id"], row["vote"], row["rules_version"]) for row in rows]


async def lock_variation(
    connection: asyncpg.Connection, place_id: str, variation_id: str
) -> Variation | None:
    document = await connection.fetchval(QUERIES.lock_variation, place_id, variation_id)
    return _load(Variation, document)


async def save_variation(
    connection: asyncpg.Connection, place_id: str, variation: Variation
) -> None:
    await connection.execute(
        QUERIES.upsert_variation,
        place_id,
        variation.variation_id,
        variation.allocation_id,
        _dump(variation),
    )


# --- Payments and claims ----------------------------------------------------------------------


async def record_payment(
    connection: asyncpg.Connection,
    place_id: str,
    payment_id: str,
    allocation_id: str,
    amount_pence: int,
) -> bool:
    """Remember a payment; False if it was already recorded (the same payment announced twice)."""
    inserted = await connection.fetchval(
        QUERIES.insert_payment, place_id, payment_id, allocation_id, amount_pence
    )
    return inserted is not None


async def allocation_of_payment(
    connection: asyncpg.Connection, place_id: str, payment_id: str
) -> str | None:
    allocation_id: str | None = await connection.fetchval(
        QUERIES.allocation_of_payment, place_id, payment_id
    )
    return allocation_id


async def lock_claim(connection: asyncpg.Connection, place_id: str, claim_id: str) -> Claim | None:
    return _load(Claim, await connection.fetchval(QUERIES.lock_claim, place_id, claim_id))


async def save_claim(connection: asyncpg.Connection, place_id: str, claim: Claim) -> None:
    await connection.execute(
        QUERIES.upsert_claim,
        place_id,
        claim.claim_id,
        claim.status,
        claim.response_due_on,
        _dump(claim),
    )


async def lock_overdue_claims(
    connection: asyncpg.Connection, place_id: str, as_of: date
) -> list[Claim]:
    rows = await connection.fetch(QUERIES.lock_overdue_claims, place_id, as_of)
    return [_adapter(Claim).validate_json(row["document"]) for row in rows]


async def record_release_request(
    connection: asyncpg.Connection,
    place_id: str,
    request_event_id: UUID,
    allocation_id: str,
    amount_pence: int,
) -> None:
    await connection.execute(
        QUERIES.insert_release_request, place_id, request_event_id, allocation_id, amount_pence
    )


async def find_release_request(
    connection: asyncpg.Connection, place_id: str, request_event_id: UUID
) -> tuple[str, int] | None:
    row = await connection.fetchrow(QUERIES.find_release_request, place_id, request_event_id)
    return None if row is None else (row["allocation_id"], row["amount_pence"])


async def place_ids(connection: asyncpg.Connection) -> list[str]:
    """Every place the service has heard of, for the daily due-work command."""
    return [row["place_id"] for row in await connection.fetch(QUERIES.place_ids)]


# --- Grant monitoring (issue 21) ---------------------------------------------------------------


async def lock_grant_reporting(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> Reporting:
    """A grant's reporting state, locked until commit (empty when nothing was recorded)."""
    document = await connection.fetchval(QUERIES.lock_grant_reporting, place_id, allocation_id)
    return _load(Reporting, document) or Reporting()


async def save_grant_reporting(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, reporting: Reporting
) -> None:
    await connection.execute(
        QUERIES.upsert_grant_reporting, place_id, allocation_id, _dump(reporting)
    )


async def paid_pence_of_payments(
    connection: asyncpg.Connection, place_id: str, payment_ids: list[str]
) -> int:
    """What the ledger has paid of these payments (those it has not paid count nothing)."""
    paid: int = await connection.fetchval(QUERIES.paid_pence_of_payments, place_id, payment_ids)
    return paid
