"""A restricted stream with the real allocations service, ledger, broker and PostgreSQL: a
statutory-service grant is funded from the pot's other streams only, to the penny, and its
payment and spend follow the streams actually drawn."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import (
    FinancialYearAmount,
    PaymentMade,
    ProposeAllocation,
    RecordSettlement,
    ReservationMade,
    ReservationRequested,
    SettlementRecorded,
    SpendRecorded,
    topics,
)
from contracts.allocations import (
    AllocationFunded,
    AllocationProposed,
    DecideAllocation,
    Instalment,
    InstalmentPaid,
    ProcessDueWork,
    SetEarmark,
)
from contracts.ledger import FundingStream
from singlepot.system import service_definition
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLACE = "GM"
YEAR = "2026-27"
LEDGER = service_definition("ledger")
ALLOCATIONS = service_definition("allocations")


def settlement(department: str, stream: str, amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id=PLACE,
        settlement_id=f"S-{stream}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount_pence),),
    )


def count(reader: TopicReader, event_type: type, expected: int) -> Any:
    async def probe() -> list[Any]:
        found: list[Any] = reader.events(event_type)
        return found if len(found) >= expected else []

    return probe


def by_department(event: Any) -> dict[str, int]:
    return {share.department_code: share.amount_pence for share in event.attribution}


async def test_a_statutory_grant_is_funded_only_from_streams_that_may_fund_it(settings) -> None:
    not_statutory = SetEarmark(
        place_id=PLACE,
        earmark_id="DORMANT-NOT-STATUTORY",
        kind="excluded_purpose",
        purpose_tag="statutory-services",
        department_code="DCMS",
        funding_stream_code="DORMANT-ASSETS",
        reason="dormant-asset money must not replace statutory funding",
    )
    grant = ProposeAllocation(
        place_id=PLACE,
        allocation_id="G-STAT",
        allocation_type="grant",
        recipient_id="R-CARE",
        purpose="Statutory adult social care",
        mission_id="M-CARE",
        start_date=date(2026, 5, 1),
        end_date=date(2027, 3, 31),
        value_pence=100_000_00,
        financial_year=YEAR,
        proposed_by="officer-1",
        instalments=(Instalment(due_date=date(2026, 6, 1), amount_pence=10_000_00),),
        purpose_tags=("statutory-services",),
    )
    async with (
        TopicReader(
            settings,
            topics.ALLOCATIONS_LIFECYCLE,
            topics.LEDGER_RESULTS,
            topics.LEDGER_REQUESTS,
            topics.LEDGER_SPEND,
        ) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        # £2m of restricted money beside £300,000.03 that may fund anything.
        await publish(
            settings,
            settlement("DCMS", "DORMANT-ASSETS", 2_000_000_00),
            settlement("DWP", "WORK", 100_000_01),
            settlement("DHSC", "HEALTH", 200_000_02),
            not_statutory,
        )
        await eventually(count(reader, SettlementRecorded, 3))
        await publish(settings, grant)
        await eventually(count(reader, AllocationProposed, 1))
        approve = DecideAllocation(
            place_id=PLACE, allocation_id="G-STAT", decision="approved", decided_by="board"
        )
        await publish(settings, approve)
        await eventually(count(reader, AllocationFunded, 1))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 7, 1)))
        await eventually(count(reader, InstalmentPaid, 1))
        [spend] = await eventually(count(reader, SpendRecorded, 1))

    [requested] = reader.events(ReservationRequested)
    assert requested.excluded_streams == (
        FundingStream(department_code="DCMS", funding_stream_code="DORMANT-ASSETS"),
    )
    [reserved] = reader.events(ReservationMade)
    # £100,000 over DWP £100,000.01 and DHSC £200,000.02 (1 : 2) = £33,333.33⅓ and
    # £66,666.66⅔; the spare penny goes to DHSC's larger remainder. Nothing from DCMS.
    assert by_department(reserved) == {"DWP": 33_333_33, "DHSC": 66_666_67}
    # The £10,000 instalment follows the reservation: £3,333.33 and £6,666.67.
    [paid] = reader.events(PaymentMade)
    assert by_department(paid) == {"DWP": 3_333_33, "DHSC": 6_666_67}
    assert by_department(spend) == {"DWP": 3_333_33, "DHSC": 6_666_67}
