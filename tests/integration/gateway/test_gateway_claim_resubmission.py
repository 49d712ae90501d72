"""A claim the verifier failed, resubmitted with new evidence in a later batch, through the
real outcomes service and gateway: the provider reads the new batch's claim back over the API
as accepted, naming the resubmission and the batch it failed in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contracts import MetricPrice
from contracts.outcomes import (
    EvidenceClaim,
    RecordVerificationDecision,
    RegisterOutcomesContract,
    SubmitEvidence,
    VerificationDecision,
)
from services.outcomes.app import definition
from services.outcomes.settings import OutcomesSettings
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTRACT = "/api/v1/places/GM/outcomes-contracts/C-R"
PASSES, FAILS = "1" * 64, "2" * 64


def evidence(batch_id: str, *claims: tuple[str, str]) -> SubmitEvidence:
    return SubmitEvidence(
        place_id="GM",
        contract_id="C-R",
        batch_id=batch_id,
        provider_id="PROV-R",
        claims=tuple(
            EvidenceClaim(
                participant_hash=person,
                metric_id="JOB-START",
                achieved_on="2026-09-15",
                evidence_reference=reference,
            )
            for person, reference in claims
        ),
    )


async def claims_of(client: httpx.AsyncClient, token: str, batch_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{CONTRACT}/evidence/{batch_id}/claims", headers=bearer(token))
    if response.status_code != 200:
        return []
    claims: list[dict[str, Any]] = response.json()["claims"]
    return claims


async def test_a_resubmitted_claim_reads_back_as_accepted_naming_the_failed_batch(
    settings, database_url
) -> None:
    provider = await token_for(database_url, "prov-r", "provider@GM:PROV-R")
    register = RegisterOutcomesContract(
        place_id="GM",
        contract_id="C-R",
        allocation_id="A-C-R",
        provider_id="PROV-R",
        prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
        cap_pence=1_000,
        verification_rule="pay_remainder",
    )
    verdicts = RecordVerificationDecision(
        place_id="GM",
        contract_id="C-R",
        batch_id="B-1",
        verifier_id="V-1",
        decisions=(
            VerificationDecision(participant_hash=PASSES, metric_id="JOB-START", passed=True),
            VerificationDecision(
                participant_hash=FAILS,
                metric_id="JOB-START",
                passed=False,
                reason="the payslip does not match the employer",
            ),
        ),
    )
    outcomes = definition(OutcomesSettings(verification_sample_share=1.0))
    async with running(outcomes, settings), client_for(settings) as client:
        await publish(settings, register)
        await publish(settings, evidence("B-1", (PASSES, "payroll-1"), (FAILS, "payroll-2")))

        async def sampled() -> bool:
            claims = await claims_of(client, provider, "B-1")
            return [claim["status"] for claim in claims] == ["sampled", "sampled"]

        await eventually(sampled)
        await publish(settings, verdicts)

        async def failed() -> bool:
            claims = await claims_of(client, provider, "B-1")
            return "failed_verification" in [claim["status"] for claim in claims]

        await eventually(failed)
        await publish(settings, evidence("B-2", (FAILS, "payroll-2-corrected")))
        resubmitted = await eventually(lambda: claims_of(client, provider, "B-2"))
        first_batch = await claims_of(client, provider, "B-1")

    [claim] = resubmitted
    assert claim["participant_hash"] == FAILS
    assert claim["status"] in ("accepted", "sampled")
    assert claim["rule"] == "resubmitted_after_failed_verification"
    assert claim["reason"] == (
        "resubmitted with new evidence after failing verification (contract C-R, batch B-1)"
    )
    assert claim["amount_pence"] == 100
    # The first batch still shows the failure, with the verifier's reason.
    failure = next(c for c in first_batch if c["participant_hash"] == FAILS)
    assert failure["status"] == "failed_verification"
    assert failure["reason"] == "the payslip does not match the employer"
