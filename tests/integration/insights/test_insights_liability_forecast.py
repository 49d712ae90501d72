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
