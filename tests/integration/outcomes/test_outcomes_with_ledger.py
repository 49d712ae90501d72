"""Outcomes end to end with the real ledger, allocations service, broker and PostgreSQL:
evidence in → sampled → verified → paid → spend attributed to departments; the ledger's and the
contract's totals agree to the penny; a clawback flows through the ledger; duplicates across
providers, a cap reached mid-batch and a failed sample."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import pytest

from contracts import FinancialYearAmount, RecordSettlement, topics
from contracts.allocations import AllocationFunded, DecideAllocation, ProposeAllocation
from contracts.ledger import PaymentMade, PaymentRequested, RecoveryRecorded, SpendRecorded
from contracts.outcomes import (
    ClawBackClaim,
    ClawbackSettled,
    EvidenceHeld,
    EvidenceSampled,
    EvidenceSubmitted,
    OutcomesContractRegistered,
    RecordVerificationDecision,
    RemittanceAdvised,
    VerificationDecision,
)
from services.outcomes.app import build_definition
from services.outcomes.settings import OutcomesSettings
from singlepot.system import service_definition
from tests.integration.outcomes.outcomes_support import claim, evidence, person, register
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEDGER = service_definition("ledger")
ALLOCATIONS = service_definition("allocations")
OUTCOMES = build_definition(OutcomesSettings(verification_sample_share=0.5))
TOPICS = (
    topics.ALLOCATIONS_LIFECYCLE,
    topics.LEDGER_RESULTS,
    topics.LEDGER_SPEND,
    topics.LEDGER_REQUESTS,
    topics.OUTCOMES_LIFECYCLE,
)


def settlement(department: str, stream: str, amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=amount_pence),),
    )


def outcomes_allocation(allocation_id: str, provider_id: str) -> list[Any]:
    return [
        ProposeAllocation(
            place_id="GM",
            allocation_id=allocation_id,
            allocation_type="outcomes_contract",
            recipient_id=provider_id,
            purpose="Supported employment",
            mission_id="M-GOOD-JOBS",
            start_date=date(2026, 4, 1),
            end_date=date(2028, 3, 31),
            value_pence=30_000_00,
            financial_year="2026-27",
            proposed_by="officer",
        ),
        DecideAllocation(
            place_id="GM", allocation_id=allocation_id, decision="approved", decided_by="board"
        ),
    ]


def count(reader: TopicReader, event_type: type, expected: int) -> Any:
    async def probe() -> list[Any]:
        found: list[Any] = reader.events(event_type)
        return found if len(found) >= expected else []

    return probe


def passing(sampled: EvidenceSampled, *failures: tuple[str, str]) -> RecordVerificationDecision:
    failed = dict(failures)
    return RecordVerificationDecision(
        place_id="GM",
        contract_id=sampled.contract_id,
        batch_id=sampled.batch_id,
        verifier_id="verifier-1",
        decisions=tuple(
            VerificationDecision(
                participant_hash=c.participant_hash,
                metric_id=c.metric_id,
                passed=c.participant_hash not in failed,
                reason=failed.get(c.participant_hash),
            )
            for c in sampled.claims
        ),
    )


async def contract_totals(database_url: str, contract_id: str) -> asyncpg.Record:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "outcomes"})
    try:
        row: asyncpg.Record = await connection.fetchrow(
            "SELECT paid_pence, recovered_pence FROM contracts WHERE contract_id = $1", contract_id
        )
        return row
    finally:
        await connection.close()


async def start_place(settings: Any, reader: TopicReader, *providers: tuple[str, str]) -> None:
    """Two departments settle; each (allocation, provider) is approved, funded and contracted."""
    await publish(settings, settlement("DWP", "WORK", 200_000_00))
    await publish(settings, settlement("DHSC", "HEALTH", 100_000_00))
    for allocation_id, provider_id in providers:
        await publish(settings, *outcomes_allocation(allocation_id, provider_id))
    await eventually(count(reader, AllocationFunded, len(providers)))
    for number, (allocation_id, provider_id) in enumerate(providers, start=1):
        await publish(
            settings,
            register(
                f"C-{number}",
                provider_id=provider_id,
                allocation_id=allocation_id,
                cap_pence=5_000_00,
            ),
        )
    await eventually(count(reader, OutcomesContractRegistered, len(providers)))


async def test_evidence_is_verified_paid_attributed_and_clawed_back_through_the_ledger(
    settings,
) -> None:
    async with (
        TopicReader(settings, *TOPICS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
        running(OUTCOMES, settings),
    ):
        await start_place(settings, reader, ("A-1", "P-1"))
        await publish(
            settings, evidence("B-1", claim(1), claim(2), claim(3, "SUSTAINED"), claim(4))
        )
        sampled = (await eventually(count(reader, EvidenceSampled, 1)))[0]
        await publish(settings, passing(sampled))
        spend = (await eventually(count(reader, SpendRecorded, 1)))[0]
        advice = (await eventually(count(reader, RemittanceAdvised, 1)))[0]
        paid = await contract_totals(settings.database_url, "C-1")
        await publish(
            settings,
            ClawBackClaim(
                place_id="GM",
                contract_id="C-1",
                clawback_id="CB-1",
                participant_hash=person(2),
                metric_id="JOB",
                reason="the job ended in its first week",
                raised_by="verifier-1",
            ),
        )
        settled = (await eventually(count(reader, ClawbackSettled, 1)))[0]
        recovered = reader.events(RecoveryRecorded)
        after = await contract_totals(settings.database_url, "C-1")

    (request,) = reader.events(PaymentRequested)
    (made,) = reader.events(PaymentMade)
    # £1,000 x 3 JOB + £3,000 SUSTAINED = £6,000, capped at £5,000: the last JOB pays nothing.
    assert request.amount_pence == made.amount_pence == spend.amount_pence == 5_000_00
    by_department = {share.department_code: share.amount_pence for share in spend.attribution}
    assert by_department == {"DWP": 3_333_33, "DHSC": 1_666_67}
    assert sum(by_department.values()) == spend.amount_pence
    assert advice.amount_pence == paid["paid_pence"] == made.amount_pence
    assert settled.recovered, settled.reason
    assert [r.amount_pence for r in recovered] == [settled.amount_pence] == [1_000_00]
    assert after["paid_pence"] - after["recovered_pence"] == 4_000_00


async def test_duplicates_across_providers_are_paid_once_and_a_failed_sample_pays_nothing(
    settings,
) -> None:
    async with (
        TopicReader(settings, *TOPICS) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
        running(OUTCOMES, settings),
    ):
        await start_place(settings, reader, ("A-1", "P-1"), ("A-2", "P-2"))
        await publish(settings, evidence("B-1", claim(1), claim(2)))
        first = (await eventually(count(reader, EvidenceSampled, 1)))[0]
        await publish(
            settings,
            evidence("B-1", claim(1), claim(3), claim(4), contract_id="C-2", provider_id="P-2"),
        )
        second = (await eventually(count(reader, EvidenceSampled, 2)))[1]
        await publish(settings, passing(first))
        await publish(settings, passing(second, (second.claims[0].participant_hash, "no proof")))
        await eventually(count(reader, RemittanceAdvised, 1))
        held = (await eventually(count(reader, EvidenceHeld, 1)))[0]
        submitted = {e.contract_id: e for e in reader.events(EvidenceSubmitted)}
        c1 = await contract_totals(settings.database_url, "C-1")
        c2 = await contract_totals(settings.database_url, "C-2")

    assert submitted["C-2"].rejections[0].reason.endswith("(contract C-1, batch B-1)")
    assert submitted["C-2"].accepted_count == 2
    assert (held.contract_id, held.reasons) == ("C-2", ("no proof",))
    requests = reader.events(PaymentRequested)
    assert [(r.contract_id, r.amount_pence) for r in requests] == [("C-1", 2_000_00)]
    ledger_paid = sum(m.amount_pence for m in reader.events(PaymentMade))
    assert ledger_paid == c1["paid_pence"] + c2["paid_pence"] == 2_000_00
