"""The provider sees what its contract's verification rule decided for a batch whose sample
failed, with every figure, on the batch in the evidence API, and what each outcome payer paid
on its statement (the real gateway and broker)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.ledger import PayerShare
from contracts.outcomes import (
    EvidenceSubmitted,
    MetricPrice,
    OutcomesContractRegistered,
    RemittanceAdvised,
    RemittanceLine,
    VerificationRuleApplied,
)
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIGURES = {
    "accepted_count": 10,
    "accepted_pence": 1_000_00,
    "sample_size": 4,
    "sample_pence": 400_00,
    "failed_count": 1,
    "failed_pence": 100_00,
    "error_rate_basis_points": 2500,
    "unsampled_pence": 600_00,
    "extrapolated_reduction_pence": 150_00,
    "payable_pence": 750_00,
}


async def test_the_provider_reads_the_rule_its_figures_and_the_payable_amount(
    settings, database_url
) -> None:
    provider = await token_for(database_url, "prov-1", "provider@GM:PROV-1")
    applied = VerificationRuleApplied(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        verification_rule="extrapolate_error_rate",
        decision="paid",
        payable_pence=750_00,
        reason="1 failed claim(s) worth £100.00 refused; …; £750.00 is paid",
        figures=FIGURES,
    )
    await publish(
        settings,
        OutcomesContractRegistered(
            place_id="GM",
            contract_id="C-1",
            allocation_id="A-1",
            provider_id="PROV-1",
            prices=(MetricPrice(metric_id="JOB", price_pence=100_00),),
            cap_pence=10_000_00,
            verification_rule="extrapolate_error_rate",
        ),
        EvidenceSubmitted(
            place_id="GM",
            contract_id="C-1",
            batch_id="B-1",
            provider_id="PROV-1",
            claim_count=10,
            accepted_count=10,
            rejected_count=0,
        ),
        applied,
    )
    async with client_for(settings) as client:

        async def batch_with_outcome() -> dict[str, Any] | None:
            response = await client.get(
                "/api/v1/places/GM/outcomes-contracts/C-1/evidence", headers=bearer(provider)
            )
            if response.status_code != 200:
                return None
            batches = response.json()["batches"]
            return batches[0] if batches and batches[0]["verification_outcome"] else None

        batch = await eventually(batch_with_outcome, timeout_s=20)

    assert batch["verification_outcome"] == {
        "verification_rule": "extrapolate_error_rate",
        "decision": "paid",
        "payable_pence": 750_00,
        "reason": applied.reason,
        "figures": FIGURES,
    }


async def test_the_providers_statement_shows_what_each_payer_paid(settings, database_url) -> None:
    provider = await token_for(database_url, "prov-2", "provider@GM:PROV-2")
    advice = RemittanceAdvised(
        place_id="GM",
        contract_id="C-2",
        batch_id="B-1",
        payment_id="OP-1",
        provider_id="PROV-2",
        amount_pence=5_000_00,
        lines=(
            RemittanceLine(
                claim_period_id=None,
                metric_id="JOB",
                metric_version=1,
                outcome_count=2,
                amount_pence=2_000_00,
            ),
            RemittanceLine(
                claim_period_id=None,
                metric_id="SUSTAINED",
                metric_version=1,
                outcome_count=1,
                amount_pence=3_000_00,
            ),
        ),
        transfer_id="T-1",
        payer_shares=(
            PayerShare(payer_id="GM-POT", amount_pence=2_000_00),
            PayerShare(payer_id="NATIONAL", amount_pence=3_000_00),
        ),
    )
    await publish(settings, advice)
    async with client_for(settings) as client:

        async def statement() -> dict[str, Any] | None:
            response = await client.get(
                "/api/v1/places/GM/providers/PROV-2/overview", headers=bearer(provider)
            )
            body = response.json() if response.status_code == 200 else {}
            return body if body.get("remittances") else None

        overview = await eventually(statement, timeout_s=20)

    assert overview["statement"]["remitted_by_payer"] == {"GM-POT": 2_000_00, "NATIONAL": 3_000_00}
    assert overview["remittances"][0]["payer_shares"] == [
        {"payer_id": "GM-POT", "amount_pence": 2_000_00},
        {"payer_id": "NATIONAL", "amount_pence": 3_000_00},
    ]
