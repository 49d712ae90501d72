"""The allocations service's handlers on real PostgreSQL, through the real consumer (inbox and
savepoints included), with the ledger's answers played in by hand: every command path, its
refusal events, and idempotency. Events emitted are read back from the service's outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any, TypeVar

import asyncpg
import pytest

from contracts import (
    Event,
    FinancialYearAmount,
    PaymentMade,
    ProposeAllocation,
    RecoveryRecorded,
    ReservationMade,
    ReservationReleaseRequested,
    ReservationRequested,
    SettlementRecorded,
)
from contracts.allocations import (
    AdoptLocalReformPlan,
    AllocationApproved,
    AllocationCancelled,
    AllocationFunded,
    AllocationProposed,
    AllocationSignedOff,
    AllocationSignOffRefused,
    AllocationVaried,
    BoardConfigured,
    BoardDecisionRecorded,
    BoardMember,
    CancelAllocation,
    CastVote,
    ClaimLodged,
    ClaimOverdue,
    ClaimResponded,
    CloseVote,
    ConfigureBoard,
    DecideAllocation,
    DeclareInterest,
    LodgeClaim,
    Mission,
    ProcessDueWork,
    ProposeVariation,
    ReleaseRefused,
    RespondToClaim,
    SetDecisionRules,
    SetEarmark,
    SignOffAllocation,
    VariationProposed,
)
from contracts.decisions import CommandRefused
from contracts.envelope import decode, encode, unwrap, wrap
from contracts.values import AttributionShare
from services.allocations.handlers import HANDLERS
from services.runtime.consumer import EventConsumer, IncomingMessage
from services.runtime.db import create_pool

pytestmark = pytest.mark.integration

E = TypeVar("E", bound=Event)
PLACE = "GM"
YEAR = "2026-27"


class Allocations:
    """The service's consumer on a real database; emitted events are read from its outbox."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.consumer = EventConsumer(
            name="allocations", pool=pool, handlers=HANDLERS, attempts_max=1, retry_backoff_s=0
        )

    async def send(self, *events: Event) -> None:
        for offset, event in enumerate(events):
            envelope = wrap(event, producer="test")
            await self.consumer.handle(
                IncomingMessage(
                    value=encode(envelope),
                    key=event.partition_key().encode(),
                    headers={},
                    topic=event.published_on(),
                    partition=0,
                    offset=offset,
                )
            )
        # A handler that crashed would have been dead-lettered: none may.
        assert self.consumer.stats.dead_lettered == 0

    async def events(self, kind: type[E]) -> list[E]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT value FROM outbox WHERE event_type = $1 ORDER BY id", kind.__name__
            )
        return [unwrap(decode(bytes(row["value"]))) for row in rows]  # type: ignore[misc]

    async def event_ids(self, kind: type[Event]) -> list[str]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(
                "SELECT event_id FROM outbox WHERE event_type = $1 ORDER BY id", kind.__name__
            )
        return [str(row["event_id"]) for row in rows]

    async def refusal(self, rule: str) -> str:
        reasons = [r.reason for r in await self.events(CommandRefused) if r.rule == rule]
        assert len(reasons) == 1, f"expected one {rule} refusal, found {reasons}"
        return reasons[0]


@pytest.fixture
async def allocations(database_url: str) -> AsyncIterator[Allocations]:
    pool = await create_pool(database_url, "allocations", 2)
    try:
        yield Allocations(pool)
    finally:
        await pool.close()


def board(version: int = 1, **changes: Any) -> ConfigureBoard:
    fields: dict[str, Any] = {
        "place_id": PLACE,
        "board_version": version,
        "chair_id": "mayor",
        "chair_role": "mayor",
        "accounting_officer_id": "ao",
        "members": (
            BoardMember(member_id="mayor", name="The Mayor", seat="combined_authority"),
            BoardMember(member_id="icb", name="ICB chair", seat="nhs_icb"),
            BoardMember(member_id="vcse", name="VCSE lead", seat="voluntary_sector"),
        ),
    }
    return ConfigureBoard(**(fields | changes))


def rules(**changes: Any) -> SetDecisionRules:
    fields: dict[str, Any] = {"place_id": PLACE, "rules_version": 1, "quorum_members": 2}
    return SetDecisionRules(**(fields | changes))


def proposal(
    allocation_id: str = "A-1", value_pence: int = 50_000_00, **changes: Any
) -> ProposeAllocation:
    fields: dict[str, Any] = {
        "place_id": PLACE,
        "allocation_id": allocation_id,
        "allocation_type": "partnership_agreement",
        "recipient_id": "P-1",
        "purpose": "Family hubs",
        "mission_id": "M-START-WELL",
        "start_date": date(2026, 5, 1),
        "end_date": date(2027, 3, 31),
        "value_pence": value_pence,
        "financial_year": YEAR,
        "proposed_by": "officer-1",
    }
    return ProposeAllocation(**(fields | changes))


def votes_for(allocation_id: str = "A-1", variation_id: str | None = None) -> list[Event]:
    cast: list[Event] = [
        CastVote(
            place_id=PLACE,
            allocation_id=allocation_id,
            variation_id=variation_id,
            member_id=member,
            vote="for",
        )
        for member in ("mayor", "icb")
    ]
    close = CloseVote(
        place_id=PLACE, allocation_id=allocation_id, variation_id=variation_id, closed_by="mayor"
    )
    return [*cast, close]


def reserved(allocation_id: str, amount_pence: int) -> ReservationMade:
    return ReservationMade(
        place_id=PLACE,
        allocation_id=allocation_id,
        financial_year=YEAR,
        amount_pence=amount_pence,
        attribution=(
            AttributionShare(
                department_code="DWP", funding_stream_code="WORK", amount_pence=amount_pence
            ),
        ),
        transfer_id=f"T-{allocation_id}-{amount_pence}",
    )


def settled(amount_pence: int, department: str = "DWP", stream: str = "WORK") -> SettlementRecorded:
    return SettlementRecorded(
        place_id=PLACE,
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount_pence),),
        transfer_id=f"T-S-{department}",
    )


async def funded(allocations: Allocations, value_pence: int = 50_000_00, **changes: Any) -> None:
    await allocations.send(board(), rules(), proposal(value_pence=value_pence, **changes))
    await allocations.send(*votes_for(), reserved("A-1", value_pence))
    assert len(await allocations.events(AllocationFunded)) == 1


async def test_an_over_threshold_allocation_waits_for_sign_off_then_is_funded(allocations) -> None:
    await allocations.send(board(), rules(), proposal(value_pence=150_000_00), *votes_for())

    decision = (await allocations.events(BoardDecisionRecorded))[0]
    assert (decision.outcome, decision.votes_for, decision.rules_version) == (
        "approved",
        ("icb", "mayor"),
        1,
    )
    assert (await allocations.events(AllocationApproved))[0].sign_off_required is True
    assert await allocations.events(ReservationRequested) == []

    await allocations.send(
        SignOffAllocation(
            place_id=PLACE, allocation_id="A-1", accounting_officer_id="ao", decision="signed_off"
        ),
        reserved("A-1", 150_000_00),
    )
    assert len(await allocations.events(AllocationSignedOff)) == 1
    assert [r.amount_pence for r in await allocations.events(ReservationRequested)] == [150_000_00]
    assert len(await allocations.events(AllocationFunded)) == 1


async def test_a_recused_member_is_refused_and_named_in_the_decision(allocations) -> None:
    await allocations.send(
        board(),
        rules(),
        DeclareInterest(
            place_id=PLACE,
            interest_id="I-1",
            member_id="icb",
            recipient_id="P-1",
            description="P-1 is an ICB provider",
        ),
        proposal(),
        CastVote(place_id=PLACE, allocation_id="A-1", member_id="icb", vote="for"),
        CastVote(place_id=PLACE, allocation_id="A-1", member_id="mayor", vote="for"),
        CastVote(place_id=PLACE, allocation_id="A-1", member_id="vcse", vote="against"),
        CloseVote(place_id=PLACE, allocation_id="A-1", closed_by="mayor"),
    )

    assert "icb declared an interest (P-1 is an ICB provider)" in await allocations.refusal(
        "recusal"
    )
    decision = (await allocations.events(BoardDecisionRecorded))[0]
    assert (decision.outcome, decision.recused) == ("rejected", ("icb",))
    assert decision.reason.startswith("majority not reached on allocation A-1: 1 for, 1 against")


async def test_the_same_commands_again_under_new_event_ids_change_nothing(allocations) -> None:
    await allocations.send(board(), board(), rules(), rules(), proposal(), proposal())

    assert len(await allocations.events(BoardConfigured)) == 1
    assert len(await allocations.events(AllocationProposed)) == 1
    assert await allocations.events(CommandRefused) == []


async def test_a_board_version_that_skips_one_is_refused(allocations) -> None:
    await allocations.send(board(), board(version=3))

    assert await allocations.refusal("board_version") == (
        "board version 3 must be the next one: the current version is 1, so the next is 2"
    )


async def test_once_a_plan_is_adopted_every_allocation_names_one_of_its_missions(
    allocations,
) -> None:
    plan = AdoptLocalReformPlan(
        place_id=PLACE,
        plan_id="LRP-2026",
        spending_review_period="SR2025",
        title="Greater Manchester Local Reform Plan",
        missions=(
            Mission(
                mission_id="M-START-WELL",
                title="Every child starts well",
                metro_mission_id="GM-HEALTHY-LIVES",
                national_mission_metrics=("school-readiness",),
            ),
        ),
    )
    await allocations.send(plan, proposal(), proposal("A-2", mission_id="M-ELSEWHERE"))

    assert [p.allocation_id for p in await allocations.events(AllocationProposed)] == ["A-1"]
    assert await allocations.refusal("mission") == (
        "mission M-ELSEWHERE is not in any adopted Local Reform Plan of GM; its missions are "
        "M-START-WELL"
    )


async def test_an_earmark_breach_is_refused_at_proposal_with_the_numbers(allocations) -> None:
    await allocations.send(
        settled(1_000_000_00),
        SetEarmark(
            place_id=PLACE,
            earmark_id="EARLY",
            kind="minimum_share",
            purpose_tag="early-intervention",
            minimum_share_basis_points=2000,
            reason="GP: a minimum share for early intervention",
        ),
        board(),
        rules(),
        proposal("A-1", 600_000_00),
        *votes_for("A-1"),
        proposal("A-2", 275_000_00),
    )

    assert await allocations.refusal("earmark_minimum_share") == (
        "earmark 'EARLY' keeps at least 20% of the 2026-27 pot (£200,000.00 of £1,000,000.00) for "
        "'early-intervention'; after this allocation of £275,000.00 only £125,000.00 (12.5%) "
        "would be left for it"
    )


async def test_a_variation_up_asks_for_more_and_a_variation_down_releases_the_difference(
    allocations,
) -> None:
    await funded(allocations)
    up = ProposeVariation(
        place_id=PLACE,
        allocation_id="A-1",
        variation_id="V-1",
        change="value_up",
        reason="more families referred",
        proposed_by="officer-1",
        proposed_on=date(2026, 9, 1),
        new_value_pence=80_000_00,
    )
    await allocations.send(up, *votes_for(variation_id="V-1"), reserved("A-1", 30_000_00))
    down = up.model_copy(
        update={"variation_id": "V-2", "change": "value_down", "new_value_pence": 60_000_00}
    )
    await allocations.send(down, *votes_for(variation_id="V-2"))

    assert len(await allocations.events(VariationProposed)) == 2
    assert [v.new_value_pence for v in await allocations.events(AllocationVaried)] == [
        80_000_00,
        60_000_00,
    ]
    assert [r.amount_pence for r in await allocations.events(ReservationRequested)] == [
        50_000_00,
        30_000_00,
    ]
    release = (await allocations.events(ReservationReleaseRequested))[0]
    assert (release.amount_pence, release.reason) == (20_000_00, "varied_down")


async def test_a_variation_after_the_end_date_is_refused(allocations) -> None:
    await funded(allocations)
    await allocations.send(
        ProposeVariation(
            place_id=PLACE,
            allocation_id="A-1",
            variation_id="V-LATE",
            change="extension",
            reason="slow start",
            proposed_by="officer-1",
            proposed_on=date(2027, 4, 1),
            new_end_date=date(2027, 9, 30),
        )
    )

    assert await allocations.refusal("variation_before_end") == (
        "allocation A-1 ended on 2027-03-31 (funded); a variation proposed on 2027-04-01 is "
        "refused: nothing rolls over, propose a new allocation"
    )
    assert await allocations.events(VariationProposed) == []


async def test_cancellation_releases_the_unspent_rest_and_a_later_recovery_too(
    allocations,
) -> None:
    await funded(allocations)
    payment = PaymentMade(
        place_id=PLACE,
        payment_id="C-1/B-1",
        allocation_id="A-1",
        provider_id="P-1",
        amount_pence=12_000_00,
        payment_kind="outcome_payment",
        contract_id="C-1",
        claim_batch_id="B-1",
        attribution=(
            AttributionShare(
                department_code="DWP", funding_stream_code="WORK", amount_pence=12_000_00
            ),
        ),
        transfer_id="T-P-1",
    )
    cancel = CancelAllocation(
        place_id=PLACE, allocation_id="A-1", cancelled_by="mayor", reason="provider closed"
    )
    recovery = RecoveryRecorded(
        place_id=PLACE,
        recovery_id="R-1",
        payment_id="C-1/B-1",
        amount_pence=2_000_00,
        transfer_id="T-R-1",
    )
    await allocations.send(payment, payment, cancel, recovery)

    cancelled = (await allocations.events(AllocationCancelled))[0]
    assert cancelled.released_pence == 38_000_00
    releases = await allocations.events(ReservationReleaseRequested)
    assert [(r.amount_pence, r.reason) for r in releases] == [
        (38_000_00, "cancelled"),
        (2_000_00, "cancelled"),
    ]


async def test_an_unanswered_claim_is_flagged_overdue_once_and_a_late_answer_says_so(
    allocations,
) -> None:
    await allocations.send(
        rules(claim_response_days=28),
        LodgeClaim(
            place_id=PLACE,
            claim_id="RTS-1",
            claim_kind="right_to_serve",
            claimant_id="COMMUNITY-TRUST",
            claimant_kind="community_group",
            service_description="Run the youth service in Wythenshawe",
            lodged_on=date(2026, 6, 1),
        ),
        ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 29)),
        ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 30)),
        ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 30)),
        ProcessDueWork(place_id=PLACE, as_of=date(2026, 7, 5)),
        RespondToClaim(
            place_id=PLACE,
            claim_id="RTS-1",
            outcome="accepted_in_part",
            reasons="The trust will run two of the three youth centres from September.",
            responded_by="mayor",
            responded_on=date(2026, 7, 6),
        ),
    )

    lodged = (await allocations.events(ClaimLodged))[0]
    assert lodged.response_due_on == date(2026, 6, 29)
    overdue = await allocations.events(ClaimOverdue)
    assert [flag.as_of for flag in overdue] == [date(2026, 6, 30)]
    response = (await allocations.events(ClaimResponded))[0]
    assert (response.late, response.outcome) == (True, "accepted_in_part")


async def test_a_place_without_a_board_decides_by_resolution_but_the_officer_still_signs_off(
    allocations,
) -> None:
    large = proposal(value_pence=1_500_000_00, allocation_type="outcomes_contract")
    approve = DecideAllocation(
        place_id=PLACE, allocation_id="A-1", decision="approved", decided_by="reform-board"
    )
    await allocations.send(large, approve, approve)

    decision = (await allocations.events(BoardDecisionRecorded))[0]
    assert (decision.rules_version, decision.votes_for) == (0, ())
    assert await allocations.events(ReservationRequested) == []

    await allocations.send(
        SignOffAllocation(
            place_id=PLACE,
            allocation_id="A-1",
            accounting_officer_id="ca-chief-executive",
            decision="refused",
            reasons="no evidence the outcomes are priced below their fiscal value",
        )
    )
    refused = (await allocations.events(AllocationSignOffRefused))[0]
    assert refused.reasons == "no evidence the outcomes are priced below their fiscal value"
    assert await allocations.events(ReservationRequested) == []


async def test_a_decision_without_votes_is_refused_once_the_place_has_a_board(allocations) -> None:
    await allocations.send(
        board(),
        proposal(),
        DecideAllocation(
            place_id=PLACE, allocation_id="A-1", decision="approved", decided_by="mayor"
        ),
    )

    assert await allocations.refusal("votes_required") == (
        "GM has a board of 3 voting members: decisions are taken by CastVote and CloseVote"
    )
    assert await allocations.events(BoardDecisionRecorded) == []


async def test_a_release_the_ledger_refuses_is_published_and_asked_again_for_the_right_rest(
    allocations,
) -> None:
    await funded(allocations)
    await allocations.send(
        CancelAllocation(
            place_id=PLACE, allocation_id="A-1", cancelled_by="mayor", reason="provider closed"
        ),
        PaymentMade(
            place_id=PLACE,
            payment_id="C-1/B-1",
            allocation_id="A-1",
            provider_id="P-1",
            amount_pence=8_000_00,
            payment_kind="outcome_payment",
            contract_id="C-1",
            claim_batch_id="B-1",
            attribution=(
                AttributionShare(
                    department_code="DWP", funding_stream_code="WORK", amount_pence=8_000_00
                ),
            ),
            transfer_id="T-P-1",
        ),
    )
    (release_id,) = await allocations.event_ids(ReservationReleaseRequested)
    await allocations.send(
        CommandRefused(
            place_id=PLACE,
            decided_by="ledger",
            command_type="ReservationReleaseRequested",
            subject_id=release_id,
            rule="release_within_reservation",
            reason="release of £50,000.00 for allocation A-1 exceeds its remaining reservation "
            "of £42,000.00",
        )
    )

    assert len(await allocations.events(ReleaseRefused)) == 1
    releases = await allocations.events(ReservationReleaseRequested)
    assert [r.amount_pence for r in releases] == [50_000_00, 42_000_00]
