"""The ledger's database access: the only ledger module that talks to asyncpg."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from contracts.ledger import IatiTransactionType
from services.ledger.domain import GENESIS_HASH, Leg, StreamShare
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")


@dataclass(frozen=True)
class StoredTransfer:
    """A transfer as the ledger writes it."""

    place_id: str
    sequence: int
    transfer_id: str
    request_event_id: object
    financial_year: str
    iati_transaction_type: IatiTransactionType
    department_code: str | None
    funding_stream_code: str | None
    allocation_id: str | None
    contract_id: str | None
    claim_id: str | None
    description: str
    legs: list[Leg]
    previous_hash: str
    chain_hash: str


async def lock_chain_head(connection: asyncpg.Connection, place_id: str) -> tuple[int, str]:
    """The place's latest (sequence, hash), locked until commit so posts are serialised."""
    row = await connection.fetchrow(QUERIES.lock_chain_head, place_id)
    if row is None:
        return 0, GENESIS_HASH
    return row["sequence"], row["chain_hash"]


async def insert_transfer(connection: asyncpg.Connection, transfer: StoredTransfer) -> None:
    legs_json = json.dumps([leg.__dict__ for leg in transfer.legs])
    await connection.execute(
        QUERIES.insert_transfer,
        transfer.place_id,
        transfer.sequence,
        transfer.transfer_id,
        transfer.request_event_id,
        transfer.financial_year,
        transfer.iati_transaction_type,
        transfer.department_code,
        transfer.funding_stream_code,
        transfer.allocation_id,
        transfer.contract_id,
        transfer.claim_id,
        transfer.description,
        legs_json,
        transfer.previous_hash,
        transfer.chain_hash,
    )
    await connection.execute(
        QUERIES.upsert_chain_head, transfer.place_id, transfer.sequence, transfer.chain_hash
    )


async def apply_leg(
    connection: asyncpg.Connection,
    place_id: str,
    financial_year: str,
    leg: Leg,
    *,
    department_code: str | None,
    funding_stream_code: str | None,
    must_not_go_negative: bool,
) -> None:
    """Add the leg to its account's balance, opening the account on first use."""
    status = await connection.execute(
        QUERIES.add_to_balance, place_id, financial_year, leg.account, leg.signed_pence
    )
    if status == "UPDATE 0":
        await connection.execute(
            QUERIES.open_balance,
            place_id,
            financial_year,
            leg.account,
            department_code,
            funding_stream_code,
            must_not_go_negative,
            leg.signed_pence,
        )


async def lock_pot_mix(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> list[StreamShare]:
    rows = await connection.fetch(QUERIES.lock_pot_mix, place_id, financial_year)
    return [_share(row) for row in rows]


async def lock_commitment_mix(
    connection: asyncpg.Connection, place_id: str, financial_year: str, allocation_id: str
) -> list[StreamShare]:
    rows = await connection.fetch(
        QUERIES.lock_commitment_mix, place_id, financial_year, allocation_id
    )
    return [_share(row) for row in rows]


async def insert_reservation(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    financial_year: str,
    reserved_pence: int,
) -> None:
    await connection.execute(
        QUERIES.insert_reservation, place_id, allocation_id, financial_year, reserved_pence
    )


async def find_reservation_year(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> str | None:
    row = await connection.fetchrow(QUERIES.find_reservation, place_id, allocation_id)
    return None if row is None else str(row["financial_year"])


async def balances_for_place(connection: asyncpg.Connection, place_id: str) -> list[dict]:
    return [dict(row) for row in await connection.fetch(QUERIES.balances_for_place, place_id)]


async def transfers_for_place(connection: asyncpg.Connection, place_id: str) -> list[dict]:
    rows = await connection.fetch(QUERIES.transfers_for_place, place_id)
    return [{**dict(row), "legs": json.loads(row["legs"])} for row in rows]


def _share(row: asyncpg.Record) -> StreamShare:
    return StreamShare(row["department_code"], row["funding_stream_code"], row["balance_pence"])
