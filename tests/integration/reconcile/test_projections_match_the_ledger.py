"""Property: whatever the ledger is asked to do, in whatever order, the gateway's read models
(the pot by stream and year, allocations, provider and department statements, spend) equal the
ledger's own balances, account by account, to the penny.

Hypothesis draws sequences of requests (settle, receive, reserve, vary, release, pay, recover,
vire, close) over two places; the real ledger's batch handler decides them on real PostgreSQL,
and the real gateway's batch handler applies every event the ledger wrote to its outbox. Many
requests are refused (too little money, a closed year, an unknown payment): refusals must leave
both sides agreeing too. Each example gets places of its own, so examples share one database.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import (
    ClosePeriod,
    Event,
    FinancialYearAmount,
    PaymentRequested,
    RecordReceipt,
    RecordSettlement,
    RecoveryRaised,
    ReservationReleaseRequested,
    ReservationRequested,
    VirementRequested,
)
from services.gateway.projections import views
from tests.integration.reconcile.books import Books, books_on

pytestmark = [pytest.mark.integration, pytest.mark.slow]

YEARS = ("2026-27", "2027-28")
# Two departments share the CORE stream code, so a virement out of it moves both departments'
# money, each into its own target stream.
STREAMS = (("DWP", "CORE"), ("MHCLG", "CORE"), ("DWP", "SKILLS"), ("MHCLG", "HOUSING"))
STREAM_CODES = ("CORE", "SKILLS", "HOUSING")
ALLOCATIONS = 2
PROVIDERS = ("PROV-A", "PROV-B")
EXAMPLE_NUMBERS = itertools.count()

place_index = st.integers(0, 1)
pence = st.integers(1, 3_000)
# Payments, releases and recoveries take smaller sums, so that most find enough left.
small_pence = st.integers(1, 800)

allocation = st.integers(0, ALLOCATIONS - 1)
settle = st.tuples(st.just("settle"), place_index, st.integers(0, 3), pence, st.integers(0, 9_000))
receive = st.tuples(st.just("receive"), place_index, st.integers(0, 3), st.integers(0, 1), pence)
reserve = st.tuples(st.just("reserve"), place_index, allocation, pence)
vary = st.tuples(st.just("vary"), place_index, allocation, st.integers(-2_000, 2_000))
release = st.tuples(st.just("release"), place_index, allocation, small_pence)
pay = st.tuples(st.just("pay"), place_index, allocation, small_pence, st.integers(0, 1))
recover = st.tuples(st.just("recover"), place_index, st.integers(0, 7), small_pence)
vire = st.tuples(
    st.just("vire"), place_index, st.integers(0, 1), st.integers(0, 2), st.integers(0, 2), pence
)
close = st.tuples(st.just("close"), place_index, st.integers(0, 1))
# Weighted by repetition (one_of picks a branch evenly): money-moving requests come often, a
# year closes rarely (after which everything in it is refused).
operations = st.one_of(
    reserve, reserve, pay, pay, pay, release, release, vary, recover, recover, vire, receive,
    settle, close,
)  # fmt: skip


@dataclass
class Requests:
    """Turns drawn operations into ledger requests, remembering the ids it handed out so that
    later operations can name earlier settlements and payments."""

    places: tuple[str, str]
    numbers: itertools.count = field(default_factory=itertools.count)
    payments: list[tuple[str, str, str, str]] = field(default_factory=list)

    def request(self, operation: tuple) -> Event | None:
        kind, place_number, *values = operation
        place = self.places[place_number]
        build = getattr(self, f"_{kind}")
        built: Event | None = build(place, *values)
        return built

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self.numbers)}"

    def _settle(self, place: str, stream: int, first: int, second: int) -> Event:
        department, code = STREAMS[stream]
        amounts = [(YEARS[0], first)] + ([(YEARS[1], second)] if second else [])
        return RecordSettlement(
            place_id=place,
            # One settlement per stream: a receipt names it without remembering which were made.
            settlement_id=f"S-{department}-{code}",
            department_code=department,
            funding_stream_code=code,
            spending_review_period="SR2025",
            profile=tuple(
                FinancialYearAmount(financial_year=year, amount_pence=amount)
                for year, amount in amounts
            ),
        )

    def _receive(self, place: str, stream: int, year: int, amount: int) -> Event:
        department, code = STREAMS[stream]
        return RecordReceipt(
            place_id=place,
            receipt_id=self._id("R"),
            settlement_id=f"S-{department}-{code}",
            department_code=department,
            funding_stream_code=code,
            financial_year=YEARS[year],
            amount_pence=amount,
        )

    def _reserve(self, place: str, allocation: int, amount: int) -> Event:
        return ReservationRequested(
            place_id=place,
            allocation_id=f"A-{allocation}",
            # An allocation draws on one year: the same one every time it is named.
            financial_year=YEARS[allocation % 2],
            amount_pence=amount,
            purpose="services",
        )

    def _vary(self, place: str, allocation: int, change: int) -> Event | None:
        if change > 0:
            return self._reserve(place, allocation, change)
        if change < 0:
            return ReservationReleaseRequested(
                place_id=place,
                allocation_id=f"A-{allocation}",
                amount_pence=-change,
                reason="varied_down",
            )
        return None

    def _release(self, place: str, allocation: int, amount: int) -> Event:
        return ReservationReleaseRequested(
            place_id=place, allocation_id=f"A-{allocation}", amount_pence=amount, reason="cancelled"
        )

    def _pay(self, place: str, allocation: int, amount: int, provider: int) -> Event:
        payment_id = self._id("P")
        self.payments.append((place, payment_id, f"A-{allocation}", PROVIDERS[provider]))
        return PaymentRequested(
            place_id=place,
            payment_id=payment_id,
            allocation_id=f"A-{allocation}",
            provider_id=PROVIDERS[provider],
            amount_pence=amount,
            payment_kind="grant_instalment",
            purpose="instalment",
        )

    def _recover(self, place: str, payment: int, amount: int) -> Event | None:
        own = [paid for paid in self.payments if paid[0] == place]
        if not own:
            return None
        _, payment_id, allocation_id, provider_id = own[payment % len(own)]
        return RecoveryRaised(
            place_id=place,
            recovery_id=self._id("RC"),
            payment_id=payment_id,
            allocation_id=allocation_id,
            provider_id=provider_id,
            amount_pence=amount,
            reason="evidence found invalid",
        )

    def _vire(self, place: str, year: int, source: int, target: int, amount: int) -> Event | None:
        if source == target:
            return None
        return VirementRequested(
            place_id=place,
            virement_id=self._id("V"),
            financial_year=YEARS[year],
            from_funding_stream_code=STREAM_CODES[source],
            to_funding_stream_code=STREAM_CODES[target],
            amount_pence=amount,
            approval_reference="BOARD-1",
        )

    def _close(self, place: str, year: int) -> Event:
        return ClosePeriod(place_id=place, financial_year=YEARS[year])


async def run_and_reconcile(
    database_url: str, settled: list[tuple[int, int]], reserved: list[int], drawn: list[tuple]
) -> None:
    number = next(EXAMPLE_NUMBERS)
    places = (f"X{number}A", f"X{number}B")
    requests = Requests(places)
    # Every stream of both places is settled and every allocation reserved first, so that most
    # later requests find money to move.
    opening = [
        ("settle", place, stream, first, second)
        for place in (0, 1)
        for stream, (first, second) in enumerate(settled)
    ] + [
        ("reserve", place, allocation, amount)
        for place in (0, 1)
        for allocation, amount in enumerate(reserved)
    ]
    async with books_on(database_url) as books:
        for operation in opening + drawn:
            request = requests.request(operation)
            if request is not None:
                await books.send(request)
        for place in places:
            reconciliation = await books.reconcile(place)
            assert [d.sentence() for d in reconciliation.differences] == []
            await pot_view_agrees_with_the_ledger_report(books, place)


async def pot_view_agrees_with_the_ledger_report(books: Books, place: str) -> None:
    """The pot as people see it (the gateway's view), beside the ledger's own stream report: a
    second path to the same figures, independent of the reconciliation's mapping."""
    ledger = {
        (row["financial_year"], row["department_code"], row["funding_stream_code"]): row
        for row in await books.ledger_streams(place)
    }
    async with books.gateway_pool.acquire() as connection:
        for year in await views.db.pot_years(connection, place):
            pot = await views.pot_overview(connection, place, year)
            for stream in pot["streams"]:
                key = (year, stream["department_code"], stream["funding_stream_code"])
                booked = ledger.get(key, {})
                assert stream["available_pence"] == (booked.get("unreserved_pence") or 0), key
                assert stream["reserved_pence"] - stream["paid_pence"] == (
                    booked.get("reserved_pence") or 0
                ), key
                assert stream["received_pence"] == (booked.get("received_pence") or 0), key


@settings(
    max_examples=40,
    deadline=None,
    # The database is the test's own; each example uses places of its own inside it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    settled=st.lists(
        st.tuples(st.integers(1, 9_000), st.integers(0, 9_000)),
        min_size=len(STREAMS),
        max_size=len(STREAMS),
    ),
    reserved=st.lists(pence, min_size=ALLOCATIONS, max_size=ALLOCATIONS),
    drawn=st.lists(operations, min_size=10, max_size=40),
)
def test_the_gateways_projections_equal_the_ledgers_balances_to_the_penny(
    database_url: str, settled: list[tuple[int, int]], reserved: list[int], drawn: list[tuple]
) -> None:
    asyncio.run(run_and_reconcile(database_url, settled, reserved, drawn))


def test_a_corrupted_pot_row_is_a_difference_naming_the_account_and_both_figures(
    database_url: str,
) -> None:
    """The check itself can fail: one penny changed in the read model is found."""

    async def scenario() -> list[str]:
        requests = Requests(("CORRUPT", "OTHER"))
        async with books_on(database_url) as books:
            await books.send(requests.request(("settle", 0, 0, 1_000, 0)))  # type: ignore[arg-type]
            async with books.gateway_pool.acquire() as connection:
                await connection.execute(
                    "UPDATE pot_streams SET available_pence = available_pence - 1"
                    " WHERE place_id = 'CORRUPT'"
                )
            reconciliation = await books.reconcile("CORRUPT")
        return [difference.sentence() for difference in reconciliation.differences]

    assert asyncio.run(scenario()) == [
        "CORRUPT 2026-27 pot pot:DWP:CORE: ledger 1000 pence, read model 999 pence (off by -1)"
    ]
