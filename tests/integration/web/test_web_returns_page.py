"""The finance pages' returns page: the year's calendar with each notice's state, and the
contract payments that took longer than 30 days, from read-model rows written by hand."""

from __future__ import annotations

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.gateway.test_gateway_balance_agreement import STATEMENT
from tests.integration.gateway.test_gateway_balance_agreement import (
    write_read_models as write_balances,
)
from tests.integration.gateway.test_gateway_prompt_payment import write_read_models
from tests.integration.web.web_support import browser_client, sign_in, web_user

pytestmark = pytest.mark.integration


async def test_finance_staff_see_the_calendar_and_the_payments_later_than_30_days(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    await web_user(database_url, "fin", "finance@GM")
    await web_user(database_url, "dwp", "department@GM:DWP")
    async with browser_client(settings) as browser:
        await sign_in(browser, "fin")
        page = await browser.get("/places/GM/finance/returns?year=2026-27")
        finance_page = await browser.get("/places/GM/finance?year=2026-27")
    async with browser_client(settings) as other:
        await sign_in(other, "dwp")
        refused = await other.get("/places/GM/finance/returns")

    assert page.status_code == 200, page.text
    html = page.text
    # P-2: claim received 1 May, paid 15 June: 45 days; the only one over 30.
    assert 'id="late-P-2"' in html and 'id="late-P-1"' not in html
    assert "£30,000.00" in html
    for name in (
        "Transparency Code return",
        "Payments compliance notice",
        "Notice of payments over £30,000",
        "Partner returns",
    ):
        assert name in html
    assert "30 October 2026" in html  # H1's notice is due 30 days after 30 September
    assert refused.status_code == 403
    assert 'href="/places/GM/finance/returns?year=2026-27"' in finance_page.text
    assert 'id="disputes-none"' in html


async def test_the_returns_page_tracks_a_balance_dispute_to_resolution(
    settings, database_url
) -> None:
    await write_balances(database_url)
    await web_user(database_url, "fin", "finance@GM")
    dwp = bearer(await token_for(database_url, "dwp-gm", "department@GM:DWP"))
    finance = bearer(await token_for(database_url, "fin-api", "finance@GM"))
    async with client_for(settings, gateway_settings()) as client:
        lines = (await client.get(STATEMENT, headers=dwp)).json()["lines"]
        work = next(line for line in lines if line["funding_stream_code"] == "WORK")
        disputed = await client.post(
            f"{STATEMENT}/WORK/answer",
            json={"answer": "disputed", "figures_digest": work["figures_digest"],
                  "note": "We paid in £700,000"},
            headers={**dwp, "Idempotency-Key": "d-1"},
        )  # fmt: skip
        dispute_id = disputed.json()["made"]["answer_id"]
    async with browser_client(settings) as browser:
        await sign_in(browser, "fin")
        open_page = (await browser.get("/places/GM/finance/returns?year=2026-27")).text
    async with client_for(settings, gateway_settings()) as client:
        await client.post(
            f"/api/v1/places/GM/balance-disputes/{dispute_id}/notes",
            json={"note": "Receipt R-7 recorded", "resolves": True},
            headers={**finance, "Idempotency-Key": "n-1"},
        )
    async with browser_client(settings) as browser:
        await sign_in(browser, "fin")
        resolved_page = (await browser.get("/places/GM/finance/returns?year=2026-27")).text

    row = f'id="dispute-{dispute_id}"'
    assert row in open_page and "We paid in £700,000" in open_page
    assert "Open" in open_page.split(row)[1].split("</tr>")[0]
    assert "Resolved" in resolved_page.split(row)[1].split("</tr>")[0]
