"""A two-payer outcomes contract on the real PostgreSQL: each payer's cap stops the claims it
would overrun, the batch's payment is split by payer, and the remittance advice shows the split.

The place's pot pays the JOB metric (£1,000.00 an outcome, its cap £2,000.00); a national top-up
fund pays SUSTAINED (£3,000.00 an outcome, its cap £9,000.00)."""

from __future__ import annotations

import pytest

from contracts.ledger import PayerShare, PaymentMade, PaymentRequested
from contracts.outcomes import EvidenceSubmitted, MetricPrice, Payer, RemittanceAdvised
from contracts.values import AttributionShare
from tests.integration.outcomes.outcomes_support import claim, evidence, funded, harness, register

pytestmark = pytest.mark.integration

TWO_PAYERS = {
    "prices": (
        MetricPrice(metric_id="JOB", price_pence=1_000_00, payer_id="GM-POT"),
        MetricPrice(metric_id="SUSTAINED", price_pence=3_000_00, payer_id="NATIONAL"),
    ),
    "payers": (
        Payer(payer_id="GM-POT", cap_pence=2_000_00),
        Payer(payer_id="NATIONAL", cap_pence=9_000_00),
    ),
}


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
        payer_shares=request.payer_shares,
    )


async def test_a_two_payer_payment_is_split_capped_per_payer_and_advised_per_payer(
    database_url,
) -> None:
    async with harness(database_url, verification_sample_share=0.0) as outcomes:
        await outcomes.send(register(**TWO_PAYERS), *funded())
        await outcomes.send(evidence("B-1", claim(1), claim(2), claim(3), claim(4, "SUSTAINED")))
        (submitted,) = await outcomes.emitted(EvidenceSubmitted)
        (request,) = await outcomes.emitted(PaymentRequested)
        await outcomes.send(made(request))
        (advice,) = await outcomes.emitted(RemittanceAdvised)

    # The third JOB outcome would take the pot past its £2,000.00 cap: refused, naming the cap.
    assert [r.reason for r in submitted.rejections] == [
        "payer GM-POT has reached its cap of £2,000.00 in contract C-1"
    ]
    # Two JOB outcomes (£2,000.00) from the pot, one SUSTAINED (£3,000.00) from the fund.
    assert request.amount_pence == 5_000_00
    assert request.payer_shares == (
        PayerShare(payer_id="GM-POT", amount_pence=2_000_00),
        PayerShare(payer_id="NATIONAL", amount_pence=3_000_00),
    )
    assert advice.payer_shares == request.payer_shares


async def test_a_contract_without_payers_pays_without_a_split(database_url) -> None:
    async with harness(database_url, verification_sample_share=0.0) as outcomes:
        await outcomes.send(register(), *funded(), evidence("B-1", claim(1)))
        (request,) = await outcomes.emitted(PaymentRequested)

    assert (request.amount_pence, request.payer_shares) == (1_000_00, ())
