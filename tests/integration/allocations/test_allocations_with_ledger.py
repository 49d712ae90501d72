"""The allocations service with the real ledger, broker and PostgreSQL: board votes, the race for
the pot, grant instalments, expiry releasing the unspent rest, refusals as events."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import (
    FinancialYearAmount,
    PaymentMade,
    PaymentRequested,
    ProposeAllocation,
    RecordSettlement,
    ReservationMade,
    ReservationRejected,
    ReservationReleased,
    ReservationReleaseRequested,
    ReservationRequested,
    SettlementRecorded,
    topics,
)
from contracts.allocations import (
    AllocationExpired,
    AllocationFunded,
    AllocationProposed,
    AllocationUnfunded,
    AllocationVaried,
    BoardConfigured,
    BoardMember,
    CastVote,
    CloseVote,
    ConfigureBoard,
    DecideAllocation,
    DeclareInterest,
    Instalment,
    InstalmentPaid,
    ProcessDueWork,
    ProposeVariation,
    SetDecisionRules,
    VoteRecorded,
)
from contracts.decisions import CommandRefused
from singlepot.system import service_definition
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLACE = "GM"
YEAR = "2026-27"
LEDGER = service_definition("ledger")
ALLOCATIONS = service_definition("allocations")


def settlement(amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id=PLACE,
        settlement_id="S-DWP",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount_pence),),
    )


def proposal(allocation_id: str, value_pence: int, **changes: Any) -> ProposeAllocation:
    fields: dict[str, Any] = {
        "place_id": PLACE,
        "allocation_id": allocation_id,
        "allocation_type": "partnership_agreement",
        "recipient_id": f"R-{allocation_id}",
        "purpose": "Family hubs",
        "mission_id": "M-START-WELL",
        "start_date": date(2026, 5, 1),
        "end_date": date(2027, 3, 31),
        "value_pence": value_pence,
        "financial_year": YEAR,
        "proposed_by": "officer-1",
    }
    return ProposeAllocation(**(fields | changes))


def board() -> ConfigureBoard:
    return ConfigureBoard(
        place_id=PLACE,
        board_version=1,
        chair_id="mayor",
        chair_role="mayor",
        accounting_officer_id="ca-chief-executive",
        members=(
            BoardMember(member_id="mayor", name="The Mayor", seat="combined_authority"),
            BoardMember(member_id="icb", name="ICB chair", seat="nhs_icb"),
            BoardMember(member_id="vcse", name="VCSE lead", seat="voluntary_sector"),
        ),
    )


def rules() -> SetDecisionRules:
    return SetDecisionRules(place_id=PLACE, rules_version=1, quorum_members=2)


def count(reader: TopicReader, event_type: type, expected: int) -> Any:
    async def probe() -> list[Any]:
        found: list[Any] = reader.events(event_type)
        return found if len(found) >= expected else []

    return probe


async def test_two_allocations_approved_together_beyond_the_pot_leave_exactly_one_funded(
    settings,
) -> None:
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        await publish(settings, settlement(150_000_00), board(), rules())
        await eventually(count(reader, SettlementRecorded, 1))
        await eventually(count(reader, BoardConfigured, 1))
        await publish(settings, proposal("A-1", 90_000_00), proposal("A-2", 90_000_00))
        await eventually(count(reader, AllocationProposed, 2))
        votes = [
            CastVote(place_id=PLACE, allocation_id=allocation, member_id=member, vote="for")
            for allocation in ("A-1", "A-2")
            for member in ("mayor", "icb")
        ]
        await publish(settings, *votes)
        await eventually(count(reader, VoteRecorded, 4))
        # Both votes close at the same moment: the board approves both, the pot holds one.
        await publish(
            settings,
            CloseVote(place_id=PLACE, allocation_id="A-1", closed_by="mayor"),
            CloseVote(place_id=PLACE, allocation_id="A-2", closed_by="mayor"),
        )
        funded = (await eventually(count(reader, AllocationFunded, 1)))[0]
        unfunded = (await eventually(count(reader, AllocationUnfunded, 1)))[0]
        rejected = reader.events(ReservationRejected)[0]

    assert {funded.allocation_id, unfunded.allocation_id} == {"A-1", "A-2"}
    assert len(reader.events(AllocationFunded)) == 1
    assert unfunded.reason == rejected.reason
    assert unfunded.reason == (
        f"reservation of £90,000.00 for allocation {unfunded.allocation_id} exceeds the "
        "unreserved pot of £60,000.00 for GM 2026-27"
    )
    # The pot's balance is exact: what was settled less the one reservation, to the penny.
    assert rejected.unreserved_pence == 150_000_00 - 90_000_00
    assert [made.amount_pence for made in reader.events(ReservationMade)] == [90_000_00]


async def test_a_due_instalment_is_paid_once_and_expiry_asks_to_release_exactly_the_rest(
    settings,
) -> None:
    grant = proposal(
        "G-1",
        100_000_00,
        allocation_type="grant",
        instalments=(Instalment(due_date=date(2026, 6, 1), amount_pence=30_000_00),),
    )
    async with (
        TopicReader(
            settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_RESULTS, topics.LEDGER_REQUESTS
        ) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        await publish(settings, settlement(500_000_00), grant)
        await eventually(count(reader, AllocationProposed, 1))
        await publish(
            settings,
            DecideAllocation(
                place_id=PLACE, allocation_id="G-1", decision="approved", decided_by="board"
            ),
        )
        await eventually(count(reader, AllocationFunded, 1))
        # The daily job runs twice for the same date: the instalment is requested once.
        due = ProcessDueWork(place_id=PLACE, as_of=date(2026, 7, 1))
        await publish(settings, due, due)
        paid = (await eventually(count(reader, InstalmentPaid, 1)))[0]
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2027, 4, 1)))
        expired = (await eventually(count(reader, AllocationExpired, 1)))[0]
        release = (await eventually(count(reader, ReservationReleaseRequested, 1)))[0]

    assert paid.amount_pence == 30_000_00
    assert len(reader.events(PaymentRequested)) == 1
    assert [p.payment_id for p in reader.events(PaymentMade)] == ["G-1/i1"]
    assert release.amount_pence == 70_000_00
    assert release.reason == "expired"
    assert expired.released_pence == 70_000_00


async def test_expiry_gives_the_unspent_rest_back_to_the_pot(settings) -> None:
    grant = proposal(
        "G-2",
        100_000_00,
        allocation_type="grant",
        instalments=(Instalment(due_date=date(2026, 6, 1), amount_pence=30_000_00),),
    )
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        await publish(settings, settlement(100_000_00), grant)
        await eventually(count(reader, AllocationProposed, 1))
        await publish(
            settings,
            DecideAllocation(
                place_id=PLACE, allocation_id="G-2", decision="approved", decided_by="board"
            ),
        )
        await eventually(count(reader, AllocationFunded, 1))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 7, 1)))
        await eventually(count(reader, InstalmentPaid, 1))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2027, 4, 1)))
        released = (await eventually(count(reader, ReservationReleased, 1), timeout_s=15))[0]
        # The pot holds exactly the released rest again: a reservation of one penny more fails.
        await publish(
            settings,
            ReservationRequested(
                place_id=PLACE,
                allocation_id="PROBE",
                financial_year=YEAR,
                amount_pence=70_000_01,
                purpose="probe",
            ),
        )
        probe = (await eventually(count(reader, ReservationRejected, 1)))[0]

    assert released.amount_pence == 70_000_00
    assert probe.unreserved_pence == 70_000_00


async def test_refusals_are_published_as_events_and_change_nothing(settings) -> None:
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_REQUESTS) as reader,
        running(ALLOCATIONS, settings),
    ):
        await publish(settings, board(), rules())
        await eventually(count(reader, BoardConfigured, 1))
        await publish(
            settings,
            DeclareInterest(
                place_id=PLACE,
                interest_id="I-1",
                member_id="vcse",
                recipient_id="R-A-1",
                description="trustee of the recipient",
            ),
            proposal("A-1", 50_000_00),
            proposal("A-1", 60_000_00),
            CastVote(place_id=PLACE, allocation_id="A-1", member_id="vcse", vote="for"),
            CastVote(place_id=PLACE, allocation_id="A-1", member_id="mayor", vote="for"),
            CloseVote(place_id=PLACE, allocation_id="A-1", closed_by="mayor"),
        )
        refusals = await eventually(count(reader, CommandRefused, 3))

    by_rule = {refusal.rule: refusal for refusal in refusals}
    assert by_rule["allocation_id_unique"].reason == (
        "allocation A-1 already exists in GM; this proposal differs in value_pence: use a new "
        "allocation_id"
    )
    assert "vcse declared an interest (trustee of the recipient)" in by_rule["recusal"].reason
    assert by_rule["quorum"].reason == (
        "quorum not met on allocation A-1: 1 of 2 eligible voting members voted (1 recused), "
        "quorum is 2 (rules version 1)"
    )
    assert len(reader.events(AllocationProposed)) == 1
    assert reader.events(ReservationRequested) == []


async def test_variations_move_the_reservation_and_expiry_returns_the_rest_to_the_penny(
    settings,
) -> None:
    up = ProposeVariation(
        place_id=PLACE,
        allocation_id="A-V",
        variation_id="V-UP",
        change="value_up",
        reason="more families referred than planned",
        proposed_by="officer-1",
        proposed_on=date(2026, 9, 1),
        new_value_pence=80_000_00,
    )
    down = up.model_copy(
        update={
            "variation_id": "V-DOWN",
            "change": "value_down",
            "reason": "a partner took on one site",
            "new_value_pence": 60_000_00,
        }
    )

    def decided(variation_id: str | None = None) -> DecideAllocation:
        return DecideAllocation(
            place_id=PLACE,
            allocation_id="A-V",
            variation_id=variation_id,
            decision="approved",
            decided_by="board",
        )

    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
    ):
        await publish(settings, settlement(200_000_00), proposal("A-V", 50_000_00))
        await eventually(count(reader, AllocationProposed, 1))
        await publish(settings, decided())
        await eventually(count(reader, AllocationFunded, 1))
        await publish(settings, up, decided("V-UP"))
        await eventually(count(reader, ReservationMade, 2))
        await publish(settings, down, decided("V-DOWN"))
        await eventually(count(reader, ReservationReleased, 1))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2027, 4, 1)))
        released = await eventually(count(reader, ReservationReleased, 2))
        await publish(
            settings,
            ReservationRequested(
                place_id=PLACE,
                allocation_id="PROBE",
                financial_year=YEAR,
                amount_pence=200_000_01,
                purpose="probe",
            ),
        )
        probe = (await eventually(count(reader, ReservationRejected, 1)))[0]

    assert [v.new_value_pence for v in reader.events(AllocationVaried)] == [80_000_00, 60_000_00]
    assert [(r.amount_pence, r.reason) for r in released] == [
        (20_000_00, "varied_down"),
        (60_000_00, "expired"),
    ]
    # Everything reserved came back: the pot is whole again, to the penny.
    assert probe.unreserved_pence == 200_000_00
