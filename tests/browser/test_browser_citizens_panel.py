"""The Citizens' Panel in real headless Chromium against the real gateway: finance staff put a
member's question to the board from the citizens page, the chair publishes the board's answer
there, and anyone, without signing in, sees the question with its answer; the page has no axe
violation."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.browser.browser_support import axe_violations, browser_page, describe_violations
from tests.browser.browser_support import sign_in as browser_sign_in
from tests.browser.test_browser_accessibility import chromium
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import bearer, served, token_for
from tests.integration.web.web_support import PASSWORD, web_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"
QUESTION = "Why did job starts fall in Wigan?"
ANSWER = "Fewer referrals came from the jobcentre; we now share them monthly."


async def test_a_panel_question_is_put_answered_and_seen_by_anyone(settings, database_url) -> None:
    await web_user(database_url, "fin", "finance@GM")
    await web_user(database_url, "chair", "chair@GM")
    staff = await token_for(database_url, "fin-api", "finance@GM")
    async with served(settings) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            for key, path, body in (
                ("m1", "members", {"pseudonym": "Oak", "joined_on": "2026-01-05"}),
                ("g1", "meetings",
                 {"meeting_id": "M-1", "held_on": "2099-01-01", "agenda": "Employment"}),
            ):  # fmt: skip
                made = await client.post(
                    f"/api/v1/places/GM/citizens/panel/{path}",
                    json=body,
                    headers=bearer(staff, key),
                )
                assert made.status_code == 201, made.text
        async with browser_page(SCREENSHOTS, "citizens_panel_question") as page:
            await browser_sign_in(page, url, "fin", PASSWORD)
            await page.goto(f"{url}/places/GM/citizens")
            await page.get_by_label("Asked by").select_option("Oak")
            await page.get_by_label("Question").fill(QUESTION)
            await page.get_by_role("button", name="Put the question").click()
            await expect(page.locator("#panel-questions")).to_contain_text(QUESTION)
            await expect(page.locator("#panel-questions")).to_contain_text("Awaiting answer")
        async with browser_page(SCREENSHOTS, "citizens_panel_answer") as page:
            await browser_sign_in(page, url, "chair", PASSWORD)
            await page.goto(f"{url}/places/GM/citizens")
            await page.get_by_label("The board's answer").fill(ANSWER)
            await page.get_by_role("button", name="Publish the answer").click()
            await expect(page.locator("#panel-questions")).to_contain_text(ANSWER)
        async with browser_page(SCREENSHOTS, "citizens_public") as page:
            await page.goto(f"{url}/places/GM/citizens")
            questions = page.locator("#panel-questions")
            await expect(questions).to_contain_text(QUESTION)
            await expect(questions).to_contain_text(ANSWER)
            await expect(questions).to_contain_text("Answered")
            await expect(questions).to_contain_text("21 January 2099")
            await expect(page.get_by_role("button", name="Publish the answer")).to_have_count(0)
        # axe needs JavaScript: this page only turns it on (the journeys run without it).
        async with chromium() as browser:
            context = await browser.new_context(java_script_enabled=True)
            page = await context.new_page()
            await page.goto(f"{url}/places/GM/citizens")
            violations = await axe_violations(page)
            assert not violations, describe_violations("the citizens page", violations)
