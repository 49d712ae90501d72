"""The views the web pages read (services/gateway/projections/views.py), on real PostgreSQL: a
place's story fed through the gateway's real handlers (the batch path the service runs), each
view's figures checked, and a rebuild replayed through the one-by-one path giving identical
views."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from contracts.allocations import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
    AllocationRejected,
    AllocationSignedOff,
    BoardConfigured,
    BoardDecisionRecorded,
    BoardMember,
    ClaimLodged,
    ClaimOverdue,
    ClaimResponded,
    DecisionRulesSet,
    EarmarkSet,
    InterestDeclared,
    LocalReformPlanAdopted,
    Mission,
    VoteRecorded,
)
from contracts.base import Event
from contracts.decisions import CommandRefused
from contracts.envelope import Envelope, encode, unwrap, wrap
from contracts.ledger import (
    PaymentMade,
    PeriodClosed,
    ReceiptRecorded,
    RecoveryRecorded,
    ReservationMade,
    SettlementRecorded,
    SpendRecorded,
)
from contracts.outcomes import (
    ClaimPeriod,
    ClawbackRaised,
    ClawbackSettled,
    EngagementsRecorded,
    EvidenceSampled,
    EvidenceSubmitted,
    EvidenceVerified,
    FunnelMeasured,
    MetricDefinition,
    MetricPrice,
    OutcomesContractRegistered,
    Payer,
    ReferralsRecorded,
    RemittanceAdvised,
    RemittanceLine,
    SampledClaim,
    SegmentFunnelCounts,
)
from contracts.values import AttributionShare, FinancialYearAmount
from services.gateway.app import HANDLERS
from services.gateway.projections import db, handlers, views
from services.runtime.consumer import EventConsumer, IncomingMessage

pytestmark = [pytest.mark.integration]

GM = "GM"
HASH_A = "a" * 64
HASH_B = "b" * 64


def at(month: int, day: int = 15, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


def shares(*pairs: tuple[str, int]) -> tuple[AttributionShare, ...]:
    return tuple(
        AttributionShare(department_code=d, funding_stream_code=f"{d}-S", amount_pence=a)
        for d, a in pairs
    )


def settled(department: str, year: str, amount_pence: int) -> SettlementRecorded:
    return SettlementRecorded(
        place_id=GM,
        settlement_id=f"S-{department}-{year}",
        department_code=department,
        funding_stream_code=f"{department}-S",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=year, amount_pence=amount_pence),),
        transfer_id=f"T-S-{department}-{year}",
    )


def proposed(allocation_id: str, value_pence: int, **extra: Any) -> AllocationProposed:
    return AllocationProposed(
        place_id=GM,
        allocation_id=allocation_id,
        allocation_type=extra.pop("allocation_type", "grant"),
        recipient_id=extra.pop("recipient_id", "TRUST"),
        purpose=extra.pop("purpose", "Family hubs"),
        mission_id="M-WORK",
        start_date=date.fromisoformat("2026-06-01"),
        end_date=date.fromisoformat("2027-03-31"),
        value_pence=value_pence,
        financial_year="2026-27",
        proposed_by="M-1",
        **extra,
    )


def spent(spend_id: str, payment_id: str, *pairs: tuple[str, int]) -> SpendRecorded:
    attribution = shares(*pairs)
    return SpendRecorded(
        place_id=GM,
        spend_id=spend_id,
        payment_id=payment_id,
        allocation_id="A-1",
        provider_id="PROV-A",
        contract_id="C-1",
        amount_pence=sum(share.amount_pence for share in attribution),
        payment_kind="outcome_payment",
        purpose="job outcomes",
        financial_year="2026-27",
        attribution=attribution,
        transfer_id=f"T-{spend_id}",
    )


CONTRACT = OutcomesContractRegistered(
    place_id=GM,
    contract_id="C-1",
    allocation_id="A-1",
    provider_id="PROV-A",
    prices=(
        MetricPrice(metric_id="JOB-START", price_pence=10_000, cap_pence=500_000, payer_id="DWP"),
        MetricPrice(metric_id="SUSTAINED", price_pence=30_000),
    ),
    cap_pence=2_000_000,
    payers=(Payer(payer_id="DWP", cap_pence=1_500_000),),
    metrics=(
        MetricDefinition(metric_id="JOB-START", definition="Started work", target_count=40),
        MetricDefinition(metric_id="SUSTAINED", definition="In work 26 weeks"),
    ),
    claim_periods=(
        ClaimPeriod(
            claim_period_id="Q1",
            starts_on=date.fromisoformat("2026-04-01"),
            ends_on=date.fromisoformat("2026-06-30"),
            planned_payment_pence=100_000,
        ),
    ),
    difficulty_segments=("easy", "hard"),
)

# A place's story, in the order the topics deliver it, each event with the time it happened.
STORY: list[tuple[Event, datetime]] = [
    (settled("DWP", "2025-26", 1_000), at(4, 1)),
    (settled("DWP", "2026-27", 1_000_000), at(4, 1)),
    (settled("DHSC", "2026-27", 500_000), at(4, 1)),
    (
        ReceiptRecorded(
            place_id=GM,
            receipt_id="R-1",
            settlement_id="S-DWP-2026-27",
            department_code="DWP",
            funding_stream_code="DWP-S",
            financial_year="2026-27",
            amount_pence=400_000,
            transfer_id="T-R-1",
        ),
        at(4, 2),
    ),
    (PeriodClosed(place_id=GM, financial_year="2025-26"), at(4, 3)),
    (
        BoardConfigured(
            place_id=GM,
            board_version=1,
            chair_id="M-1",
            chair_role="mayor",
            accounting_officer_id="AO-1",
            members=(
                BoardMember(member_id="M-1", name="Chair", seat="combined_authority"),
                BoardMember(member_id="M-2", name="Member", seat="nhs_icb"),
                BoardMember(member_id="M-3", name="Member", seat="voluntary_sector"),
            ),
        ),
        at(4, 4),
    ),
    (DecisionRulesSet(place_id=GM, rules_version=1, quorum_members=2), at(4, 4)),
    (
        LocalReformPlanAdopted(
            place_id=GM,
            plan_id="PLAN-1",
            spending_review_period="SR2025",
            title="Good lives",
            missions=(Mission(mission_id="M-WORK", title="Good work"),),
        ),
        at(4, 5),
    ),
    (
        EarmarkSet(
            place_id=GM,
            earmark_id="E-1",
            kind="minimum_share",
            purpose_tag="early-intervention",
            minimum_share_basis_points=2_000,
            reason="early intervention first",
        ),
        at(4, 5),
    ),
    (
        InterestDeclared(
            place_id=GM,
            interest_id="I-1",
            member_id="M-3",
            recipient_id="TRUST",
            description="Trustee of the recipient",
        ),
        at(4, 6),
    ),
    (proposed("A-1", 300_000, purpose_tags=("early-intervention",)), at(4, 10)),
    (
        VoteRecorded(
            place_id=GM, allocation_id="A-1", member_id="M-1", vote="for", rules_version=1
        ),
        at(4, 11),
    ),
    (
        VoteRecorded(
            place_id=GM, allocation_id="A-1", member_id="M-2", vote="against", rules_version=1
        ),
        at(4, 11),
    ),
    # M-2 changes their vote before the vote closes: the latest vote counts.
    (
        VoteRecorded(
            place_id=GM, allocation_id="A-1", member_id="M-2", vote="for", rules_version=1
        ),
        at(4, 12),
    ),
    (
        BoardDecisionRecorded(
            place_id=GM,
            allocation_id="A-1",
            outcome="approved",
            rules_version=1,
            votes_for=("M-1", "M-2"),
            votes_against=(),
            abstentions=(),
            recused=("M-3",),
            reason="carried 2-0",
        ),
        at(4, 13),
    ),
    (
        AllocationApproved(
            place_id=GM,
            allocation_id="A-1",
            allocation_type="grant",
            recipient_id="TRUST",
            value_pence=300_000,
            financial_year="2026-27",
            decided_by="M-1",
            rules_version=1,
            sign_off_required=True,
        ),
        at(4, 13),
    ),
    (
        AllocationSignedOff(
            place_id=GM, allocation_id="A-1", accounting_officer_id="AO-1", value_pence=300_000
        ),
        at(4, 14),
    ),
    (
        ReservationMade(
            place_id=GM,
            allocation_id="A-1",
            financial_year="2026-27",
            amount_pence=300_000,
            attribution=shares(("DWP", 200_000), ("DHSC", 100_000)),
            transfer_id="T-RES-1",
        ),
        at(4, 15),
    ),
    (AllocationFunded(place_id=GM, allocation_id="A-1", amount_pence=300_000), at(4, 15)),
    # A proposal refused outright: it breaks the earmark, so it never becomes an allocation.
    (
        CommandRefused(
            place_id=GM,
            decided_by="allocations",
            command_type="ProposeAllocation",
            subject_id="A-2",
            rule="earmark_minimum_share",
            reason="earmark 'E-1' keeps at least 20% for 'early-intervention'",
        ),
        at(4, 20),
    ),
    (proposed("A-3", 50_000, recipient_id="OTHER", purpose="Road signs"), at(5, 1)),
    (
        BoardDecisionRecorded(
            place_id=GM,
            allocation_id="A-3",
            outcome="rejected",
            rules_version=1,
            votes_for=("M-1",),
            votes_against=("M-2", "M-3"),
            abstentions=(),
            recused=(),
            reason="lost 1-2",
        ),
        at(5, 2),
    ),
    (
        AllocationRejected(place_id=GM, allocation_id="A-3", reason="lost 1-2", rule="majority"),
        at(5, 2),
    ),
    (CONTRACT, at(5, 3)),
    (
        EvidenceSubmitted(
            place_id=GM,
            contract_id="C-1",
            batch_id="B-1",
            provider_id="PROV-A",
            claim_count=3,
            accepted_count=2,
            rejected_count=1,
        ),
        at(5, 10),
    ),
    (
        EvidenceSampled(
            place_id=GM,
            contract_id="C-1",
            batch_id="B-1",
            sample_seed="seed",
            sample_share=0.5,
            sample_size=1,
            accepted_count=2,
            claims=(
                SampledClaim(
                    participant_hash=HASH_A,
                    metric_id="JOB-START",
                    evidence_reference="payroll-1",
                    row_number=2,
                ),
            ),
        ),
        at(5, 10),
    ),
    (
        EvidenceSubmitted(
            place_id=GM,
            contract_id="C-1",
            batch_id="B-2",
            provider_id="PROV-A",
            claim_count=3,
            accepted_count=3,
            rejected_count=0,
        ),
        at(5, 11),
    ),
    (
        EvidenceVerified(
            place_id=GM, contract_id="C-1", batch_id="B-2", verified_count=3, amount_pence=50_000
        ),
        at(5, 12),
    ),
    (
        PaymentMade(
            place_id=GM,
            payment_id="P-2",
            allocation_id="A-1",
            provider_id="PROV-A",
            amount_pence=50_000,
            payment_kind="outcome_payment",
            contract_id="C-1",
            claim_batch_id="B-2",
            attribution=shares(("DWP", 30_000), ("DHSC", 20_000)),
            transfer_id="T-P-2",
        ),
        at(5, 13),
    ),
    (spent("SP-1", "P-2", ("DWP", 30_000), ("DHSC", 20_000)), at(5, 13)),
    (
        RemittanceAdvised(
            place_id=GM,
            contract_id="C-1",
            batch_id="B-2",
            payment_id="P-2",
            provider_id="PROV-A",
            amount_pence=50_000,
            lines=(
                RemittanceLine(
                    claim_period_id="Q1",
                    metric_id="JOB-START",
                    metric_version=1,
                    outcome_count=2,
                    amount_pence=20_000,
                ),
                RemittanceLine(
                    claim_period_id="Q1",
                    metric_id="SUSTAINED",
                    metric_version=1,
                    outcome_count=1,
                    amount_pence=30_000,
                ),
            ),
            transfer_id="T-P-2",
        ),
        at(5, 13),
    ),
    (spent("SP-2", "P-3", ("DWP", 6_000), ("DHSC", 4_000)), at(6, 2)),
    (
        ClawbackRaised(
            place_id=GM,
            contract_id="C-1",
            clawback_id="K-1",
            recovery_id="RC-1",
            payment_id="P-2",
            participant_hash=HASH_B,
            metric_id="JOB-START",
            amount_pence=10_000,
            reason="not in work",
            claim_period_id="Q1",
        ),
        at(6, 5),
    ),
    (
        RecoveryRecorded(
            place_id=GM,
            recovery_id="RC-1",
            payment_id="P-2",
            amount_pence=10_000,
            transfer_id="T-RC-1",
        ),
        at(6, 6),
    ),
    (
        ClawbackSettled(
            place_id=GM,
            contract_id="C-1",
            clawback_id="K-1",
            recovery_id="RC-1",
            recovered=True,
            amount_pence=10_000,
        ),
        at(6, 6),
    ),
    (
        ReferralsRecorded(
            place_id=GM,
            contract_id="C-1",
            provider_id="PROV-A",
            recorded_count=10,
            repeated_count=1,
        ),
        at(5, 1),
    ),
    (
        EngagementsRecorded(
            place_id=GM,
            contract_id="C-1",
            provider_id="PROV-A",
            recorded_count=6,
            not_referred_count=0,
        ),
        at(5, 2),
    ),
    (
        ClaimLodged(
            place_id=GM,
            claim_id="CL-OLD",
            claim_kind="right_to_serve",
            claimant_id="GROUP-1",
            claimant_kind="community_group",
            service_description="Youth club",
            lodged_on=date.fromisoformat("2020-01-01"),
            response_due_on=date.fromisoformat("2020-02-26"),
        ),
        at(4, 1),
    ),
    (
        ClaimOverdue(
            place_id=GM,
            claim_id="CL-OLD",
            claimant_id="GROUP-1",
            response_due_on=date.fromisoformat("2020-02-26"),
            as_of=date.fromisoformat("2020-02-27"),
        ),
        at(4, 2),
    ),
    (
        ClaimLodged(
            place_id=GM,
            claim_id="CL-NEW",
            claim_kind="right_to_request",
            claimant_id="COUNCIL-1",
            claimant_kind="council",
            service_description="Run the job centre",
            lodged_on=date.fromisoformat("2099-01-01"),
            response_due_on=date.fromisoformat("2099-02-26"),
        ),
        at(4, 3),
    ),
    (
        ClaimLodged(
            place_id=GM,
            claim_id="CL-DONE",
            claim_kind="right_to_serve",
            claimant_id="GROUP-2",
            claimant_kind="community_group",
            service_description="Library",
            lodged_on=date.fromisoformat("2026-01-01"),
            response_due_on=date.fromisoformat("2026-02-26"),
        ),
        at(4, 4),
    ),
    (
        ClaimResponded(
            place_id=GM,
            claim_id="CL-DONE",
            outcome="accepted_in_part",
            reasons="Weekdays only",
            responded_by="M-1",
            responded_on=date.fromisoformat("2026-03-01"),
            response_due_on=date.fromisoformat("2026-02-26"),
            late=True,
        ),
        at(4, 5),
    ),
]


def envelopes(story: Sequence[tuple[Event, datetime]]) -> list[Envelope]:
    return [wrap(event, producer="test", occurred_at=when) for event, when in story]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert created is not None
    try:
        yield created
    finally:
        await created.close()


async def feed_batch(pool: asyncpg.Pool, messages: Sequence[Envelope]) -> None:
    """The service's own path: one partition fetch in one transaction."""
    async with pool.acquire() as connection, connection.transaction():
        await handlers.handle_batch(
            connection, [(message, unwrap(message)) for message in messages]
        )


async def feed_one_by_one(pool: asyncpg.Pool, messages: Sequence[Envelope]) -> EventConsumer:
    """The runtime's fallback path: each message through HANDLERS in its own transaction."""
    consumer = EventConsumer(
        name="gateway", pool=pool, handlers=HANDLERS, attempts_max=1, retry_backoff_s=0
    )
    for offset, envelope in enumerate(messages):
        await consumer.handle(
            IncomingMessage(
                value=encode(envelope),
                key=GM.encode(),
                headers={},
                topic="test",
                partition=0,
                offset=offset,
            )
        )
    return consumer


async def every_view(pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return {
            "pot": await views.pot_overview(conn, GM, None),
            "pot_2025": await views.pot_overview(conn, GM, "2025-26"),
            "spend_over_time": await views.spend_over_time(conn, GM, None),
            "board": await views.board_proposals(conn, GM),
            "decisions": await views.public_decisions(conn, GM),
            "provider": await views.provider_overview(conn, GM, "PROV-A"),
            "queue": await views.verifier_queue(conn, GM),
            "dwp_spend": await views.department_spend(conn, GM, "DWP"),
            "targets": await views.outcomes_against_targets(conn, GM, "C-1"),
            "funnel": await views.funnel_by_segment(conn, GM, "C-1"),
            "claims": await views.claims(conn, GM),
        }


@pytest.fixture
def story() -> list[Envelope]:
    return envelopes(STORY)


@pytest.fixture
async def fed(pool: asyncpg.Pool, story: list[Envelope]) -> dict[str, Any]:
    await feed_batch(pool, story)
    return await every_view(pool)


async def test_the_pot_overview_shows_the_latest_year_by_stream_and_department(fed) -> None:
    pot = fed["pot"]
    assert pot["financial_year"] == "2026-27"
    assert pot["financial_years"] == ["2025-26", "2026-27"]
    assert pot["closed"] is False
    assert fed["pot_2025"]["closed"] is True
    dwp = next(row for row in pot["streams"] if row["department_code"] == "DWP")
    assert dwp == {
        "department_code": "DWP",
        "funding_stream_code": "DWP-S",
        "settled_pence": 1_000_000,
        "received_pence": 400_000,
        "reserved_pence": 200_000,
        "paid_pence": 36_000,
        # The recovery of P-2 went back to the pot, as the ledger books it (DWP's 60%).
        "available_pence": 800_000 + 6_000,
    }
    assert pot["totals"] == {
        "settled_pence": 1_500_000,
        "received_pence": 400_000,
        "reserved_pence": 300_000,
        "paid_pence": 60_000,
        "available_pence": 1_200_000 + 10_000,
        # The clawback RC-1 of P-2: paid, less recovered, is the ledger's spend.
        "recovered_pence": 10_000,
        "net_paid_pence": 50_000,
    }
    assert [row["department_code"] for row in pot["departments"]] == ["DHSC", "DWP"]
    assert fed["pot_2025"]["totals"]["settled_pence"] == 1_000


async def test_spend_over_time_counts_each_month_and_runs_a_cumulative_total(fed, pool) -> None:
    assert fed["spend_over_time"] == [
        {"month": "2026-05", "department_code": "DHSC", "spent_pence": 20_000,
         "cumulative_pence": 20_000},
        # June: P-3's shares, less the recovery RC-1 of P-2 (DHSC 4,000, DWP 6,000).
        {"month": "2026-06", "department_code": "DHSC", "spent_pence": 0,
         "cumulative_pence": 20_000},
        {"month": "2026-05", "department_code": "DWP", "spent_pence": 30_000,
         "cumulative_pence": 30_000},
        {"month": "2026-06", "department_code": "DWP", "spent_pence": 0,
         "cumulative_pence": 30_000},
    ]  # fmt: skip
    async with pool.acquire() as conn:
        only_dwp = await views.spend_over_time(conn, GM, "DWP")
    assert [row["department_code"] for row in only_dwp] == ["DWP", "DWP"]


async def test_board_proposals_show_votes_recusals_sign_off_and_earmark_checks(fed) -> None:
    board = {row["allocation_id"]: row for row in fed["board"]}
    assert set(board) == {"A-1", "A-2", "A-3"}
    funded = board["A-1"]
    assert set(funded) == set(board["A-2"]) == set(board["A-3"])
    assert {"sign_off_required", "mission_id", "rejection_rule"}.isdisjoint(funded)
    assert funded["status"] == "funded"
    assert funded["value_pence"] == 300_000
    assert funded["mission"] == {"mission_id": "M-WORK", "title": "Good work", "plan_id": "PLAN-1"}
    assert funded["votes"] == [
        {"member_id": "M-1", "vote": "for", "rules_version": 1, "reason": None},
        {"member_id": "M-2", "vote": "for", "rules_version": 1, "reason": None},
    ]
    assert funded["recused"] == ["M-3"]
    assert funded["decision"]["outcome"] == "approved"
    assert funded["decision"]["rules_version"] == 1
    assert funded["sign_off"]["needed"] is True
    assert funded["sign_off"]["state"] == "signed_off"
    assert funded["sign_off"]["accounting_officer_id"] == "AO-1"
    assert funded["earmark_check"] == {"state": "passed", "message": None}
    refused = board["A-2"]
    assert refused["status"] == "refused"
    assert refused["earmark_check"]["state"] == "failed"
    assert "keeps at least 20%" in refused["earmark_check"]["message"]
    assert refused["refusals"][0]["rule"] == "earmark_minimum_share"
    rejected = board["A-3"]
    assert rejected["status"] == "rejected"
    assert rejected["decision"]["votes_against"] == ["M-2", "M-3"]
    assert rejected["refusals"] == []
    assert rejected["sign_off"]["state"] is None


async def test_public_decisions_carry_the_tally_and_no_personal_data(fed) -> None:
    decisions = {row["allocation_id"]: row for row in fed["decisions"]}
    assert set(decisions) == {"A-1", "A-3"}
    assert decisions["A-1"]["tally"] == {"for": 2, "against": 0, "abstain": 0, "recused": 1}
    assert decisions["A-1"]["decided_on"] == "2026-04-13"
    assert decisions["A-1"]["recipient_id"] == "TRUST"
    assert decisions["A-3"]["decision"] == "rejected"
    assert decisions["A-3"]["tally"]["against"] == 2
    # Newest first.
    assert [row["allocation_id"] for row in fed["decisions"]] == ["A-3", "A-1"]
    assert "Chair" not in str(fed["decisions"])  # members' names are not in the public view


async def test_the_provider_overview_gives_batches_remittances_and_a_statement(fed) -> None:
    provider = fed["provider"]
    assert [row["contract_id"] for row in provider["contracts"]] == ["C-1"]
    batches = {row["batch_id"]: row for row in provider["batches"]}
    assert batches["B-1"]["status"] == "awaiting_verification"
    assert batches["B-2"]["status"] == "verified"
    [remittance] = provider["remittances"]
    assert remittance["amount_pence"] == 50_000
    assert len(remittance["lines"]) == 2
    assert provider["recoveries"][0]["status"] == "recovered"
    assert provider["statement"] == {
        "paid_pence": 50_000,
        "recovered_pence": 10_000,
        "net_pence": 40_000,
        "remitted_pence": 50_000,
        "awaiting_payment_pence": 0,
        # The remittance names no payers (its contract has none).
        "remitted_by_payer": {},
    }


async def test_the_verifier_queue_lists_sampled_claims_by_hash_only(fed) -> None:
    [batch] = fed["queue"]
    assert (batch["contract_id"], batch["batch_id"], batch["provider_id"]) == (
        "C-1",
        "B-1",
        "PROV-A",
    )
    assert batch["sample_size"] == 1
    assert batch["sample"] == [
        {
            "participant_hash": HASH_A,
            "metric_id": "JOB-START",
            "evidence_reference": "payroll-1",
            "row_number": 2,
        }
    ]


async def test_department_spend_carries_only_that_departments_shares(fed) -> None:
    rows = fed["dwp_spend"]
    # The story's clawback of SP-2 comes back as negative spend, split as the payment was.
    assert [row["spend_id"] for row in rows] == ["SP-1", "SP-2", "recovery/T-RC-1"]
    assert [row["department_amount_pence"] for row in rows] == [30_000, 6_000, -6_000]
    assert [row["amount_pence"] for row in rows] == [50_000, 10_000, -10_000]
    assert all(share["department_code"] == "DWP" for row in rows for share in row["attribution"])
    assert rows[0]["spent_at"].startswith("2026-05-13")
    assert rows[2]["kind"] == "recovery" and rows[2]["spent_at"].startswith("2026-06-06")


async def test_outcomes_against_targets_compare_paid_outcomes_with_targets_and_caps(fed) -> None:
    job, sustained = fed["targets"]
    assert job == {
        "metric_id": "JOB-START",
        "definition": "Started work",
        "price_pence": 10_000,
        "target_count": 40,
        "target_pence": 400_000,
        "cap_pence": 500_000,
        "payer_id": "DWP",
        "payer_cap_pence": 1_500_000,
        "achieved_count": 2,
        "paid_pence": 20_000,
        "recovered_pence": 10_000,
    }
    assert sustained["achieved_count"] == 1
    assert sustained["target_pence"] is None


async def test_before_any_measurement_the_funnel_has_only_the_contracts_totals(fed) -> None:
    unknown = {"referred": None, "engaged": None, "achieved": None, "paid": None}
    assert fed["funnel"] == [
        {"segment": "easy", **unknown},
        {"segment": "hard", **unknown},
        {"segment": "all", "referred": 10, "engaged": 6, "achieved": None, "paid": 3},
    ]


async def test_the_latest_measured_funnel_replaces_the_one_before_segment_by_segment(
    pool, story
) -> None:
    def measured(*counts: tuple[str, int, int, int, int]) -> FunnelMeasured:
        return FunnelMeasured(
            place_id=GM,
            contract_id="C-1",
            segments=tuple(
                SegmentFunnelCounts(
                    segment=segment,
                    referred=referred,
                    engaged=engaged,
                    achieved=achieved,
                    paid=paid,
                )
                for segment, referred, engaged, achieved, paid in counts
            ),
        )

    await feed_batch(pool, story)
    await feed_batch(
        pool,
        envelopes(
            [
                (measured(("easy", 4, 2, 1, 0), ("odd", 1, 1, 1, 1)), at(5, 1)),
                (measured(("easy", 6, 4, 2, 1), ("hard", 4, 2, 1, 1)), at(5, 2)),
            ]
        ),
    )
    async with pool.acquire() as conn:
        funnel = await views.funnel_by_segment(conn, GM, "C-1")

    assert funnel == [
        {"segment": "easy", "referred": 6, "engaged": 4, "achieved": 2, "paid": 1},
        {"segment": "hard", "referred": 4, "engaged": 2, "achieved": 1, "paid": 1},
        {"segment": "all", "referred": 10, "engaged": 6, "achieved": 3, "paid": 2},
    ], "the segment 'odd' of the earlier measurement is gone"


async def test_claims_show_deadlines_and_flag_the_overdue(fed) -> None:
    claims = {row["claim_id"]: row for row in fed["claims"]}
    assert (claims["CL-OLD"]["status"], claims["CL-OLD"]["overdue"]) == ("overdue", True)
    assert (claims["CL-NEW"]["status"], claims["CL-NEW"]["overdue"]) == ("awaiting", False)
    done = claims["CL-DONE"]
    assert (done["status"], done["overdue"], done["late"]) == ("responded", True, True)
    assert done["outcome"] == "accepted_in_part"
    assert done["response_due_on"] == "2026-02-26"


async def test_views_of_an_unknown_place_or_contract_are_empty(pool) -> None:
    async with pool.acquire() as conn:
        pot = await views.pot_overview(conn, "NOWHERE", None)
        assert pot["financial_year"] is None
        assert pot["totals"]["settled_pence"] == 0
        assert await views.outcomes_against_targets(conn, GM, "C-404") == []
        assert await views.funnel_by_segment(conn, GM, "C-404") == []
        assert await views.board_proposals(conn, "NOWHERE") == []


async def test_a_rebuild_replayed_one_by_one_gives_identical_views(fed, pool, story) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await db.clear_read_models(connection, "gateway")
    cleared = await every_view(pool)
    assert cleared["board"] == []
    assert cleared["pot"]["totals"]["settled_pence"] == 0

    consumer = await feed_one_by_one(pool, story)
    assert (consumer.stats.processed, consumer.stats.dead_lettered) == (len(story), 0)
    assert await every_view(pool) == fed


async def test_redelivered_events_change_no_view(fed, pool, story) -> None:
    await feed_batch(pool, story)
    consumer = await feed_one_by_one(pool, story)
    assert consumer.stats.duplicates == len(story)
    assert await every_view(pool) == fed


def test_each_story_event_has_a_gateway_handler() -> None:
    missing = {type(event).__name__ for event, _ in STORY if type(event) not in HANDLERS}
    assert missing == set()
