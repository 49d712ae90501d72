"""The liability forecast on a place whose figures are worked out by hand below: one outcomes
contract with caps and claim periods, one grant, a pot settled for two years, and proposals
that would (or would not) push a year past what is settled."""

from __future__ import annotations

from datetime import date

import pytest

from services.gateway.insights import domain
from services.gateway.insights.domain import (
    ClaimPeriodPlan,
    Commitment,
    ContractTerms,
    MetricTerms,
    YearFunding,
)

AS_OF = date(2026, 6, 1)  # financial year 2026-27

CONTRACT = ContractTerms(
    contract_id="OC-1",
    cap_pence=6_000_000,
    paid_pence=500_000,
    metrics=(
        MetricTerms("JOB", cap_pence=4_000_000, payer_id="DWP", paid_pence=500_000),
        MetricTerms("HOUSED", cap_pence=1_500_000, payer_id="MHCLG", paid_pence=0),
    ),
    # MHCLG has no cap, so the payer caps do not bound the whole contract.
    payer_caps=(("DWP", 5_000_000), ("MHCLG", None)),
    periods=(
        ClaimPeriodPlan("CP-1", date(2026, 5, 31), 1_000_000, 500_000),  # already due
        ClaimPeriodPlan("CP-2", date(2026, 12, 31), 1_000_000),
        ClaimPeriodPlan("CP-3", date(2027, 6, 30), 2_000_000),
        ClaimPeriodPlan("CP-4", date(2028, 6, 30), 1_000_000),
    ),
    start_date=date(2026, 4, 1),
    end_date=date(2029, 3, 31),
)


def commitment(allocation_id: str, status: str, value: int, paid: int, start: date, end: date,
               contract: ContractTerms | None = None) -> Commitment:  # fmt: skip
    kind = "outcomes_contract" if contract else "grant"
    return Commitment(allocation_id, kind, "PROV-1", status, value, paid, start, end, contract)


FUNDED = [
    commitment("A-OC", "funded", 6_000_000, 500_000, date(2026, 4, 1), date(2029, 3, 31), CONTRACT),
    commitment("A-GRANT", "funded", 1_200_000, 200_000, date(2026, 4, 1), date(2028, 3, 31)),
    commitment("A-OLD", "rejected", 9_000_000, 0, date(2026, 4, 1), date(2030, 3, 31)),
]
FUNDING = [
    YearFunding("2025-26", settled_pence=99_000_000),  # a past year is not forecast
    YearFunding("2026-27", 10_000_000, received_pence=6_000_000, paid_pence=2_000_000,
                available_pence=3_000_000),
    YearFunding("2027-28", 5_000_000, available_pence=5_000_000),
]  # fmt: skip


def test_the_contract_may_pay_its_tightest_cap_profiled_by_its_planned_claim_periods() -> None:
    # Contract cap 6,000,000 - 500,000 paid = 5,500,000; metric caps (4,000,000 - 500,000)
    # + 1,500,000 = 5,000,000 (the least); payer caps are not all set, so they do not bound it.
    assert domain.headroom(CONTRACT) == 5_000_000
    profile = domain.contract_profile(FUNDED[0], AS_OF)
    # Remaining planned: 1,000,000 (2026-27), 2,000,000 (2027-28), 1,000,000 (2028-29): 1:2:1.
    assert profile.maximum == {"2026-27": 1_250_000, "2027-28": 2_500_000, "2028-29": 1_250_000}
    # Achieved rate: 500,000 paid of 1,000,000 planned for CP-1 = 50%.
    assert profile.expected == {"2026-27": 500_000, "2027-28": 1_000_000, "2028-29": 500_000}
    assert "achieved rate" in profile.method


def test_each_year_shows_maximum_expected_and_grants_against_its_cover() -> None:
    result = domain.forecast(FUNDED, FUNDING, AS_OF)
    rows = {
        row.financial_year: (
            row.maximum_pence,
            row.expected_pence,
            row.grants_due_pence,
            row.cover_pence,
            row.to_receive_pence,
            row.uncommitted_pence,
            row.flagged,
        )
        for row in result.years
    }
    assert rows == {
        # The grant's unpaid 1,000,000 falls 500,000 in each of its two years.
        "2026-27": (1_750_000, 1_000_000, 500_000, 8_000_000, 4_000_000, 3_000_000, False),
        "2027-28": (3_000_000, 1_500_000, 500_000, 5_000_000, 5_000_000, 5_000_000, False),
        # Nothing is settled for 2028-29, yet the contract may pay 1,250,000 in it.
        "2028-29": (1_250_000, 500_000, 0, 0, 0, 0, True),
    }
    assert result.flagged_years == ["2028-29"]


def test_a_proposal_that_overcommits_a_year_is_flagged_and_one_that_fits_is_not() -> None:
    proposals = [
        commitment("P-BIG", "proposed", 4_000_000, 0, date(2027, 4, 1), date(2028, 3, 31)),
        commitment("P-SMALL", "awaiting_sign_off", 1_000_000, 0, date(2026, 7, 1),
                   date(2027, 3, 31)),
    ]  # fmt: skip
    flags = domain.proposal_flags(FUNDED + proposals, FUNDING, AS_OF)
    # 2027-28: 3,000,000 committed + 4,000,000 proposed = 7,000,000 against 5,000,000 settled.
    assert [(f.allocation_id, f.years, f.shortfall_pence) for f in flags] == [
        ("P-BIG", ("2027-28",), {"2027-28": 2_000_000})
    ]
    # On the expected figures: 1,500,000 + 4,000,000 = 5,500,000, still 500,000 over.
    expected = domain.proposal_flags(FUNDED + proposals, FUNDING, AS_OF, "expected")
    assert [(f.allocation_id, f.shortfall_pence) for f in expected] == [
        ("P-BIG", {"2027-28": 500_000})
    ]
    assert domain.proposal_flags(FUNDED + proposals, FUNDING, AS_OF, "off") == []


def test_a_contract_without_claim_periods_spreads_its_headroom_over_its_remaining_years() -> None:
    bare = ContractTerms("OC-2", cap_pence=900_000, paid_pence=0, end_date=date(2029, 3, 31))
    unplanned = commitment("A-2", "funded", 900_000, 0, date(2026, 4, 1), date(2029, 3, 31), bare)
    profile = domain.contract_profile(unplanned, AS_OF)
    assert profile.maximum == {"2026-27": 300_000, "2027-28": 300_000, "2028-29": 300_000}
    assert profile.expected == profile.maximum


def test_splits_add_up_exactly() -> None:
    assert domain.split(100, [1, 1, 1]) == [34, 33, 33]
    assert domain.split(0, [1, 2]) == [0, 0]


@pytest.mark.parametrize(("test", "share"), [("sometimes", 2500), ("maximum", 0)])
def test_place_rules_out_of_range_are_refused_naming_the_field(test: str, share: int) -> None:
    with pytest.raises(domain.RulesRefused) as refused:
        domain.check_rules(test, share)
    assert refused.value.field in ("liability_test", "provider_share_max_basis_points")
