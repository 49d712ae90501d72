"""Fixtures shared by the contracts tests: one valid example of the events they exercise."""

from datetime import UTC, datetime

import pytest

from contracts import AttributionShare, FinancialYearAmount, RecordSettlement, SpendRecorded


@pytest.fixture
def settlement() -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id="S-1",
        department_code="DWP",
        funding_stream_code="WORK-HEALTH",
        spending_review_period="SR2025",
        profile=(
            FinancialYearAmount(financial_year="2026-27", amount_pence=25_000_000),
            FinancialYearAmount(financial_year="2027-28", amount_pence=30_000_000),
        ),
    )


@pytest.fixture
def spend() -> SpendRecorded:
    return SpendRecorded(
        place_id="GM",
        spend_id="SP-1",
        payment_id="P-1",
        allocation_id="A-17",
        provider_id="PR-3",
        contract_id="C-9",
        amount_pence=1_000,
        payment_kind="outcome_payment",
        purpose="Sustained employment outcomes",
        financial_year="2026-27",
        attribution=(
            AttributionShare(department_code="DWP", funding_stream_code="WH", amount_pence=600),
            AttributionShare(department_code="DHSC", funding_stream_code="PH", amount_pence=400),
        ),
        transfer_id="T-1",
    )


@pytest.fixture
def moment() -> datetime:
    return datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
