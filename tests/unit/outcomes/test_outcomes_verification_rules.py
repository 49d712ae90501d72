"""Each verification rule on a batch with a failed sample, with the figures worked by hand.

The batch: ten accepted claims at £100.00 each (£1,000.00); the verifier sampled four of them
(£400.00) and failed one (£100.00), an error rate of 1 in 4 (25%)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts.outcomes import MetricPrice, RegisterOutcomesContract
from services.outcomes import domain

ONE_FAILED_OF_FOUR = domain.FailedSample(
    accepted_count=10,
    accepted_pence=1_000_00,
    sample_size=4,
    sample_pence=400_00,
    failed_count=1,
    failed_pence=100_00,
)
SAMPLE_FIGURES = {
    "accepted_count": 10,
    "accepted_pence": 1_000_00,
    "sample_size": 4,
    "sample_pence": 400_00,
    "failed_count": 1,
    "failed_pence": 100_00,
    "error_rate_basis_points": 2500,
}


def test_pay_remainder_pays_every_claim_but_the_failed_one() -> None:
    outcome = domain.apply_verification_rule("pay_remainder", None, ONE_FAILED_OF_FOUR)
    assert outcome is not None
    # £1,000.00 less the failed £100.00.
    assert (outcome.decision, outcome.payable_pence) == ("paid", 900_00)
    assert outcome.figures == SAMPLE_FIGURES | {"payable_pence": 900_00}
    assert outcome.reason == (
        "1 failed claim(s) worth £100.00 refused; the failed claims are left out; £900.00 is paid"
    )


def test_extrapolate_error_rate_reduces_the_unsampled_claims_by_the_sample_error_rate() -> None:
    outcome = domain.apply_verification_rule("extrapolate_error_rate", None, ONE_FAILED_OF_FOUR)
    assert outcome is not None
    # Sample: £400.00 less the failed £100.00 = £300.00 paid. Unsampled: six claims, £600.00,
    # reduced by 25% = £150.00, so £450.00. Payable £750.00.
    assert (outcome.decision, outcome.payable_pence) == ("paid", 750_00)
    assert outcome.figures == SAMPLE_FIGURES | {
        "unsampled_pence": 600_00,
        "extrapolated_reduction_pence": 150_00,
        "payable_pence": 750_00,
    }
    assert "the £600.00 of unsampled claims is reduced by £150.00" in outcome.reason


def test_an_extrapolated_reduction_is_rounded_up_to_the_penny() -> None:
    # Unsampled £100.00 at an error rate of 1 in 3: £33.333… is rounded up to £33.34.
    sample = domain.FailedSample(
        accepted_count=4,
        accepted_pence=160_00,
        sample_size=3,
        sample_pence=60_00,
        failed_count=1,
        failed_pence=20_00,
    )
    outcome = domain.apply_verification_rule("extrapolate_error_rate", None, sample)
    assert outcome is not None
    assert outcome.figures["extrapolated_reduction_pence"] == 33_34
    # £60.00 − £20.00 + £100.00 − £33.34 = £106.66.
    assert outcome.payable_pence == 106_66


def test_reject_above_threshold_rejects_a_batch_whose_error_rate_is_above_it() -> None:
    outcome = domain.apply_verification_rule("reject_above_threshold", 2000, ONE_FAILED_OF_FOUR)
    assert outcome is not None
    # 25% is above 20%: nothing is paid.
    assert (outcome.decision, outcome.payable_pence) == ("rejected", 0)
    assert outcome.figures == SAMPLE_FIGURES | {"threshold_basis_points": 2000, "payable_pence": 0}
    assert outcome.reason == (
        "1 of 4 sampled claims failed, above the contract's threshold of 20%: the batch is "
        "rejected and nothing is paid"
    )


def test_reject_above_threshold_pays_the_remainder_at_the_threshold() -> None:
    outcome = domain.apply_verification_rule("reject_above_threshold", 2500, ONE_FAILED_OF_FOUR)
    assert outcome is not None
    # 25% is not above 25%: the remainder, £900.00, is paid.
    assert (outcome.decision, outcome.payable_pence) == ("paid", 900_00)
    assert outcome.figures["threshold_basis_points"] == 2500
    assert "within the contract's threshold of 25%" in outcome.reason


def test_hold_leaves_the_batch_to_a_person() -> None:
    assert domain.apply_verification_rule("hold", None, ONE_FAILED_OF_FOUR) is None


def contract_terms(**changes: object) -> dict[str, object]:
    return {
        "place_id": "GM",
        "contract_id": "C-1",
        "allocation_id": "A-1",
        "provider_id": "P-1",
        "prices": (MetricPrice(metric_id="M-1", price_pence=100_00),),
        "cap_pence": 1_000_000_00,
    } | changes


def test_a_contract_states_its_verification_rule_and_holds_by_default() -> None:
    assert RegisterOutcomesContract(**contract_terms()).verification_rule == "hold"  # type: ignore[arg-type]
    stated = RegisterOutcomesContract(
        **contract_terms(  # type: ignore[arg-type]
            verification_rule="reject_above_threshold", error_rate_threshold_basis_points=1000
        )
    )
    assert stated.error_rate_threshold_basis_points == 1000


@pytest.mark.parametrize(
    "changes",
    [
        {"verification_rule": "reject_above_threshold"},
        {"verification_rule": "pay_remainder", "error_rate_threshold_basis_points": 1000},
    ],
)
def test_a_threshold_comes_with_reject_above_threshold_and_only_with_it(
    changes: dict[str, object],
) -> None:
    with pytest.raises(ValidationError, match="error_rate_threshold_basis_points is required"):
        RegisterOutcomesContract(**contract_terms(**changes))  # type: ignore[arg-type]


# --- Payers' shares ---------------------------------------------------------------------------


def test_a_payment_is_split_by_the_payer_of_each_claims_metric() -> None:
    # £2,000.00 of the place pot's metric and £3,000.00 of the national fund's, paid in full.
    claimed = {"GM-POT": 2_000_00, "NATIONAL": 3_000_00}
    assert domain.split_by_payer(claimed, 5_000_00) == (
        ("GM-POT", 2_000_00),
        ("NATIONAL", 3_000_00),
    )


def test_a_reduced_payment_is_split_pro_rata_to_the_penny() -> None:
    # £1.00 paid of £3.00 claimed (1 : 2) is 33⅓p and 66⅔p; the spare penny goes to the
    # larger remainder, NATIONAL.
    assert domain.split_by_payer({"GM-POT": 100, "NATIONAL": 200}, 100) == (
        ("GM-POT", 33),
        ("NATIONAL", 67),
    )


def test_a_payment_is_not_split_when_a_metric_names_no_payer() -> None:
    assert domain.split_by_payer({"GM-POT": 100, None: 200}, 300) == ()
    assert domain.split_by_payer({}, 300) == ()
