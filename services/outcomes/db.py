"""The outcomes service's database access: the only outcomes module that talks to asyncpg."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg

from services.outcomes.domain import Claim, Contract, ParticipantMetric, PricedClaim
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")


async def contract_exists(connection: asyncpg.Connection, contract_id: str) -> bool:
    return bool(await connection.fetchval(QUERIES.contract_exists, contract_id))


async def insert_contract(connection: asyncpg.Connection, contract: Contract) -> None:
    """Store a new contract and its price for each metric."""
    await connection.execute(
        QUERIES.insert_contract,
        contract.contract_id,
        contract.place_id,
        contract.allocation_id,
        contract.provider_id,
        contract.cap_pence,
    )
    await connection.executemany(
        QUERIES.insert_metric_price,
        [
            (contract.contract_id, metric_id, price_pence)
            for metric_id, price_pence in contract.prices_pence.items()
        ],
    )


async def lock_contract(connection: asyncpg.Connection, contract_id: str) -> Contract | None:
    """The contract with its prices and what is already requested, locked until commit."""
    row = await connection.fetchrow(QUERIES.lock_contract, contract_id)
    if row is None:
        return None
    prices = await connection.fetch(QUERIES.metric_prices, contract_id)
    return Contract(
        contract_id=row["contract_id"],
        place_id=row["place_id"],
        allocation_id=row["allocation_id"],
        provider_id=row["provider_id"],
        cap_pence=row["cap_pence"],
        requested_pence=await connection.fetchval(QUERIES.requested_pence, contract_id),
        prices_pence={price["metric_id"]: price["price_pence"] for price in prices},
    )


async def batch_exists(connection: asyncpg.Connection, contract_id: str, batch_id: str) -> bool:
    return bool(await connection.fetchval(QUERIES.batch_exists, contract_id, batch_id))


async def claimed_pairs(
    connection: asyncpg.Connection, place_id: str, claims: Sequence[Claim]
) -> set[ParticipantMetric]:
    """Which of the claims' participant-metric pairs are already claimed in the place."""
    rows = await connection.fetch(
        QUERIES.claimed_pairs,
        place_id,
        [claim.participant_hash for claim in claims],
        [claim.metric_id for claim in claims],
    )
    return {(row["participant_hash"], row["metric_id"]) for row in rows}


async def insert_claims(
    connection: asyncpg.Connection,
    place_id: str,
    contract_id: str,
    batch_id: str,
    accepted: Sequence[PricedClaim],
) -> None:
    await connection.executemany(
        QUERIES.insert_claim,
        [
            (
                place_id,
                priced.claim.participant_hash,
                priced.claim.metric_id,
                contract_id,
                batch_id,
                priced.claim.achieved_on,
                priced.claim.evidence_reference,
                priced.price_pence,
            )
            for priced in accepted
        ],
    )


async def insert_batch(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    status: str,
    amount_pence: int,
    *,
    reason: str | None = None,
    payment_id: str | None = None,
) -> None:
    await connection.execute(
        QUERIES.insert_batch, contract_id, batch_id, status, amount_pence, reason, payment_id
    )


async def mark_batch_paid(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, amount_pence: int
) -> bool:
    """Mark a requested batch paid and add to the contract's total; False if it was not waiting."""
    marked = await connection.fetchval(QUERIES.mark_batch_paid, contract_id, batch_id)
    if marked is None:
        return False
    await connection.execute(QUERIES.add_paid, contract_id, amount_pence)
    return True


async def mark_payment_rejected(
    connection: asyncpg.Connection, payment_id: str, reason: str
) -> None:
    await connection.execute(QUERIES.mark_payment_rejected, payment_id, reason)
