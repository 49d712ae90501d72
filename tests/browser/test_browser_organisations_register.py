"""The organisations register's pages in real headless Chromium (JavaScript off): finance staff
register a provider from the list page's form, see it, correct its name on its own page, and a
number its register cannot have is refused beside the field."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.browser_support import browser_page, sign_in
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import served
from tests.integration.web.web_support import PASSWORD, web_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"


async def test_finance_staff_register_and_correct_an_organisation_in_a_browser(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with served(settings) as url, browser_page(SCREENSHOTS, "organisations") as page:
        await sign_in(page, url, "fin", PASSWORD)
        await page.goto(f"{url}/places/GM/organisations")
        await page.locator("#organisation_ref").fill("PROV-HUBS")
        await page.locator("#kind").select_option("provider")
        await page.locator("#name").fill("Salford Family Hubs Trust")
        await page.locator("#legal_form").select_option("charity")
        await page.locator("#org_id_scheme").select_option("GB-CHC")
        await page.locator("#org_id_identifier").fill("12-AB")
        await page.get_by_role("button", name="Register the organisation").click()
        await expect(page.locator("#org_id_identifier-error")).to_contain_text(
            "is not an identifier GB-CHC issues"
        )
        await page.locator("#org_id_identifier").fill("1234567")
        await page.locator("#is_vcse-yes").check()
        await page.get_by_role("button", name="Register the organisation").click()
        await expect(page.locator("#organisation")).to_contain_text("GB-CHC-1234567")
        await page.locator("#name").fill("Salford Family Hubs Charitable Trust")
        await page.get_by_role("button", name="Save the correction").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Salford Family Hubs Charitable Trust"
        )
        await page.goto(f"{url}/places/GM/organisations")
        await expect(page.locator("#organisations")).to_contain_text(
            "Salford Family Hubs Charitable Trust"
        )
