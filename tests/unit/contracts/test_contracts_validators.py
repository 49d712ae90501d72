"""Tests of the rules the event models enforce, each with an error naming the rule."""

from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import (
    AllocationVaried,
    AttributionShare,
    EvidenceClaim,
    EvidenceSubmitted,
    FinancialYear,
    FinancialYearAmount,
    MetricPrice,
    PaymentRequested,
    ProposeAllocation,
    RecordSettlement,
    RegisterOutcomesContract,
    SpendRecorded,
    TransferLeg,
    TransferPosted,
    VirementRequested,
)

financial_year = TypeAdapter(FinancialYear)


def transfer(*legs: TransferLeg) -> TransferPosted:
    return TransferPosted(
        place_id="GM",
        transfer_id="T-1",
        financial_year="2026-27",
        legs=legs,
        iati_transaction_type=3,
        department_code=None,
        funding_stream_code=None,
        allocation_id="A-17",
        contract_id=None,
        claim_id=None,
        description="Grant instalment",
        sequence=1,
        previous_hash="0" * 64,
        chain_hash="a" * 64,
    )


def leg(direction: Any, amount_pence: int) -> TransferLeg:
    account = f"{direction}-account"
    return TransferLeg(account=account, direction=direction, amount_pence=amount_pence)


def proposal(**changes: Any) -> ProposeAllocation:
    fields: dict[str, Any] = {
        "place_id": "GM",
        "allocation_id": "A-17",
        "allocation_type": "grant",
        "recipient_id": "PR-3",
        "purpose": "Early help for families",
        "mission_id": "M-1",
        "start_date": date(2026, 4, 1),
        "end_date": date(2029, 3, 31),
        "value_pence": 150_000_000,
        "financial_year": "2026-27",
        "proposed_by": "finance-officer-1",
    }
    return ProposeAllocation(**(fields | changes))


def test_financial_year_accepts_consecutive_years() -> None:
    assert financial_year.validate_python("2026-27") == "2026-27"


def test_financial_year_accepts_the_turn_of_a_century() -> None:
    assert financial_year.validate_python("2099-00") == "2099-00"


def test_financial_year_refuses_years_that_do_not_follow_on() -> None:
    with pytest.raises(ValidationError, match="must end with the next year: 2026-27"):
        financial_year.validate_python("2026-28")


@pytest.mark.parametrize("written", ["2026/27", "2026-2027", "26-27", ""])
def test_financial_year_refuses_other_formats(written: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        financial_year.validate_python(written)


def test_a_balanced_transfer_is_accepted() -> None:
    assert len(transfer(leg("debit", 500), leg("credit", 300), leg("credit", 200)).legs) == 3


def test_a_transfer_whose_debits_and_credits_differ_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"debits \(500 pence\) must equal credits \(499"):
        transfer(leg("debit", 500), leg("credit", 499))


def test_a_transfer_needs_at_least_two_legs() -> None:
    with pytest.raises(ValidationError, match="at least 2 items"):
        transfer(leg("debit", 500))


def test_spend_whose_attribution_does_not_add_up_is_refused(spend: SpendRecorded) -> None:
    fields = spend.model_dump() | {"amount_pence": 1_001}
    with pytest.raises(ValidationError, match="add up to 1000 pence but amount_pence is 1001"):
        SpendRecorded(**fields)


def test_spend_whose_attribution_adds_up_exactly_is_accepted(spend: SpendRecorded) -> None:
    assert sum(share.amount_pence for share in spend.attribution) == spend.amount_pence


def test_an_allocation_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match=r"end_date \(2026-04-01\) must be after start_date"):
        proposal(end_date=date(2026, 4, 1))


def test_an_allocation_must_be_worth_something() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        proposal(value_pence=0)


def test_a_settlement_needs_a_profile() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        RecordSettlement(
            place_id="GM",
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WH",
            spending_review_period="SR2025",
            profile=(),
        )


def test_a_settlement_profile_lists_each_year_once(settlement: RecordSettlement) -> None:
    year = FinancialYearAmount(financial_year="2026-27", amount_pence=1)
    with pytest.raises(ValidationError, match="more than once: 2026-27"):
        settlement.model_validate(settlement.model_dump() | {"profile": (year, year)})


def test_a_settlement_totals_its_profile(settlement: RecordSettlement) -> None:
    assert settlement.total_pence == 55_000_000


def test_total_pence_is_not_part_of_the_payload(settlement: RecordSettlement) -> None:
    assert "total_pence" not in settlement.model_dump()


def test_an_outcome_payment_names_its_contract_and_evidence_batch() -> None:
    with pytest.raises(ValidationError, match="needs both contract_id and claim_batch_id"):
        PaymentRequested(
            place_id="GM",
            payment_id="P-1",
            allocation_id="A-17",
            provider_id="PR-3",
            amount_pence=900,
            payment_kind="outcome_payment",
            purpose="Outcome payment",
        )


def test_a_virement_moves_money_between_different_streams() -> None:
    with pytest.raises(ValidationError, match="two different funding streams"):
        VirementRequested(
            place_id="GM",
            virement_id="V-1",
            financial_year="2026-27",
            from_funding_stream_code="WH",
            to_funding_stream_code="WH",
            amount_pence=100,
            approval_reference="PSRB-2026-04",
        )


def test_a_variation_up_must_raise_the_value() -> None:
    with pytest.raises(ValidationError, match="value_up needs new_value_pence"):
        AllocationVaried(
            place_id="GM",
            allocation_id="A-17",
            change="value_up",
            reason="More referrals",
            previous_value_pence=1_000,
            new_value_pence=900,
            new_end_date=None,
            new_purpose=None,
        )


def test_an_outcomes_contract_prices_each_metric_once() -> None:
    price = MetricPrice(metric_id="JOB-13W", price_pence=150_000)
    with pytest.raises(ValidationError, match="more than once: JOB-13W"):
        RegisterOutcomesContract(
            place_id="GM",
            contract_id="C-9",
            allocation_id="A-17",
            provider_id="PR-3",
            prices=(price, price),
            cap_pence=10_000_000,
        )


def test_evidence_identifies_participants_by_hash_never_by_name() -> None:
    with pytest.raises(ValidationError, match="participant_hash"):
        EvidenceClaim(
            participant_hash="Jane Smith",
            metric_id="JOB-13W",
            achieved_on=date(2026, 7, 1),
            evidence_reference="payroll/123",
        )


def test_evidence_counts_must_add_up() -> None:
    with pytest.raises(ValidationError, match=r"must equal claim_count \(10\)"):
        EvidenceSubmitted(
            place_id="GM",
            contract_id="C-9",
            batch_id="B-1",
            provider_id="PR-3",
            claim_count=10,
            accepted_count=7,
            rejected_count=2,
        )


def test_an_attribution_share_refuses_float_pence() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        AttributionShare.model_validate(
            {"department_code": "DWP", "funding_stream_code": "WH", "amount_pence": 1.0}
        )
