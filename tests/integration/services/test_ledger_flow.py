"""The ledger skeleton against real PostgreSQL and the real broker: settle, reserve, pay, spend."""

from __future__ import annotations

import pytest

from contracts import (
    FinancialYearAmount,
    PaymentRequested,
    RecordSettlement,
    ReservationMade,
    ReservationRejected,
    ReservationRequested,
    SettlementRecorded,
    SpendRecorded,
    TransferPosted,
    topics,
)
from services.ledger.app import DEFINITION as LEDGER
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = pytest.mark.integration


def settlement(department: str, stream: str, amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=f"S-{department}-{stream}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=amount_pence),),
    )


async def test_a_payment_is_spent_with_attribution_that_adds_up_to_the_penny(settings) -> None:
    async with (
        TopicReader(
            settings, topics.LEDGER_RESULTS, topics.LEDGER_SPEND, topics.LEDGER_TRANSFERS
        ) as reader,
        running(LEDGER, settings),
    ):
        await publish(
            settings,
            settlement("DWP", "WORK", 200_000_00),
            settlement("DHSC", "HEALTH", 100_000_00),
        )
        await eventually(lambda: _count(reader, SettlementRecorded, 2))
        await publish(
            settings,
            ReservationRequested(
                place_id="GM",
                allocation_id="A-1",
                financial_year="2026-27",
                amount_pence=30_000_01,
                purpose="employment support",
            ),
        )
        made = (await eventually(lambda: _found(reader, ReservationMade)))[0]
        await publish(
            settings,
            PaymentRequested(
                place_id="GM",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=10_000_00,
                payment_kind="outcome_payment",
                contract_id="C-1",
                claim_batch_id="B-1",
                purpose="job outcomes",
            ),
        )
        spend = (await eventually(lambda: _found(reader, SpendRecorded)))[0]

    assert sum(share.amount_pence for share in made.attribution) == 30_000_01
    # The pot was two-thirds DWP, one-third DHSC; the payment inherits that mix.
    by_department = {share.department_code: share.amount_pence for share in spend.attribution}
    assert by_department == {"DWP": 6_666_67, "DHSC": 3_333_33}
    transfers = reader.events(TransferPosted)
    assert [t.sequence for t in transfers] == [1, 2, 3, 4]
    assert all(
        t.previous_hash == p.chain_hash for p, t in zip(transfers, transfers[1:], strict=False)
    )


async def test_a_reservation_larger_than_the_unreserved_pot_is_rejected_with_the_numbers(
    settings,
) -> None:
    async with TopicReader(settings, topics.LEDGER_RESULTS) as reader, running(LEDGER, settings):
        await publish(settings, settlement("DWP", "WORK", 120_000_00))
        await eventually(lambda: _count(reader, SettlementRecorded, 1))
        await publish(
            settings,
            ReservationRequested(
                place_id="GM",
                allocation_id="A-17",
                financial_year="2026-27",
                amount_pence=250_000_00,
                purpose="family hubs",
            ),
        )
        rejected = (await eventually(lambda: _found(reader, ReservationRejected)))[0]

    assert rejected.reason == (
        "reservation of £250,000.00 for allocation A-17 exceeds the unreserved pot of "
        "£120,000.00 for GM 2026-27"
    )
    assert rejected.unreserved_pence == 120_000_00


async def _found(reader: TopicReader, event_type: type) -> list:
    return reader.events(event_type)


async def _count(reader: TopicReader, event_type: type, expected: int) -> bool:
    return len(reader.events(event_type)) >= expected
