"""The views as JSON endpoints of the real gateway: each answers the roles that may read it with
the view's figures, and refuses (403) every other caller."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.integration.gateway.test_gateway_views import STORY, envelopes, feed_batch

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GM = "/api/v1/places/GM"
ENDPOINTS = {
    "pot": f"{GM}/pot/overview",
    "pot_year": f"{GM}/pot/overview?financial_year=2025-26",
    "spend_monthly": f"{GM}/spend/monthly",
    "spend_monthly_dwp": f"{GM}/spend/monthly?department_code=DWP",
    "board": f"{GM}/board/proposals",
    "decisions": f"{GM}/decisions",
    "claims": f"{GM}/claims",
    "provider_a": f"{GM}/providers/PROV-A/overview",
    "provider_b": f"{GM}/providers/PROV-B/overview",
    "queue": f"{GM}/verification-queue",
    "spend_dwp": f"{GM}/departments/DWP/spend",
    "spend_dhsc": f"{GM}/departments/DHSC/spend",
    "targets": f"{GM}/outcomes-contracts/C-1/targets",
    "funnel": f"{GM}/outcomes-contracts/C-1/funnel",
}
EVERYTHING = set(ENDPOINTS)
PLACE_READS = {"pot", "pot_year", "spend_monthly", "spend_monthly_dwp", "board", "decisions"}
PLACE_READS |= {"claims", "provider_a", "provider_b", "targets", "funnel"}

# Who holds what, and exactly which endpoints each may read; everything else must be 403.
ROLES: dict[str, tuple[str, set[str]]] = {
    "finance": ("finance@GM", PLACE_READS | {"queue"}),
    "other_place_finance": ("finance@WM", set()),
    "board_member": ("board_member@GM", PLACE_READS),
    "accounting_officer": ("accounting_officer@GM", PLACE_READS),
    "provider": ("provider@GM:PROV-A", {"provider_a", "targets", "funnel"}),
    "verifier": ("verifier@GM", {"queue", "provider_a", "provider_b", "targets", "funnel"}),
    "department": ("department:DWP", {"spend_dwp", "spend_monthly_dwp"}),
    "auditor": ("auditor", EVERYTHING),
    # Claims are the board's and finance's business: the API and the claims page agree.
    "public": ("public@GM", {"pot", "pot_year", "decisions"}),
}


async def _feed(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert pool is not None
    try:
        await feed_batch(pool, envelopes(STORY))
    finally:
        await pool.close()


async def test_each_view_endpoint_answers_exactly_the_roles_that_may_read_it(
    settings, database_url
) -> None:
    await _feed(database_url)
    tokens = {
        role: await token_for(database_url, f"user-{role}", grant)
        for role, (grant, _) in ROLES.items()
    }
    mismatches = []
    async with client_for(settings) as client:
        for role, (_, allowed) in ROLES.items():
            for name, path in ENDPOINTS.items():
                response = await client.get(path, headers=bearer(tokens[role]))
                expected = 200 if name in allowed else 403
                if response.status_code != expected:
                    mismatches.append((role, name, response.status_code, response.text[:200]))
        anonymous = await client.get(ENDPOINTS["decisions"])
    assert mismatches == []
    assert anonymous.status_code == 401


async def test_the_endpoints_return_the_views_figures(settings, database_url) -> None:
    await _feed(database_url)
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    async with client_for(settings) as client:
        bodies = {
            name: (await client.get(path, headers=auditor)).json()
            for name, path in ENDPOINTS.items()
        }
        bad_year = await client.get(f"{GM}/pot/overview?financial_year=2026", headers=auditor)
    assert bodies["pot"]["totals"]["settled_pence"] == 1_500_000
    assert bodies["pot_year"]["financial_year"] == "2025-26"
    # June: DWP's 6,000 share of P-3, less its 6,000 of the recovery RC-1 (net of recoveries).
    assert [row["spent_pence"] for row in bodies["spend_monthly_dwp"]["months"]] == [30_000, 0]
    assert {row["allocation_id"] for row in bodies["board"]["proposals"]} == {"A-1", "A-2", "A-3"}
    assert [row["allocation_id"] for row in bodies["decisions"]["decisions"]] == ["A-3", "A-1"]
    assert bodies["provider_a"]["statement"]["net_pence"] == 40_000
    assert bodies["provider_b"]["contracts"] == []
    assert [row["batch_id"] for row in bodies["queue"]["batches"]] == ["B-1"]
    assert [row["department_amount_pence"] for row in bodies["spend_dwp"]["spend"]] == [
        30_000,
        6_000,
        -6_000,
    ]
    assert bodies["targets"]["metrics"][0]["achieved_count"] == 2
    assert bodies["funnel"]["segments"][-1] == {
        "segment": "all",
        "referred": 10,
        "engaged": 6,
        "achieved": None,
        "paid": 3,
    }
    assert len(bodies["claims"]["claims"]) == 3
    assert bad_year.status_code == 422
