"""The outcomes service's handlers on the real PostgreSQL: chunked files, deduplication, caps,
metric versions, sampled verification, payment, remittance, clawback and the monitors."""

from __future__ import annotations

import math
from datetime import date

import pytest

from contracts.decisions import CommandRefused
from contracts.ledger import (
    PaymentMade,
    PaymentRejected,
    PaymentRequested,
    RecoveryRaised,
    RecoveryRecorded,
)
from contracts.outcomes import (
    AmendMetric,
    ClawBackClaim,
    ClawbackRaised,
    ClawbackSettled,
    Engagement,
    EngagementsRecorded,
    EvidenceHeld,
    EvidenceRejected,
    EvidenceSampled,
    EvidenceSubmitted,
    EvidenceVerified,
    FunnelMeasured,
    GamingFlagRaised,
    InvestorFlowRecorded,
    KpiResult,
    OpenBookSubmitted,
    OutcomePaymentRejected,
    OutcomesContractRegistered,
    RecordEngagements,
    RecordInvestorFlow,
    RecordReferrals,
    RecordVerificationDecision,
    Referral,
    RemittanceAdvised,
    SocialValueKpi,
    SubmitOpenBook,
    VerificationDecision,
)
from contracts.values import AttributionShare
from services.outcomes import db
from services.outcomes.domain import payment_id_for
from tests.integration.outcomes.outcomes_support import (
    Harness,
    claim,
    csv_file,
    evidence,
    file_commands,
    funded,
    harness,
    person,
    register,
)

pytestmark = pytest.mark.integration

NO_SAMPLE = {"verification_sample_share": 0.0}


def rows_of_a_file() -> list[str]:
    """21 good rows, one bad date, one broken referral date, and two repeated outcomes."""
    lines = [f"person-{n},JOB,2026-05-{n:02d},payroll/{n},2026-01-10,easy" for n in range(1, 22)]
    lines.insert(5, "person-90,JOB,not-a-date,payroll/90,2026-01-10,easy")
    lines.insert(9, "person-91,JOB,2026-05-01,payroll/91,2026-06-01,hard")
    lines.append("person-3,JOB,2026-05-03,payroll/3-again,2026-01-10,easy")
    lines.append("person-4,JOB,2026-05-04,payroll/4-again,2026-01-10,easy")
    return lines


async def paid_batch(outcomes: Harness, batch_id: str, *claims) -> PaymentRequested:
    await outcomes.send(evidence(batch_id, *claims))
    return (await outcomes.emitted(PaymentRequested))[-1]


def made(request: PaymentRequested, transfer_id: str = "T-9") -> PaymentMade:
    return PaymentMade(
        place_id="GM",
        payment_id=request.payment_id,
        allocation_id=request.allocation_id,
        provider_id=request.provider_id,
        amount_pence=request.amount_pence,
        payment_kind="outcome_payment",
        contract_id=request.contract_id,
        claim_batch_id=request.claim_batch_id,
        attribution=(
            AttributionShare(
                department_code="DWP",
                funding_stream_code="WORK",
                amount_pence=request.amount_pence,
            ),
        ),
        transfer_id=transfer_id,
    )


async def test_a_chunked_file_is_validated_deduplicated_priced_and_sampled_once_complete(
    database_url,
) -> None:
    commands = file_commands(csv_file(rows_of_a_file()), "F-1", chunk_size=5)
    async with harness(database_url, verification_sample_share=0.2) as outcomes:
        await outcomes.send(register(), *funded())
        await outcomes.send(*commands[:-1])
        assert await outcomes.emitted(EvidenceSampled) == []
        (last,) = await outcomes.send(commands[-1])

        submitted = await outcomes.emitted(EvidenceSubmitted)
        (sampled,) = await outcomes.emitted(EvidenceSampled)
        rejections = await outcomes.rows(
            "SELECT row_number, reason FROM claim_rejections ORDER BY row_number"
        )
        pending = await outcomes.value("SELECT count(*) FROM claims WHERE status = 'pending'")
        batch = await outcomes.rows("SELECT status, sample_seed, sample_size FROM batches")
        redrawn = await outcomes.rows(
            "SELECT participant_hash FROM claims WHERE batch_id = 'F-1' "
            "ORDER BY md5($1 || ':' || participant_hash || ':' || metric_id) LIMIT $2",
            sampled.sample_seed,
            sampled.sample_size,
        )

    assert len(commands) == 5 and commands[-1].chunk_count == 5
    assert sum(event.accepted_count for event in submitted) == pending == 21
    assert [(r["row_number"], r["reason"][-35:]) for r in rejections] == [
        (24, "GM (contract C-1, batch F-1, row 3)"),
        (25, "GM (contract C-1, batch F-1, row 4)"),
    ]
    assert sampled.sample_size == math.ceil(21 * 0.2) == len(sampled.claims)
    assert dict(batch[0]) == {
        "status": "awaiting_verification",
        "sample_seed": last.event_id.hex,
        "sample_size": 5,
    }
    # An auditor repeats the draw from the recorded seed and finds the same claims.
    assert {r["participant_hash"] for r in redrawn} == {c.participant_hash for c in sampled.claims}


async def test_a_resubmitted_file_changes_nothing(database_url) -> None:
    commands = file_commands(csv_file(rows_of_a_file()), "F-1", chunk_size=5)
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(), *funded(), *commands)
        before = await outcomes.value("SELECT count(*) FROM outbox")
        claims_before = await outcomes.value("SELECT count(*) FROM claims")
        await outcomes.send(*commands)
        after = await outcomes.value("SELECT count(*) FROM outbox")
        claims_after = await outcomes.value("SELECT count(*) FROM claims")
        requests = await outcomes.emitted(PaymentRequested)

    assert (after, claims_after) == (before, claims_before)
    assert [request.amount_pence for request in requests] == [21 * 1_000_00]


async def test_a_passed_sample_requests_one_payment_for_the_batch_with_a_bounded_id(
    database_url,
) -> None:
    long_batch = "B" * 128
    async with harness(database_url, verification_sample_share=0.5) as outcomes:
        await outcomes.send(register(), *funded())
        await outcomes.send(evidence(long_batch, claim(1), claim(2), claim(3, "SUSTAINED")))
        (sampled,) = await outcomes.emitted(EvidenceSampled)
        assert await outcomes.emitted(PaymentRequested) == []
        await outcomes.send(
            RecordVerificationDecision(
                place_id="GM",
                contract_id="C-1",
                batch_id=long_batch,
                verifier_id="V-1",
                decisions=tuple(
                    VerificationDecision(
                        participant_hash=c.participant_hash, metric_id=c.metric_id, passed=True
                    )
                    for c in sampled.claims
                ),
            )
        )
        (verified,) = await outcomes.emitted(EvidenceVerified)
        (request,) = await outcomes.emitted(PaymentRequested)

    assert sampled.sample_size == 2
    assert verified.amount_pence == request.amount_pence == 5_000_00
    assert request.payment_id == payment_id_for("C-1", long_batch)
    assert len(request.payment_id) <= 128


async def test_a_failed_sample_holds_the_batch_with_the_verifiers_reasons_until_it_passes(
    database_url,
) -> None:
    async with harness(database_url, verification_sample_share=1.0) as outcomes:
        await outcomes.send(register(), *funded(), evidence("B-1", claim(1), claim(2)))

        def decision(number: int, passed: bool, reason: str | None = None):
            return RecordVerificationDecision(
                place_id="GM",
                contract_id="C-1",
                batch_id="B-1",
                verifier_id="V-1",
                decisions=(
                    VerificationDecision(
                        participant_hash=person(number),
                        metric_id="JOB",
                        passed=passed,
                        reason=reason,
                    ),
                ),
            )

        await outcomes.send(decision(1, True), decision(2, False, "payslip does not match"))
        (held,) = await outcomes.emitted(EvidenceHeld)
        status = await outcomes.value("SELECT status FROM batches")
        assert await outcomes.emitted(PaymentRequested) == []
        # The provider's query is resolved; the verifier passes the claim on a second look.
        await outcomes.send(decision(2, True))
        (request,) = await outcomes.emitted(PaymentRequested)
        await outcomes.send(
            RecordVerificationDecision(
                place_id="GM",
                contract_id="C-1",
                batch_id="B-1",
                verifier_id="V-1",
                decisions=(
                    VerificationDecision(participant_hash=person(7), metric_id="JOB", passed=True),
                ),
            )
        )
        (refused,) = await outcomes.emitted(CommandRefused)

    assert (status, held.reasons, held.failed_count) == ("held", ("payslip does not match",), 1)
    assert request.amount_pence == 2_000_00
    assert (refused.rule, refused.subject_id) == ("batch_awaiting_verification", "B-1")
    assert refused.reason == "batch B-1 is payment_requested, not awaiting verification"


async def test_a_cap_reached_mid_batch_pays_up_to_the_cap_and_rejects_the_rest_naming_it(
    database_url,
) -> None:
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(cap_pence=2_500_00), *funded())
        await outcomes.send(evidence("B-1", claim(1), claim(2), claim(3), claim(4)))
        (submitted,) = await outcomes.emitted(EvidenceSubmitted)
        (request,) = await outcomes.emitted(PaymentRequested)
        await outcomes.send(evidence("B-2", claim(5)))
        rejected = await outcomes.emitted(EvidenceRejected)

    assert request.amount_pence == 2_500_00
    assert [(r.row_number, r.reason) for r in submitted.rejections] == [
        (None, "contract C-1 has reached its cap of £2,500.00")
    ]
    assert rejected[0].reasons == (
        "no claim was accepted: contract C-1 has reached its cap of £2,500.00",
    )


async def test_a_participant_is_paid_once_across_two_providers_naming_the_earlier_claim(
    database_url,
) -> None:
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(), *funded())
        await outcomes.send(
            register("C-2", provider_id="P-2", allocation_id="A-2"), *funded("A-2", "P-2")
        )
        await outcomes.send(evidence("B-1", claim(1, row_number=7)))
        await outcomes.send(
            evidence("B-9", claim(1), claim(2), contract_id="C-2", provider_id="P-2")
        )
        submitted = await outcomes.emitted(EvidenceSubmitted)
        requests = await outcomes.emitted(PaymentRequested)

    assert [(r.contract_id, r.amount_pence) for r in requests] == [
        ("C-1", 1_000_00),
        ("C-2", 1_000_00),
    ]
    assert submitted[1].rejections[0].reason == (
        f"participant {person(1)} already has metric JOB claimed in GM "
        "(contract C-1, batch B-1, row 7)"
    )


async def test_claims_are_priced_by_the_metric_version_in_force_when_achieved(
    database_url,
) -> None:
    amendment = AmendMetric(
        place_id="GM",
        contract_id="C-1",
        metric_id="JOB",
        version=2,
        effective_from=date(2026, 7, 1),
        price_pence=1_200_00,
        agreed_by=("GMCA", "P-1"),
        reason="the definition now counts 16 hours a week",
    )
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(), *funded(), amendment)
        await outcomes.send(
            evidence(
                "B-1",
                claim(1, achieved_on=date(2026, 6, 30)),
                claim(2, achieved_on=date(2026, 7, 1)),
            )
        )
        await outcomes.send(amendment.model_copy(update={"version": 2}))
        versions = await outcomes.rows(
            "SELECT metric_version, price_pence, claim_period_id FROM claims "
            "ORDER BY metric_version"
        )
        (request,) = await outcomes.emitted(PaymentRequested)
        (refused,) = await outcomes.emitted(CommandRefused)

    assert [tuple(row) for row in versions] == [(1, 1_000_00, "2026-Q1"), (2, 1_200_00, "2026-Q2")]
    assert request.amount_pence == 2_200_00
    assert (refused.command_type, refused.rule) == ("AmendMetric", "metric_version_follows")
    assert refused.reason == (
        "metric JOB is at version 2; the next is 3, not 2; "
        "effective_from 2026-07-01 must be after version 2's 2026-07-01"
    )


async def test_a_verified_batch_waits_for_its_allocation_to_be_funded(database_url) -> None:
    approved, funding = funded()
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(), approved, evidence("B-1", claim(1)))
        waiting = await outcomes.value("SELECT status FROM batches")
        assert await outcomes.emitted(PaymentRequested) == []
        await outcomes.send(funding)
        (request,) = await outcomes.emitted(PaymentRequested)

    assert waiting == "awaiting_funding"
    assert request.amount_pence == 1_000_00


async def test_a_contract_must_sit_on_its_providers_outcomes_contract_allocation(
    database_url,
) -> None:
    grant = funded()[0].model_copy(update={"allocation_type": "grant"})
    big = register("C-BIG", allocation_id="A-BIG", cap_pence=6_000_000_00, social_value_kpis=())
    kpis = tuple(
        SocialValueKpi(kpi_id=f"K{n}", description="local jobs", target="50") for n in (1, 2, 3)
    )
    async with harness(database_url) as outcomes:
        await outcomes.send(
            grant, register(), big, big.model_copy(update={"social_value_kpis": kpis})
        )
        rejected = await outcomes.emitted(CommandRefused)
        registered = await outcomes.emitted(OutcomesContractRegistered)

    assert [(r.rule, r.reason) for r in rejected] == [
        ("contract_fits_allocation", "allocation A-1 is a grant, not an outcomes_contract"),
        (
            "contract_fits_allocation",
            "a contract over £5,000,000.00 must carry 3 social-value KPIs; it has 0",
        ),
    ]
    assert [r.contract_id for r in registered] == ["C-BIG"]


async def test_remittance_advice_and_planned_against_actual_per_claim_period(
    database_url,
) -> None:
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(), *funded())
        request = await paid_batch(
            outcomes,
            "B-1",
            claim(1),
            claim(2, "SUSTAINED"),
            claim(3, achieved_on=date(2026, 8, 1)),
        )
        await outcomes.send(made(request))
        (advice,) = await outcomes.emitted(RemittanceAdvised)
        async with outcomes.pool.acquire() as connection:
            report = await db.claim_period_report(connection, "C-1")

    assert [
        (line.claim_period_id, line.metric_id, line.outcome_count, line.amount_pence)
        for line in advice.lines
    ] == [
        ("2026-Q1", "JOB", 1, 1_000_00),
        ("2026-Q1", "SUSTAINED", 1, 3_000_00),
        ("2026-Q2", "JOB", 1, 1_000_00),
    ]
    assert advice.amount_pence == 5_000_00
    assert [tuple(row) for row in report] == [
        ("2026-Q1", 10_000_00, 4_000_00, 0),
        ("2026-Q2", 20_000_00, 1_000_00, 0),
    ]


async def test_a_refused_payment_frees_the_cap_for_other_claims(database_url) -> None:
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(cap_pence=1_000_00), *funded())
        request = await paid_batch(outcomes, "B-1", claim(1))
        await outcomes.send(
            PaymentRejected(
                place_id="GM",
                payment_id=request.payment_id,
                allocation_id="A-1",
                amount_pence=request.amount_pence,
                reason="more than is left in the reservation",
            )
        )
        (rejected,) = await outcomes.emitted(OutcomePaymentRejected)
        committed = await outcomes.value("SELECT sum(committed_pence) FROM metric_prices")

    assert rejected.batch_id == "B-1"
    assert committed == 0


async def test_a_clawback_raises_a_recovery_and_the_providers_statement_shows_it(
    database_url,
) -> None:
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(), *funded())
        request = await paid_batch(outcomes, "B-1", claim(1), claim(2))
        clawback = ClawBackClaim(
            place_id="GM",
            contract_id="C-1",
            clawback_id="CB-1",
            participant_hash=person(2),
            metric_id="JOB",
            reason="the job ended in its first week",
            raised_by="verifier",
        )
        await outcomes.send(clawback)  # not paid yet: refused
        await outcomes.send(made(request), clawback.model_copy(update={"clawback_id": "CB-2"}))
        (recovery,) = await outcomes.emitted(RecoveryRaised)
        (raised,) = await outcomes.emitted(ClawbackRaised)
        await outcomes.send(
            RecoveryRecorded(
                place_id="GM",
                recovery_id=recovery.recovery_id,
                payment_id=recovery.payment_id,
                amount_pence=recovery.amount_pence,
                transfer_id="T-10",
            )
        )
        (refused,) = await outcomes.emitted(CommandRefused)
        (settled,) = await outcomes.emitted(ClawbackSettled)
        async with outcomes.pool.acquire() as connection:
            statement = await db.provider_statement(connection, "C-1")

    assert refused.reason == "the claim is pending, not paid: only a paid claim can be clawed back"
    assert (refused.rule, refused.subject_id) == ("clawback_of_a_paid_claim", "CB-1")
    assert (recovery.payment_id, recovery.amount_pence) == (request.payment_id, 1_000_00)
    assert settled.recovered and settled.clawback_id == "CB-2"
    assert (raised.recovery_id, raised.claim_period_id) == (recovery.recovery_id, "2026-Q1")
    assert (statement["paid_pence"], statement["recovered_pence"], statement["net_pence"]) == (
        2_000_00,
        1_000_00,
        1_000_00,
    )
    assert [r["clawback_id"] for r in statement["recoveries"]] == ["CB-2"]


async def test_the_monitors_flag_creaming_parking_and_deadline_clustering(database_url) -> None:
    referrals = [
        Referral(
            participant_hash=person(n),
            difficulty_segment="easy" if n <= 20 else "hard",
            referred_on=date(2026, 4, 2),
        )
        for n in range(1, 41)
    ]
    engaged = [
        Engagement(participant_hash=person(n), engaged_on=date(2026, 4, 5)) for n in range(1, 26)
    ]
    # Easy participants succeed, the hard ones barely, and all just before Q1 ends.
    claims = [
        claim(n, achieved_on=date(2026, 6, 25), difficulty_segment="easy") for n in range(1, 13)
    ]
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(
            register(),
            *funded(),
            RecordReferrals(
                place_id="GM", contract_id="C-1", provider_id="P-1", referrals=tuple(referrals)
            ),
            RecordEngagements(
                place_id="GM",
                contract_id="C-1",
                provider_id="P-1",
                engagements=(
                    *engaged,
                    Engagement(participant_hash=person(99), engaged_on=date(2026, 4, 5)),
                ),
            ),
            evidence("B-1", *claims),
        )
        (engagements,) = await outcomes.emitted(EngagementsRecorded)
        flags = {(f.flag_kind, f.subject) for f in await outcomes.emitted(GamingFlagRaised)}
        before_payment = (await outcomes.emitted(FunnelMeasured))[-1]
        await outcomes.send(made((await outcomes.emitted(PaymentRequested))[-1]))
        after_payment = (await outcomes.emitted(FunnelMeasured))[-1]
        await outcomes.send(evidence("B-2", claim(50, achieved_on=date(2026, 6, 26))))
        repeated = await outcomes.emitted(GamingFlagRaised)

    assert (engagements.recorded_count, engagements.not_referred_count) == (25, 1)
    assert flags == {("creaming", "hard"), ("parking", "hard"), ("deadline_clustering", "2026-Q1")}
    assert len(repeated) == 3  # a flag is raised once

    def steps(measured: FunnelMeasured) -> dict[str, tuple[int, int, int, int]]:
        return {s.segment: (s.referred, s.engaged, s.achieved, s.paid) for s in measured.segments}

    # Referred 20 a segment; engaged: all 20 easy (12 of them by their outcome), 5 hard.
    assert steps(before_payment) == {"easy": (20, 20, 12, 0), "hard": (20, 5, 0, 0)}
    assert steps(after_payment) == {"easy": (20, 20, 12, 12), "hard": (20, 5, 0, 0)}


async def test_open_book_returns_and_investor_flows_are_recorded_apart_from_payments(
    database_url,
) -> None:
    kpis = tuple(
        SocialValueKpi(kpi_id=f"K{n}", description="local jobs", target="50") for n in (1, 2, 3)
    )
    open_book = SubmitOpenBook(
        place_id="GM",
        contract_id="C-1",
        provider_id="P-1",
        period_id="2026-Q1",
        cost_pence=800_00,
        surplus_or_loss_pence=200_00,
        social_value_cost_pence=50_00,
        kpi_results=tuple(KpiResult(kpi_id=k.kpi_id, result="12") for k in kpis),
    )
    flow = RecordInvestorFlow(
        place_id="GM",
        contract_id="C-1",
        flow_id="INV-1",
        investor_id="BSC",
        flow_kind="investment",
        amount_pence=250_000_00,
        occurred_on=date(2026, 4, 1),
    )
    async with harness(database_url, **NO_SAMPLE) as outcomes:
        await outcomes.send(register(social_value_kpis=kpis, social_impact_bond=True), *funded())
        await outcomes.send(made(await paid_batch(outcomes, "B-1", claim(1))))
        await outcomes.send(open_book, open_book, open_book.model_copy(update={"kpi_results": ()}))
        await outcomes.send(flow, flow)
        (submitted,) = await outcomes.emitted(OpenBookSubmitted)
        *rejected, repeat = await outcomes.emitted(CommandRefused)
        (recorded,) = await outcomes.emitted(InvestorFlowRecorded)
        paid = await outcomes.value("SELECT paid_pence FROM contracts")

    assert submitted.outcome_payments_pence == 1_000_00
    assert [r.rule for r in rejected] == ["open_book_complete", "open_book_complete"]
    assert rejected[0].reason == "an open-book return for period 2026-Q1 was submitted before"
    assert "kpi_results must report the social-value KPI(s) K1, K2, K3" in rejected[1].reason
    assert recorded.amount_pence == 250_000_00 and paid == 1_000_00
    assert (repeat.rule, repeat.reason) == (
        "flow_id_unique",
        "investor flow INV-1 was recorded before",
    )


async def test_evidence_for_another_providers_contract_is_rejected_as_a_whole(database_url) -> None:
    async with harness(database_url) as outcomes:
        await outcomes.send(register(), evidence("B-1", claim(1), provider_id="P-X"))
        (rejected,) = await outcomes.emitted(CommandRefused)
        claims = await outcomes.value("SELECT count(*) FROM claims")

    assert (rejected.rule, rejected.subject_id) == ("evidence_batch_valid", "B-1")
    assert rejected.reason == "contract C-1 is held by P-1, not P-X"
    assert claims == 0
