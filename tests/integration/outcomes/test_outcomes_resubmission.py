"""A claim the verifier refused comes back in a later batch with new evidence, on the real
PostgreSQL; a paid or pending claim, or the same evidence again, may not.

The first batch: four JOB outcomes at £1,000.00; half are sampled and the verifier fails one,
and the contract's rule (pay_remainder) pays the other three (£3,000.00)."""

from __future__ import annotations

import pytest

from contracts.ledger import PaymentRequested
from contracts.outcomes import ClaimResultsRecorded, EvidenceSampled, EvidenceSubmitted
from tests.integration.outcomes.outcomes_support import Harness, claim, evidence, harness
from tests.integration.outcomes.test_outcomes_verification_rules import (
    HALF_SAMPLED,
    made,
    one_sampled_claim_fails,
)

pytestmark = pytest.mark.integration


async def failed_participant(outcomes: Harness) -> int:
    """The number of the person whose claim failed verification (the first sampled)."""
    (sampled,) = await outcomes.emitted(EvidenceSampled)
    failed_hash = sampled.claims[0].participant_hash
    return next(n for n in (1, 2, 3, 4) if claim(n).participant_hash == failed_hash)


async def test_a_claim_that_failed_verification_is_paid_when_resubmitted_with_new_evidence(
    database_url,
) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(outcomes, verification_rule="pay_remainder")
        number = await failed_participant(outcomes)
        (first_request,) = await outcomes.emitted(PaymentRequested)
        await outcomes.send(made(first_request))
        resubmission = claim(number).model_copy(update={"evidence_reference": "payroll/new"})
        await outcomes.send(evidence("B-2", resubmission))
        submitted = [e for e in await outcomes.emitted(EvidenceSubmitted) if e.batch_id == "B-2"]
        results = [
            result
            for part in await outcomes.emitted(ClaimResultsRecorded)
            if part.batch_id == "B-2" and part.chunk_index is not None
            for result in part.results
        ]
        live = await outcomes.rows(
            "SELECT batch_id, status, evidence_reference FROM claims WHERE participant_hash = $1",
            resubmission.participant_hash,
        )
        archived = await outcomes.rows(
            "SELECT batch_id, status, evidence_reference, resubmitted_in_batch "
            "FROM resubmitted_claims"
        )
        committed = await outcomes.value("SELECT sum(committed_pence) FROM metric_prices")

    assert [(s.accepted_count, s.accepted_pence) for s in submitted] == [(1, 1_000_00)]
    [result] = results
    assert (result.status, result.rule) == ("accepted", "resubmitted_after_failed_verification")
    # Claims sent through the API carry no row number, so the earlier claim is named by batch.
    assert result.reason == (
        "resubmitted with new evidence after failing verification (contract C-1, batch B-1)"
    )
    assert [tuple(row) for row in live] == [("B-2", "pending", "payroll/new")]
    assert [tuple(row) for row in archived] == [
        ("B-1", "failed_verification", f"payroll/{number}", "B-2")
    ]
    # The three paid in B-1 (£3,000.00) and the resubmitted claim (£1,000.00) count on the cap.
    assert committed == 4_000_00


async def test_a_failed_claim_resubmitted_with_the_same_evidence_is_rejected(
    database_url,
) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(outcomes, verification_rule="pay_remainder")
        number = await failed_participant(outcomes)
        await outcomes.send(evidence("B-2", claim(number)))
        submitted = [e for e in await outcomes.emitted(EvidenceSubmitted) if e.batch_id == "B-2"]
        archived = await outcomes.value("SELECT count(*) FROM resubmitted_claims")

    [batch] = submitted
    assert (batch.accepted_count, batch.rejected_count) == (0, 1)
    assert batch.rejections[0].reason == (
        f"participant {claim(number).participant_hash}'s metric JOB failed verification "
        f"(contract C-1, batch B-1) with evidence payroll/{number}; a resubmission needs new "
        "evidence"
    )
    assert archived == 0


async def test_a_paid_claim_cannot_be_resubmitted_even_with_new_evidence(database_url) -> None:
    async with harness(database_url, **HALF_SAMPLED) as outcomes:
        await one_sampled_claim_fails(outcomes, verification_rule="pay_remainder")
        number = await failed_participant(outcomes)
        (request,) = await outcomes.emitted(PaymentRequested)
        await outcomes.send(made(request))
        paid_number = next(n for n in (1, 2, 3, 4) if n != number)
        again = claim(paid_number).model_copy(update={"evidence_reference": "payroll/new"})
        await outcomes.send(evidence("B-2", again))
        submitted = [e for e in await outcomes.emitted(EvidenceSubmitted) if e.batch_id == "B-2"]

    [batch] = submitted
    assert (batch.accepted_count, batch.rejected_count) == (0, 1)
    assert batch.rejections[0].reason.startswith(
        f"participant {again.participant_hash} already has metric JOB claimed in GM"
    )
