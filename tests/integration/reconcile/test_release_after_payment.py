"""A release after a payment: the gateway's pot, per stream, shows what the ledger booked.

The ledger splits a release by what is still reserved in each stream; a payment has already
taken its own, rounded, shares. A gateway that split the release again by the reservation's
original mix was off by a penny per stream here (and more after several payments)."""

from __future__ import annotations

import pytest

from contracts import (
    FinancialYearAmount,
    PaymentRequested,
    RecordSettlement,
    ReservationReleaseRequested,
    ReservationRequested,
)
from services.gateway.projections import views
from tests.integration.reconcile.books import books_on

pytestmark = pytest.mark.integration

PLACE, YEAR = "GM", "2026-27"


def settlement(department: str, stream: str, amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id=PLACE,
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount_pence),),
    )


def payment(payment_id: str, amount_pence: int) -> PaymentRequested:
    return PaymentRequested(
        place_id=PLACE,
        payment_id=payment_id,
        allocation_id="A-1",
        provider_id="PROV-1",
        amount_pence=amount_pence,
        payment_kind="grant_instalment",
        purpose="instalment",
    )


def release(amount_pence: int) -> ReservationReleaseRequested:
    return ReservationReleaseRequested(
        place_id=PLACE, allocation_id="A-1", amount_pence=amount_pence, reason="cancelled"
    )


async def pot_beside_ledger(books, database_url: str) -> list[tuple]:
    """Per stream: (stream, gateway available, ledger unreserved, gateway still reserved,
    ledger reserved), from the gateway's own pot view and the ledger's stream report."""
    async with books.gateway_pool.acquire() as connection:
        pot = await views.pot_overview(connection, PLACE, YEAR)
    ledger = {
        (row["department_code"], row["funding_stream_code"]): row
        for row in await books.ledger_streams(PLACE)
    }
    return [
        (
            f"{stream['department_code']}/{stream['funding_stream_code']}",
            stream["available_pence"],
            ledger[(stream["department_code"], stream["funding_stream_code"])]["unreserved_pence"],
            stream["reserved_pence"] - stream["paid_pence"],
            ledger[(stream["department_code"], stream["funding_stream_code"])]["reserved_pence"],
        )
        for stream in pot["streams"]
    ]


def disagreements(rows: list[tuple]) -> list[tuple]:
    return [row for row in rows if row[1] != row[2] or row[3] != row[4]]


async def test_pot_per_stream_agrees_with_the_ledger_after_a_payment_and_a_full_release(
    database_url: str,
) -> None:
    async with books_on(database_url) as books:
        await books.send(settlement("DWP", "WORK", 3_000), settlement("MHCLG", "HOUSING", 1_000))
        await books.send(
            ReservationRequested(
                place_id=PLACE,
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=4_000,
                purpose="family hubs",
            )
        )
        await books.send(payment("P-1", 38))
        await books.send(release(3_962))

        rows = await pot_beside_ledger(books, database_url)

    assert [row[0] for row in rows] == ["DWP/WORK", "MHCLG/HOUSING"]
    assert disagreements(rows) == []
    # Everything not paid is back in the pot, in the streams it was still reserved in.
    assert {row[0]: row[1] for row in rows} == {"DWP/WORK": 2_971, "MHCLG/HOUSING": 991}


async def test_pot_per_stream_agrees_with_the_ledger_after_payments_and_partial_releases(
    database_url: str,
) -> None:
    async with books_on(database_url) as books:
        await books.send(settlement("DWP", "WORK", 3_000), settlement("MHCLG", "HOUSING", 1_001))
        await books.send(
            ReservationRequested(
                place_id=PLACE,
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=1_000,
                purpose="family hubs",
            )
        )
        await books.send(payment("P-1", 38), release(101), payment("P-2", 77), release(300))

        rows = await pot_beside_ledger(books, database_url)

    assert len(rows) == 2
    assert disagreements(rows) == []
