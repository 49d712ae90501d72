"""Refused grant instalments on the real ledger, broker and PostgreSQL: one refused for want of
reservation is retried by the next due-work run after money came into the reservation;
one refused in a closed year is reported as unpayable, never retried.

The grant: £60,000.00 with one £30,000.00 instalment due on 1 June 2026 (below the £100,000.00
above which the accounting officer signs off, so the board's decisions take effect at once)."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from contracts import (
    ClosePeriod,
    DecideAllocation,
    PaymentMade,
    PaymentRequested,
    topics,
)
from contracts.allocations import (
    AllocationFunded,
    AllocationProposed,
    Instalment,
    InstalmentPaid,
    InstalmentRetried,
    InstalmentUnpaid,
    InstalmentUnpayable,
    ProcessDueWork,
    ProposeVariation,
)
from tests.integration.allocations.test_allocations_with_ledger import (
    ALLOCATIONS,
    LEDGER,
    PLACE,
    YEAR,
    count,
    proposal,
    settlement,
)
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GRANT = proposal(
    "G-R",
    60_000_00,
    allocation_type="grant",
    instalments=(Instalment(due_date=date(2026, 6, 1), amount_pence=30_000_00),),
)


async def allocations_has(settings, field: str, pence: int) -> None:
    """Wait until the allocations service has applied the ledger's answer that brings `field`
    of the grant to `pence` (it publishes nothing for a payment or recovery of its own)."""

    async def applied() -> bool:
        connection = await asyncpg.connect(settings.database_url)
        try:
            value = await connection.fetchval(
                "SELECT (document ->> $1)::bigint FROM allocations.allocations "
                "WHERE allocation_id = 'G-R'",
                field,
            )
        finally:
            await connection.close()
        return value == pence

    await eventually(applied)


async def funded_grant(settings, reader: TopicReader) -> None:
    await publish(settings, settlement(500_000_00), GRANT)
    await eventually(count(reader, AllocationProposed, 1))
    await publish(
        settings,
        DecideAllocation(place_id=PLACE, allocation_id="G-R", decision="approved", decided_by="b"),
    )
    await eventually(count(reader, AllocationFunded, 1))


async def test_an_instalment_refused_for_want_of_reservation_is_paid_once_money_comes_in(
    settings,
) -> None:
    # £40,000.00 of the reservation is paid out first, leaving £20,000.00 for the £30,000.00.
    other_payment = PaymentRequested(
        place_id=PLACE,
        payment_id="OTHER-1",
        allocation_id="G-R",
        provider_id="R-G-R",
        amount_pence=40_000_00,
        payment_kind="grant_instalment",
        purpose="an earlier payment from the same grant",
    )
    # Then the board raises the grant by £15,000.00: the reservation holds £35,000.00.
    rise = ProposeVariation(
        place_id=PLACE,
        allocation_id="G-R",
        variation_id="V-UP",
        change="value_up",
        reason="more families referred than planned",
        proposed_by="officer-1",
        proposed_on=date(2026, 6, 2),
        new_value_pence=75_000_00,
    )
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        await funded_grant(settings, reader)
        await publish(settings, other_payment)
        await allocations_has(settings, "paid_pence", 40_000_00)
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 1)))
        (unpaid,) = await eventually(count(reader, InstalmentUnpaid, 1))
        # No money has come in: the next run asks for nothing.
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 2)))
        await publish(
            settings,
            rise,
            DecideAllocation(
                place_id=PLACE,
                allocation_id="G-R",
                variation_id="V-UP",
                decision="approved",
                decided_by="b",
            ),
        )
        await allocations_has(settings, "reserved_pence", 75_000_00)
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 3)))
        (retried,) = await eventually(count(reader, InstalmentRetried, 1))
        (paid,) = await eventually(count(reader, InstalmentPaid, 1))
        unpayable = reader.events(InstalmentUnpayable)

    assert (unpaid.payment_id, unpaid.rule, unpaid.will_retry) == (
        "G-R/i1",
        "within_reservation",
        True,
    )
    assert "exceeds its remaining reservation of £20,000.00" in unpaid.reason
    assert (retried.payment_id, retried.refused_payment_id) == ("G-R/i1/r1", "G-R/i1")
    assert (retried.available_at_refusal_pence, retried.available_pence) == (
        20_000_00,
        35_000_00,
    )
    assert retried.as_of == date(2026, 6, 3)
    assert (paid.payment_id, paid.amount_pence) == ("G-R/i1/r1", 30_000_00)
    assert [p.payment_id for p in reader.events(PaymentMade)] == ["OTHER-1", "G-R/i1/r1"]
    assert unpayable == []


async def test_an_instalment_refused_in_a_closed_year_is_reported_and_never_retried(
    settings,
) -> None:
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        await funded_grant(settings, reader)
        await publish(settings, ClosePeriod(place_id=PLACE, financial_year=YEAR))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 1)))
        (unpayable,) = await eventually(count(reader, InstalmentUnpayable, 1))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 2)))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 2)))
        (unpaid,) = await eventually(count(reader, InstalmentUnpaid, 1))

    assert (unpayable.payment_id, unpayable.rule, unpayable.amount_pence) == (
        "G-R/i1",
        "period_open",
        30_000_00,
    )
    assert f"financial year {YEAR} is closed" in unpayable.reason
    assert unpaid.will_retry is False
    assert reader.events(InstalmentRetried) == []
    assert reader.events(PaymentMade) == []
