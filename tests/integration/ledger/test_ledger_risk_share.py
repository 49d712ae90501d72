"""The year-end risk share through the ledger's own batch handler on PostgreSQL, figures written
by hand (the pool of tests/unit/ledger/test_ledger_risk_share.py): DHSC's stream bore £300,000
and DWP's £100,000 of a 50/50 pool, so £100,000 of DWP's unreserved money moves to DHSC in one
chained transfer; the answer carries each partner's figures and the chain still verifies."""

from __future__ import annotations

import uuid

import pytest

from contracts import (
    ApplyRiskShare,
    Event,
    FinancialYearAmount,
    RecordSettlement,
    ReservationRequested,
    RiskShareApplied,
)
from contracts.envelope import decode, unwrap, wrap
from contracts.ledger import FundingStream
from services.ledger import handlers, verification
from services.runtime.db import create_pool
from tests.unit.ledger.test_ledger_risk_share import a_pool

pytestmark = pytest.mark.integration


def pool_requests() -> list[Event]:
    """The settlements and reservations of the unit tests' pool, as requests."""
    requests: list[Event] = []
    for number, (department, stream, pence) in enumerate(
        [("DWP", "WORK", 600_000_00), ("DHSC", "HEALTH", 400_000_00)]
    ):
        requests.append(
            RecordSettlement(
                place_id="GM",
                settlement_id=f"S-{number}",
                department_code=department,
                funding_stream_code=stream,
                spending_review_period="SR2025",
                profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=pence),),
            )
        )
    for allocation, department, stream, pence in [
        ("A-DWP", "DWP", "WORK", 100_000_00),
        ("A-DHSC", "DHSC", "HEALTH", 300_000_00),
    ]:
        requests.append(
            ReservationRequested(
                place_id="GM",
                allocation_id=allocation,
                financial_year="2026-27",
                amount_pence=pence,
                purpose="pooled services",
                eligible_streams=(
                    FundingStream(department_code=department, funding_stream_code=stream),
                ),
            )
        )
    return requests


async def test_the_ledger_posts_the_risk_share_as_one_chained_transfer(database_url: str) -> None:
    assert a_pool().balance("2026-27", "pot:DHSC:HEALTH") == 100_000_00  # the same pool
    share = ApplyRiskShare(
        place_id="GM",
        risk_share_id="RS-1",
        financial_year="2026-27",
        rule="equal",
        agreement_reference="S75-2026",
    )
    pool = await create_pool(database_url, "ledger", 2)
    try:
        async with pool.acquire() as connection:
            for request in [*pool_requests(), share]:
                envelope = wrap(request, producer="test", event_id=uuid.uuid4())
                async with connection.transaction():
                    await handlers.handle_batch(connection, [(envelope, request)])
            balances = {
                row["account"]: row["balance_pence"]
                for row in await connection.fetch(
                    "SELECT account, balance_pence FROM balances WHERE account LIKE 'pot:%'"
                )
            }
            answers = [
                unwrap(decode(row["value"]))
                for row in await connection.fetch(
                    "SELECT value FROM outbox WHERE event_type = 'RiskShareApplied'"
                )
            ]
            checked = await verification.verify_place(connection, "GM")
    finally:
        await pool.close()

    assert balances == {"pot:DWP:WORK": 400_000_00, "pot:DHSC:HEALTH": 200_000_00}
    [answer] = answers
    assert isinstance(answer, RiskShareApplied)
    assert answer.pool_borne_pence == 400_000_00
    assert {(p.department_code, p.adjustment_pence) for p in answer.partners} == {
        ("DWP", -100_000_00),
        ("DHSC", 100_000_00),
    }
    assert checked.broken_link is None and not checked.balance_mismatches
