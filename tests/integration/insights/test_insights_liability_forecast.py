"""The liability forecast over HTTP and in the board's papers, from read-model rows written by
hand (insights_support): per-year maximum and expected liabilities, the year nothing is settled
for, a proposal that would overcommit a year, the place's choice of test, and who may read."""

from __future__ import annotations

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.insights.insights_support import connect, write_place
from tests.integration.web.web_support import browser_client, sign_in, web_user

pytestmark = pytest.mark.integration

FORECAST = "/api/v1/places/GM/insights/liability-forecast?as_of=2026-06-01"
RULES = "/api/v1/places/GM/insights/rules"


async def test_the_forecast_gives_each_years_liabilities_and_flags_the_overcommitting_proposal(
    settings, database_url
) -> None:
    await write_place(database_url)
    board = bearer(await token_for(database_url, "member-gm", "board_member@GM"))
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    provider = bearer(await token_for(database_url, "prov-gm", "provider@GM:PROV-WW"))
    async with client_for(settings, gateway_settings()) as client:
        forecast = await client.get(FORECAST, headers=board)
        refused = [(await client.get(FORECAST, headers=h)).status_code for h in (provider, {})]
        bad_rule = await client.put(
            RULES,
            json={"liability_test": "sometimes", "provider_share_max_basis_points": 2500},
            headers=finance,
        )
        member_may_not_set = await client.put(
            RULES,
            json={"liability_test": "expected", "provider_share_max_basis_points": 2500},
            headers=board,
        )
        chosen = await client.put(
            RULES,
            json={"liability_test": "expected", "provider_share_max_basis_points": 3000},
            headers=finance,
        )
        on_expected = await client.get(FORECAST, headers=board)

    assert forecast.status_code == 200, forecast.text
    figures = forecast.json()
    years = {
        row["financial_year"]: (row["maximum_pence"], row["expected_pence"], row["cover_pence"])
        for row in figures["years"]
    }
    # OC-1 may pay 5,000,000 more (its metric caps: 3,500,000 + 1,500,000), split 1:2:1 by its
    # remaining planned periods; it achieved 50% of CP-1's plan, so it is expected to pay half
    # the plan. The grant's unpaid 1,000,000 falls 500,000 in each of its two years.
    assert years == {
        "2026-27": (1_250_000 + 500_000, 500_000 + 500_000, 10_000_000 - 2_000_000),
        "2027-28": (2_500_000 + 500_000, 1_000_000 + 500_000, 5_000_000),
        "2028-29": (1_250_000, 500_000, 0),
    }
    assert figures["flagged_years"] == ["2028-29"]
    assert figures["flagged_proposals"] == [
        {
            "allocation_id": "P-BIG",
            "status": "proposed",
            "value_pence": 4_000_000,
            "years": ["2027-28"],
            "shortfall_pence": {"2027-28": 2_000_000},  # 3,000,000 + 4,000,000 - 5,000,000
        }
    ]
    assert refused == [403, 401]
    assert bad_rule.status_code == 422 and "liability_test" in bad_rule.text
    assert member_may_not_set.status_code == 403
    assert chosen.status_code == 200, chosen.text
    again = on_expected.json()
    assert again["liability_test"] == "expected"
    # On the expected figures: 1,500,000 + 4,000,000 - 5,000,000.
    assert again["flagged_proposals"][0]["shortfall_pence"] == {"2027-28": 500_000}


async def test_the_board_papers_flag_a_proposal_reaching_a_year_with_nothing_settled(
    settings, database_url
) -> None:
    await write_place(database_url)
    connection = await connect(database_url)
    try:
        # Years no settlement reaches, whatever today is: every pound of it is over.
        await connection.execute(
            "INSERT INTO allocations (place_id, allocation_id, allocation_type, recipient_id,"
            " purpose, mission_id, start_date, end_date, value_pence, financial_year,"
            " proposed_by, status) VALUES ('GM', 'P-FAR', 'grant', 'PROV-X', 'later', 'M-1',"
            " '2060-04-01', '2061-03-31', 750000, '2060-61', 'fin', 'awaiting_sign_off')"
        )
    finally:
        await connection.close()
    await web_user(database_url, "ao-gm", "accounting_officer@GM")
    async with browser_client(settings) as client:
        await sign_in(client, "ao-gm")
        board = await client.get("/places/GM/board")
        forecast_page = await client.get("/places/GM/liability-forecast")

    assert board.status_code == 200, board.text
    assert "P-FAR (£7,500.00) would leave 2060-61 £7,500.00 over" in board.text
    assert forecast_page.status_code == 200, forecast_page.text
    assert 'role="img"' in forecast_page.text and "Maximum liabilities" in forecast_page.text
    assert "P-FAR" in forecast_page.text


async def test_provider_concentration_reads_allocations_payments_and_the_register(
    settings, database_url
) -> None:
    await write_place(database_url)
    connection = await connect(database_url)
    try:
        await connection.execute("UPDATE payments SET paid_at = '2026-09-01T10:00:00Z'")
        await connection.execute(
            "INSERT INTO organisations (place_id, organisation_ref, kind, name, legal_form,"
            " org_id_scheme, org_id_identifier, is_sme, is_vcse, registered_by) VALUES ('GM',"
            " 'PROV-JS', 'provider', 'Jobs Society', 'charity', 'GB-CHC', '1234567', true, true,"
            " 'test')"
        )
    finally:
        await connection.close()
    board = bearer(await token_for(database_url, "member-gm", "board_member@GM"))
    await web_user(database_url, "chair-gm", "chair@GM")
    async with client_for(settings, gateway_settings()) as client:
        answer = await client.get(
            "/api/v1/places/GM/insights/provider-concentration", headers=board
        )
    async with browser_client(settings) as client:
        await sign_in(client, "chair-gm")
        papers = await client.get("/places/GM/board")
        monitor = await client.get("/places/GM/provider-concentration")

    assert answer.status_code == 200, answer.text
    (year,) = answer.json()["years"]
    allocations, payments = year["allocations"], year["payments"]
    # Funded: PROV-WW 6,000,000 and PROV-JS 1,200,000 of 7,200,000 (P-BIG is only proposed).
    assert [(p["provider_id"], p["share_basis_points"]) for p in allocations["providers"]] == [
        ("PROV-WW", 8333),
        ("PROV-JS", 1667),
    ]
    # 83.33...² + 16.66...² = 6,944.4 + 277.8 = 7,222.2.
    assert allocations["herfindahl_hirschman_index"] == 7222
    assert allocations["legal_forms"][1] == {
        "legal_form": "charity",
        "amount_pence": 1_200_000,
        "share_basis_points": 1667,
    }
    assert allocations["small_or_local_pence"] == 1_200_000
    # Paid: 500,000 and 200,000 of 700,000: 71.43% and 28.57%; 5,102 + 816.3 = 5,918.4.
    assert payments["herfindahl_hirschman_index"] == 5918
    # The default threshold is 25%: PROV-WW in both, PROV-JS's 28.57% of payments too.
    assert [(f["measure"], f["provider_id"]) for f in answer.json()["flags"]] == [
        ("allocations", "PROV-WW"),
        ("payments", "PROV-JS"),
        ("payments", "PROV-WW"),
    ]
    assert "PROV-WW holds 83.33% of the allocations in 2026-27" in papers.text
    assert monitor.status_code == 200, monitor.text
    assert 'id="provider-concentration"' in monitor.text and "HHI 7222" in monitor.text
