"""The finance pages' returns page: the year's calendar with each notice's state, and the
contract payments that took longer than 30 days, from read-model rows written by hand."""

from __future__ import annotations

import pytest

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
