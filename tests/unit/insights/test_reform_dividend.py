"""The reform dividend on figures worked out by hand: outcomes paid valued by a unit-cost table
per contract, per mission and per beneficiary agency, with value per £1 paid."""

from __future__ import annotations

import pytest

from services.gateway.insights import domain
from services.gateway.insights.domain import OutcomesPaid, UnitCost

SOURCE = "illustrative, after the GMCA unit cost database's structure"
TABLE = [
    # A job outcome saves DWP £4,000 in benefits and HMRC gains £1,500 in tax.
    UnitCost("JOB", "DWP", 400_000, 900_000, SOURCE, "2024"),
    UnitCost("JOB", "HMRC", 150_000, 150_000, SOURCE, "2024"),
    # A person housed saves the council £2,000 and the NHS £500.
    UnitCost("HOUSED", "Council", 200_000, 300_000, SOURCE, "2024"),
    UnitCost("HOUSED", "NHS", 50_000, 50_000, SOURCE, "2024"),
]
PAID = [
    OutcomesPaid("OC-1", "M-WORK", "JOB", outcome_count=10, paid_pence=2_000_000),
    OutcomesPaid("OC-1", "M-WORK", "HOUSED", outcome_count=4, paid_pence=400_000),
    OutcomesPaid("OC-2", "M-HOME", "HOUSED", outcome_count=2, paid_pence=300_000),
    OutcomesPaid("OC-2", "M-HOME", "SKILLS", outcome_count=3, paid_pence=30_000),
]


def test_each_contract_shows_savings_by_agency_public_value_and_value_per_pound() -> None:
    result = domain.reform_dividend(PAID, TABLE)
    first, second = result["contracts"]  # type: ignore[misc]
    assert first["contract_id"] == "OC-1"
    assert first["outcomes_paid"] == {"HOUSED": 4, "JOB": 10}
    # DWP 10 × 4,000 = 40,000; HMRC 10 × 1,500 = 15,000; council 4 × 2,000; NHS 4 × 500.
    assert first["fiscal_savings_by_agency_pence"] == {
        "Council": 800_000,
        "DWP": 4_000_000,
        "HMRC": 1_500_000,
        "NHS": 200_000,
    }
    assert first["fiscal_savings_pence"] == 6_500_000
    # Public value 10 × (9,000 + 1,500) + 4 × (3,000 + 500) = 105,000 + 14,000 = £119,000.
    assert first["public_value_pence"] == 11_900_000
    # Paid £24,000: £119,000 / £24,000 = 4.958... → 4.96; savings £65,000 / £24,000 = 2.71.
    assert first["public_value_per_pound_paid"] == "4.96"
    assert first["fiscal_savings_per_pound_paid"] == "2.71"
    # OC-2: 2 housed = council 4,000 + NHS 1,000; SKILLS has no unit cost and is named.
    assert second["fiscal_savings_by_agency_pence"] == {"Council": 400_000, "NHS": 100_000}
    assert second["metrics_without_unit_costs"] == ["SKILLS"]
    assert second["public_value_per_pound_paid"] == "2.12"  # 7,000 / 3,300 = 2.1212


def test_the_place_and_each_mission_add_their_contracts_up() -> None:
    result = domain.reform_dividend(PAID, TABLE)
    place = result["place"]
    assert place["fiscal_savings_pence"] == 6_500_000 + 500_000  # type: ignore[index]
    assert place["paid_pence"] == 2_730_000  # type: ignore[index]
    assert [m["mission_id"] for m in result["missions"]] == ["M-HOME", "M-WORK"]  # type: ignore


def test_value_per_pound_is_none_when_nothing_was_paid() -> None:
    assert domain.value_per_pound(100, 0) is None
    assert domain.value_per_pound(285, 100) == "2.85"


def test_a_unit_cost_table_is_read_from_csv_rows_and_bad_rows_are_refused() -> None:
    good = {"metric_id": "JOB", "beneficiary_agency": "DWP", "fiscal_saving_pence": "400000",
            "public_value_pence": "900000", "source": SOURCE, "source_year": "2024"}  # fmt: skip
    assert domain.parse_unit_costs([good]) == [TABLE[0]]
    with pytest.raises(domain.UnitCostsRefused) as negative:
        domain.parse_unit_costs([{**good, "fiscal_saving_pence": "-5"}])
    assert negative.value.field == "row 1.fiscal_saving_pence"
    with pytest.raises(domain.UnitCostsRefused) as repeated:
        domain.parse_unit_costs([good, good])
    assert repeated.value.rule == "unique"
    with pytest.raises(domain.UnitCostsRefused) as unsourced:
        domain.parse_unit_costs([{**good, "source": " "}])
    assert unsourced.value.field == "row 1.source"


def test_the_demos_unit_cost_table_loads_and_says_its_figures_are_illustrative() -> None:
    from services.gateway.insights.unit_costs import table_of
    from singlepot.demo import DEMO_UNIT_COSTS

    table = table_of(DEMO_UNIT_COSTS)
    assert {unit.metric_id for unit in table} == {"JOB-START", "SUSTAINED-26-WEEKS"}
    assert all("Illustrative" in unit.source and "GMCA" in unit.source for unit in table)
