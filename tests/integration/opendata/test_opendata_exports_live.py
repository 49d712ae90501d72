"""Exports from real data: the audit export of a real ledger after real flows, verified by the
standalone script; the public open-data endpoints of the real gateway over read models built by
its own handlers, valid against the standards and free of personal data."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from contracts import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
    AttributionShare,
    EvidenceSubmitted,
    EvidenceVerified,
    FinancialYearAmount,
    OutcomesContractRegistered,
    PaymentMade,
    PaymentRequested,
    RecordSettlement,
    RecoveryRecorded,
    ReservationMade,
    ReservationRequested,
    topics,
)
from contracts.envelope import wrap
from contracts.outcomes import (
    ClaimPeriod,
    ClawbackRaised,
    ClawbackSettled,
    EvidenceSampled,
    MetricDefinition,
    MetricPrice,
    Payer,
    RemittanceAdvised,
    RemittanceLine,
    SampledClaim,
)
from services.gateway.handlers import HANDLERS
from services.gateway.opendata import validation
from services.ledger.app import DEFINITION as LEDGER
from services.runtime.consumer import HandlerContext
from services.runtime.outbox import Outbox
from singlepot.demo import participant_hash
from tests.integration.gateway.gateway_support import client_for
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
SINGLEPOT = str(Path(sys.executable).parent / "singlepot")
YEAR = "2026-27"


def settlement(settlement_id: str, department: str, stream: str, pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=settlement_id,
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=pence),),
    )


async def payment_made(reader: TopicReader) -> list[PaymentMade]:
    return reader.events(PaymentMade)


async def command(*arguments: str, database_url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *arguments,
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_the_audit_export_of_a_real_ledger_is_verified_by_the_standalone_script(
    settings, database_url, tmp_path: Path
) -> None:
    async with TopicReader(settings, topics.LEDGER_RESULTS) as reader, running(LEDGER, settings):
        await publish(
            settings,
            settlement("S-1", "DWP", "WORK", 100_000_00),
            settlement("S-2", "DHSC", "HEALTH", 80_000_00),
            ReservationRequested(
                place_id="GM",
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=10_000_00,
                purpose="family hubs",
            ),
            PaymentRequested(
                place_id="GM",
                payment_id="PAY-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=5_000_00,
                payment_kind="grant_instalment",
                purpose="first instalment",
            ),
        )
        await eventually(lambda: payment_made(reader))

    out = tmp_path / "GM-audit.jsonl"
    status, output = await command(
        SINGLEPOT, "export", "audit", "--place", "GM", "--out", str(out), database_url=database_url
    )
    assert status == 0, output
    header = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert header["transfer_count"] >= 4

    status, output = await command(
        sys.executable, "-I", str(ROOT / "tools" / "verify_audit.py"), str(out), database_url=""
    )
    assert status == 0, output
    assert output.strip() == (
        f"verified {header['transfer_count']} transfers, head {header['head_hash']}"
    )

    # One changed amount in the file, and the auditor's script names the line.
    lines = out.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"amount_pence":500000', '"amount_pence":500001', 1)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, output = await command(
        sys.executable, "-I", str(ROOT / "tools" / "verify_audit.py"), str(out), database_url=""
    )
    assert status == 1
    assert f"line {len(lines)}:" in output


PARTICIPANTS = [participant_hash(f"participant-{number}") for number in (1, 2, 3)]
PRINCIPALS = ["finance-officer-jane", "chair-amira", "verifier-olu"]


# Free text about a person: a clawback's reason must never reach an export.
CLAWBACK_REASON = "Employer says Jo Bloggs of 12 Acacia Avenue never started"


def shares(amount_pence: int) -> tuple[AttributionShare, ...]:
    third = amount_pence // 3
    return (
        AttributionShare(department_code="DHSC", funding_stream_code="HEALTH", amount_pence=third),
        AttributionShare(
            department_code="DWP", funding_stream_code="WORK", amount_pence=amount_pence - third
        ),
    )


EVENTS = [
    AllocationProposed(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="outcomes_contract",
        recipient_id="PROV-WORKWELL",
        purpose="Supported employment for people out of work with a health condition",
        mission_id="M-GOOD-JOBS",
        start_date=date(2026, 5, 1),
        end_date=date(2028, 3, 31),
        value_pence=1_500_000_00,
        financial_year="2026-27",
        proposed_by=PRINCIPALS[0],
    ),
    AllocationApproved(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="outcomes_contract",
        recipient_id="PROV-WORKWELL",
        value_pence=1_500_000_00,
        financial_year="2026-27",
        decided_by=PRINCIPALS[1],
    ),
    ReservationMade(
        place_id="GM",
        allocation_id="A-1",
        financial_year="2026-27",
        amount_pence=1_500_000_00,
        attribution=shares(1_500_000_00),
        transfer_id="T-R-1",
    ),
    AllocationFunded(place_id="GM", allocation_id="A-1", amount_pence=1_500_000_00),
    OutcomesContractRegistered(
        place_id="GM",
        contract_id="C-1",
        allocation_id="A-1",
        provider_id="PROV-WORKWELL",
        prices=(
            MetricPrice(metric_id="JOB-START", price_pence=1_200_00),
            MetricPrice(metric_id="SUSTAINED-26-WEEKS", price_pence=3_500_00),
        ),
        cap_pence=1_500_000_00,
        payers=(Payer(payer_id="DWP", cap_pence=1_200_000_00),),
        metrics=(
            MetricDefinition(
                metric_id="JOB-START", definition="Started paid work", target_count=400
            ),
        ),
        start_date=date(2026, 6, 1),
        end_date=date(2028, 3, 31),
        claim_periods=(
            ClaimPeriod(
                claim_period_id="Q2", starts_on=date(2026, 7, 1), ends_on=date(2026, 9, 30)
            ),
            ClaimPeriod(
                claim_period_id="Q3", starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31)
            ),
        ),
    ),
    EvidenceSubmitted(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        provider_id="PROV-WORKWELL",
        claim_count=3,
        accepted_count=3,
        rejected_count=0,
    ),
    EvidenceSampled(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        sample_seed="seed-1",
        sample_share=1.0,
        sample_size=3,
        accepted_count=3,
        claims=tuple(
            SampledClaim(participant_hash=hashed, metric_id="JOB-START", evidence_reference="p")
            for hashed in PARTICIPANTS
        ),
    ),
    EvidenceVerified(
        place_id="GM", contract_id="C-1", batch_id="B-1", verified_count=3, amount_pence=5_900_00
    ),
    PaymentMade(
        place_id="GM",
        payment_id="PAY-1",
        allocation_id="A-1",
        provider_id="PROV-WORKWELL",
        amount_pence=5_900_00,
        payment_kind="outcome_payment",
        contract_id="C-1",
        claim_batch_id="B-1",
        attribution=shares(5_900_00),
        transfer_id="T-P-1",
    ),
    RemittanceAdvised(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        payment_id="PAY-1",
        provider_id="PROV-WORKWELL",
        amount_pence=5_900_00,
        lines=(
            RemittanceLine(
                claim_period_id="Q2",
                metric_id="JOB-START",
                metric_version=1,
                outcome_count=2,
                amount_pence=2_400_00,
            ),
            RemittanceLine(
                claim_period_id="Q2",
                metric_id="SUSTAINED-26-WEEKS",
                metric_version=1,
                outcome_count=1,
                amount_pence=3_500_00,
            ),
        ),
        transfer_id="T-P-1",
    ),
    ClawbackRaised(
        place_id="GM",
        contract_id="C-1",
        clawback_id="K-1",
        recovery_id="R-1",
        payment_id="PAY-1",
        participant_hash=PARTICIPANTS[0],
        metric_id="JOB-START",
        amount_pence=1_200_00,
        reason=CLAWBACK_REASON,
        claim_period_id="Q2",
    ),
    RecoveryRecorded(
        place_id="GM",
        recovery_id="R-1",
        payment_id="PAY-1",
        amount_pence=1_200_00,
        transfer_id="T-RC-1",
    ),
    ClawbackSettled(
        place_id="GM",
        contract_id="C-1",
        clawback_id="K-1",
        recovery_id="R-1",
        recovered=True,
        amount_pence=1_200_00,
    ),
]


async def feed_gateway(database_url: str) -> None:
    """Each event through the gateway's own handler, in a transaction, as its consumer does."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        for event in EVENTS:
            envelope = wrap(event, producer="test")
            async with connection.transaction():
                outbox = Outbox(connection, "gateway", causation=envelope)
                await HANDLERS[type(event)](HandlerContext(connection, outbox, envelope), event)
    finally:
        await connection.close()


async def test_the_public_open_data_is_valid_and_holds_no_personal_data(
    settings, database_url
) -> None:
    await feed_gateway(database_url)
    async with client_for(settings) as client:
        catalogue = (await client.get("/open-data/places/GM")).json()
        grants = (await client.get("/open-data/places/GM/360giving.json")).json()
        flat = (await client.get("/open-data/places/GM/360giving.csv")).text
        releases = (await client.get("/open-data/places/GM/ocds.json")).json()
        projects = (await client.get("/open-data/places/GM/indigo.json")).json()

    assert catalogue["licence"]["name"] == "Open Government Licence v3.0"
    assert [d["name"] for d in catalogue["datasets"]] == [
        "360giving.json",
        "360giving.csv",
        "ocds.json",
        "indigo.json",
    ]
    assert validation.errors(validation.threesixtygiving_validator(), grants) == []
    assert grants["grants"][0]["amountAwarded"] == 1_500_000.0
    # £5,900 paid, then the settled clawback of £1,200 as a negative disbursement.
    disbursed = grants["grants"][0]["disbursementTransaction"]
    assert [t["value"] for t in disbursed] == [5_900.0, -1_200.0]
    assert disbursed[1]["id"].endswith("PAY-1-recovery-K-1")
    assert grants["grants"][0]["amountDisbursed"] == 4_700.0
    assert "360G-singlepot-GM-A-1" in flat and "1500000.00" in flat and "4700.00" in flat
    assert validation.errors(validation.ocds_validator(), releases) == []
    transactions = releases["releases"][0]["contracts"][0]["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in transactions] == [5_900.0, -1_200.0]
    for project in projects["projects"]:
        assert validation.errors(validation.indigo_validator(), project["data"]) == []
    assert projects["projects"][0]["id"] == "INDIGO-singlepot-GM-C-1"
    project = projects["projects"][0]["data"]
    assert [p["money"]["amount"]["value"] for p in project["outcome_payments"]] == [4_700.0]
    job = next(m for m in project["outcome_metrics"] if m["id"] == "JOB-START")
    assert job["definition"]["value"] == "Started paid work"
    assert job["targeted_number_of_service_users_or_beneficiaries_total"]["value"] == 400
    caps = [c["maximum_potential_outcome_payment"] for c in project["outcome_payment_commitments"]]
    assert caps == [
        {"currency": {"value": "GBP", "status": "PUBLIC"}, "amount": {"value": 1_200_000.0}}
    ]
    assert project["dates"]["start_date_of_service_provision"]["value"] == "2026-06-01"
    milestones = releases["releases"][0]["contracts"][0]["milestones"]
    periods = {m["id"]: m["status"] for m in milestones if m["type"] == "payment"}
    assert periods == {"C-1-period-Q2": "met", "C-1-period-Q3": "scheduled"}

    everything = json.dumps([catalogue, grants, releases, projects]) + flat
    for secret in PARTICIPANTS + PRINCIPALS + ["participant-1", "seed-1", "Bloggs", "Acacia"]:
        assert secret not in everything, f"{secret} appears in an export"
