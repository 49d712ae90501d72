"""Provider concentration on figures worked out by hand: shares, the Herfindahl-Hirschman
index, legal forms, small or local providers' share, and the board's flag past the place's
threshold."""

from __future__ import annotations

from services.gateway.insights import domain
from services.gateway.insights.domain import Flow, ProviderFacts

REGISTER = {
    "BIG": ProviderFacts("company", is_sme=False, is_vcse=False),
    "LOCAL": ProviderFacts("charity", is_sme=True, is_vcse=True),
    # MUTUAL is not registered: its legal form is unknown and it is not counted small.
}
ALLOCATIONS = [
    Flow("BIG", "2026-27", 600_000),
    Flow("LOCAL", "2026-27", 300_000),
    Flow("MUTUAL", "2026-27", 100_000),
    Flow("BIG", "2027-28", 500_000),
]
PAYMENTS = [Flow("LOCAL", "2026-27", 50_000), Flow("BIG", "2026-27", 150_000)]


def test_hhi_is_the_sum_of_squared_percentage_shares() -> None:
    # Shares 60%, 30%, 10%: 3,600 + 900 + 100 = 4,600.
    assert domain.herfindahl_hirschman([600_000, 300_000, 100_000]) == 4_600
    assert domain.herfindahl_hirschman([5]) == 10_000
    assert domain.herfindahl_hirschman([]) == 0
    # Thirds: 3 × 33.33...² = 3,333.33 → 3,333.
    assert domain.herfindahl_hirschman([1, 1, 1]) == 3_333


def test_shares_by_provider_legal_form_and_small_or_local_with_the_boards_flags() -> None:
    result = domain.concentration(ALLOCATIONS, PAYMENTS, REGISTER, share_max_basis_points=5000)
    first, second = result["years"]  # type: ignore[misc]
    allocations = first["allocations"]
    assert allocations["total_pence"] == 1_000_000
    assert allocations["herfindahl_hirschman_index"] == 4_600
    assert [(p["provider_id"], p["share_basis_points"]) for p in allocations["providers"]] == [
        ("BIG", 6000),
        ("LOCAL", 3000),
        ("MUTUAL", 1000),
    ]
    assert [(f["legal_form"], f["amount_pence"]) for f in allocations["legal_forms"]] == [
        ("company", 600_000),
        ("charity", 300_000),
        ("unknown", 100_000),
    ]
    assert allocations["small_or_local_share_basis_points"] == 3000
    payments = first["payments"]
    # 150,000 of 200,000 = 75%, 50,000 = 25%: 5,625 + 625 = 6,250.
    assert payments["herfindahl_hirschman_index"] == 6_250
    assert payments["small_or_local_share_basis_points"] == 2500
    assert second["allocations"]["herfindahl_hirschman_index"] == 10_000
    assert second["payments"]["total_pence"] == 0
    assert result["flags"] == [
        {"financial_year": "2026-27", "measure": "allocations", "provider_id": "BIG",
         "share_basis_points": 6000},
        {"financial_year": "2026-27", "measure": "payments", "provider_id": "BIG",
         "share_basis_points": 7500},
        {"financial_year": "2027-28", "measure": "allocations", "provider_id": "BIG",
         "share_basis_points": 10000},
    ]  # fmt: skip


def test_a_share_exactly_at_the_threshold_is_not_flagged() -> None:
    assert domain.providers_over({"A": 1, "B": 1}, 5000) == {}
    assert domain.providers_over({"A": 2, "B": 1}, 5000) == {"A": 6667}
