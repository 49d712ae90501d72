"""Helpers for the outcomes integration tests: contracts and evidence to send, and a harness
that runs the real handlers on the real PostgreSQL, each message in its own transaction."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import asyncpg

from contracts.allocations import AllocationApproved, AllocationFunded
from contracts.base import Event
from contracts.envelope import Envelope, decode, encode, unwrap, wrap
from contracts.evidence_file import evidence_commands, parse_rows, participant_hash
from contracts.outcomes import (
    ClaimPeriod,
    EvidenceClaim,
    MetricPrice,
    RegisterOutcomesContract,
    SubmitEvidence,
)
from services.outcomes.app import definition
from services.outcomes.settings import OutcomesSettings
from services.runtime.consumer import Handler, HandlerContext
from services.runtime.db import create_pool
from services.runtime.outbox import Outbox

T = TypeVar("T")
KEY = b"integration-test-key"
HEADER = (
    "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
    "difficulty_segment"
)


def person(number: int) -> str:
    return participant_hash(f"person-{number}", KEY)


def register(
    contract_id: str = "C-1",
    provider_id: str = "P-1",
    allocation_id: str = "A-1",
    cap_pence: int = 100_000_00,
    **terms: Any,
) -> RegisterOutcomesContract:
    values: dict[str, Any] = {
        "place_id": "GM",
        "contract_id": contract_id,
        "allocation_id": allocation_id,
        "provider_id": provider_id,
        "prices": (
            MetricPrice(metric_id="JOB", price_pence=1_000_00),
            MetricPrice(metric_id="SUSTAINED", price_pence=3_000_00),
        ),
        "cap_pence": cap_pence,
        "claim_periods": (
            ClaimPeriod(
                claim_period_id="2026-Q1",
                starts_on=date(2026, 4, 1),
                ends_on=date(2026, 6, 30),
                planned_payment_pence=10_000_00,
            ),
            ClaimPeriod(
                claim_period_id="2026-Q2",
                starts_on=date(2026, 7, 1),
                ends_on=date(2026, 9, 30),
                planned_payment_pence=20_000_00,
            ),
        ),
        "difficulty_segments": ("easy", "hard"),
    }
    values.update(terms)
    return RegisterOutcomesContract(**values)


def funded(allocation_id: str = "A-1", provider_id: str = "P-1") -> list[Event]:
    """What the allocations lifecycle says about a funded outcomes_contract allocation."""
    return [
        AllocationApproved(
            place_id="GM",
            allocation_id=allocation_id,
            allocation_type="outcomes_contract",
            recipient_id=provider_id,
            value_pence=500_000_00,
            financial_year="2026-27",
            decided_by="board",
        ),
        AllocationFunded(place_id="GM", allocation_id=allocation_id, amount_pence=500_000_00),
    ]


def claim(
    number: int, metric_id: str = "JOB", achieved_on: date = date(2026, 5, 1), **extra: Any
) -> EvidenceClaim:
    return EvidenceClaim(
        participant_hash=person(number),
        metric_id=metric_id,
        achieved_on=achieved_on,
        evidence_reference=f"payroll/{number}",
        **extra,
    )


def evidence(
    batch_id: str, *claims: EvidenceClaim, contract_id: str = "C-1", provider_id: str = "P-1"
) -> SubmitEvidence:
    return SubmitEvidence(
        place_id="GM",
        contract_id=contract_id,
        batch_id=batch_id,
        provider_id=provider_id,
        claims=claims,
    )


def csv_file(lines: list[str]) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def file_commands(
    content: bytes, batch_id: str, chunk_size: int, contract_id: str = "C-1"
) -> list[SubmitEvidence]:
    return list(
        evidence_commands(
            parse_rows(io.BytesIO(content), "csv", KEY),
            place_id="GM",
            contract_id=contract_id,
            provider_id="P-1",
            batch_id=batch_id,
            claims_per_command_max=chunk_size,
        )
    )


@dataclass
class Harness:
    """The outcomes service's handlers on a real database, without the broker in between."""

    pool: asyncpg.Pool
    registry: Mapping[type[Event], Handler]

    async def send(self, *events: Event) -> list[Envelope]:
        sent = []
        for event in events:
            # Through JSON and back, as the broker would carry it.
            envelope = decode(encode(wrap(event, producer="test")))
            message = unwrap(envelope)
            async with self.pool.acquire() as connection, connection.transaction():
                outbox = Outbox(connection, "outcomes", causation=envelope)
                await self.registry[type(message)](
                    HandlerContext(connection, outbox, envelope), message
                )
            sent.append(envelope)
        return sent

    async def emitted(self, event_type: type[T]) -> list[T]:
        rows = await self.pool.fetch(
            "SELECT value FROM outbox WHERE event_type = $1 ORDER BY id",
            event_type.__name__,
        )
        return [unwrap(decode(bytes(row["value"]))) for row in rows]  # type: ignore[misc]

    async def value(self, query: str, *arguments: Any) -> Any:
        return await self.pool.fetchval(query, *arguments)

    async def rows(self, query: str, *arguments: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.pool.fetch(query, *arguments)
        return rows


@asynccontextmanager
async def harness(database_url: str, **settings: Any) -> AsyncIterator[Harness]:
    pool = await create_pool(database_url, "outcomes", 4)
    try:
        yield Harness(pool, definition(OutcomesSettings(**settings)).handlers)
    finally:
        await pool.close()
