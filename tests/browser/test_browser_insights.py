"""The insights pages in real headless Chromium against the real gateway: the accounting
officer opens the liability forecast (its chart, text alternative and table, the flagged
year), and anyone opens places compared without signing in; neither has an axe violation."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.browser_support import browser_page, sign_in
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import served
from tests.integration.insights.test_insights_places_compared import write_two_places
from tests.integration.web.web_support import PASSWORD, web_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"


async def test_the_accounting_officer_opens_the_forecast_and_anyone_the_comparison(
    settings, database_url
) -> None:
    await write_two_places(database_url)
    await web_user(database_url, "ao", "accounting_officer@GM")
    async with served(settings) as url:
        async with browser_page(SCREENSHOTS, "insights_forecast") as page:
            await sign_in(page, url, "ao", PASSWORD)
            await page.goto(f"{url}/places/GM/liability-forecast")
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Liability forecast of GM"
            )
            chart = page.locator("figure#liability-forecast")
            await expect(chart.get_by_role("img")).to_be_visible()
            await expect(chart.locator("desc")).to_contain_text("Maximum liabilities")
            await expect(page.locator("#liability-years")).to_contain_text("2027-28")
        async with browser_page(SCREENSHOTS, "insights_places_compared") as page:
            await page.goto(f"{url}/places-compared")
            await expect(page.get_by_role("heading", level=1)).to_have_text("Places compared")
            await expect(page.locator("#places-compared")).to_contain_text("WM")
            outcomes = page.locator("figure#outcomes-against-targets")
            await expect(outcomes.get_by_role("img")).to_be_visible()
            await expect(outcomes.locator("desc")).to_contain_text("against a target of 20")
