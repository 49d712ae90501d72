"""Each contract's verification rule on the real PostgreSQL, on a batch with a failed sample.

The batch: four JOB outcomes at £1,000.00 each (£4,000.00). Half are sampled (two, £2,000.00)
and the verifier fails one of them (£1,000.00): an error rate of 1 in 2 (50%)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.ledger import PaymentMade, PaymentRequested
from contracts.outcomes import (
    ClaimResultsRecorded,
    EvidenceHeld,
    EvidenceRejected,
    EvidenceSampled,
    RecordVerificationDecision,
    RemittanceAdvised,
    VerificationDecision,
    VerificationRuleApplied,
)
from contracts.values import AttributionShare
from tests.integration.outcomes.outcomes_support import Harness, claim, evidence, funded, harness
from tests.integration.outcomes.outcomes_support import register as contract

pytestmark = pytest.mark.integration

HALF_SAMPLED = {"verification_sample_share": 0.5, "verification_sample_size_min": 1}
SAMPLE_FIGURES = {
    "accepted_count": 4,
    "accepted_pence": 4_000_00,
    "sample_size": 2,
    "sample_pence": 2_000_00,
    "failed_count": 1,
    "failed_pence": 1_000_00,
    "error_rate_basis_points": 5000,
}


async def one_sampled_claim_fails(outcomes: Harness, **terms: Any) -> None:
    await outcomes.send(contract(**terms), *funded())
    await outcomes.send(evidence("B-1", claim(1), claim(2), claim(3), claim(4)))
    (sampled,) = await outcomes.emitted(EvidenceSampled)
    assert sampled.sample_size == 2
    first, second = sampled.claims
    await outcomes.send(
        RecordVerificationDecision(
            place_id="GM",
            contract_id="C-1",
            batch_id="B-1",
            verifier_id="V-1",
            decisions=(
                VerificationDecision(
                    participant_hash=first.participant_hash,
                    metric_id="JOB",
                    passed=False,
                    reason="payslip does not match",
                ),
                VerificationDecision(
                    participant_hash=second.participant_hash, metric_id="JOB", passed=True
                ),
            ),
        )
    )


def made(request: PaymentRequested) -> PaymentMade:
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
                department_code="DWP", funding_stream_code="WORK", amount_pence=request.amount_pence
            ),
        ),
        transfer_id="T-1",
    )


async def claim_statuses(outcomes: Harness) -> list[str]:
    rows = await outcomes.rows("SELECT status FROM claims ORDER BY status")
    return [row["status"] for row in rows]


async def test_pay_remainder_pays_the_batch_without_the_failed_claim(database_url) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(outcomes, verification_rule="pay_remainder")
        (applied,) = await outcomes.emitted(VerificationRuleApplied)
        (request,) = await outcomes.emitted(PaymentRequested)
        results = await outcomes.emitted(ClaimResultsRecorded)
        statuses = await claim_statuses(outcomes)
        committed = await outcomes.value("SELECT sum(committed_pence) FROM metric_prices")
        stored = await outcomes.value("SELECT verification_outcome->>'payable_pence' FROM batches")
        held = await outcomes.emitted(EvidenceHeld)

    # £4,000.00 less the failed £1,000.00.
    assert request.amount_pence == 3_000_00
    assert (applied.decision, applied.payable_pence) == ("paid", 3_000_00)
    assert applied.figures == SAMPLE_FIGURES | {"payable_pence": 3_000_00}
    assert stored == "300000"
    # The failed claim is refused with the verifier's reason, and no longer counts on the cap.
    failed = [r for part in results for r in part.results if r.status == "failed_verification"]
    assert [r.reason for r in failed] == ["payslip does not match"]
    assert statuses == ["failed_verification", "pending", "pending", "pending"]
    assert committed == 3_000_00
    assert held == []


async def test_extrapolate_error_rate_reduces_the_unsampled_claims_and_advises_it(
    database_url,
) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(outcomes, verification_rule="extrapolate_error_rate")
        (applied,) = await outcomes.emitted(VerificationRuleApplied)
        (request,) = await outcomes.emitted(PaymentRequested)
        await outcomes.send(made(request))
        (advice,) = await outcomes.emitted(RemittanceAdvised)

    # Sample: £2,000.00 less the failed £1,000.00 = £1,000.00. Unsampled: £2,000.00 reduced by
    # 50% = £1,000.00. Payable £2,000.00.
    assert request.amount_pence == 2_000_00
    assert applied.figures == SAMPLE_FIGURES | {
        "unsampled_pence": 2_000_00,
        "extrapolated_reduction_pence": 1_000_00,
        "payable_pence": 2_000_00,
    }
    # The advice lists the three claims paid (£3,000.00) and the £1,000.00 taken off them.
    assert sum(line.amount_pence for line in advice.lines) == 3_000_00
    assert advice.verification_reduction_pence == 1_000_00
    assert advice.amount_pence == 2_000_00


async def test_reject_above_threshold_rejects_the_batch_and_frees_the_cap(database_url) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(
            outcomes,
            verification_rule="reject_above_threshold",
            error_rate_threshold_basis_points=4000,
        )
        (applied,) = await outcomes.emitted(VerificationRuleApplied)
        (rejected,) = await outcomes.emitted(EvidenceRejected)
        requests = await outcomes.emitted(PaymentRequested)
        status = await outcomes.value("SELECT status FROM batches")
        statuses = await claim_statuses(outcomes)
        committed = await outcomes.value("SELECT sum(committed_pence) FROM metric_prices")

    # 50% is above 40%: nothing is paid.
    assert requests == []
    assert (applied.decision, applied.payable_pence) == ("rejected", 0)
    assert applied.figures == SAMPLE_FIGURES | {"threshold_basis_points": 4000, "payable_pence": 0}
    assert rejected.reasons == (
        "1 of 2 sampled claims failed, above the contract's threshold of 40%: the batch is "
        "rejected and nothing is paid",
    )
    assert status == "rejected"
    assert statuses == ["failed_verification", *["verification_rejected"] * 3]
    assert committed == 0


async def test_reject_above_threshold_pays_the_remainder_within_it(database_url) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(
            outcomes,
            verification_rule="reject_above_threshold",
            error_rate_threshold_basis_points=5000,
        )
        (request,) = await outcomes.emitted(PaymentRequested)

    assert request.amount_pence == 3_000_00


async def test_a_contract_without_a_rule_still_holds_the_batch(database_url) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(outcomes)
        (held,) = await outcomes.emitted(EvidenceHeld)
        assert await outcomes.emitted(PaymentRequested) == []
        assert await outcomes.emitted(VerificationRuleApplied) == []

    assert held.reasons == ("payslip does not match",)
