"""The Content-Security-Policy in real headless Chromium with JavaScript on: /docs renders
Swagger UI from the gateway's own assets and no page or asset is blocked by the policy."""

from __future__ import annotations

import pytest

from tests.browser.browser_support import browser_context
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import served

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


async def test_swagger_ui_and_the_pages_run_under_the_policy_with_nothing_blocked(
    settings,
) -> None:
    async with served(settings) as base_url, browser_context() as context:
        page = await context.new_page()
        page.set_default_timeout(20_000)
        blocked: list[str] = []
        page.on(
            "console",
            lambda message: (
                blocked.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        await page.goto(f"{base_url}/docs")
        await page.wait_for_selector(".swagger-ui .info .title")
        title = await page.inner_text(".swagger-ui .info .title")
        await page.screenshot(path=ARTIFACTS / "screenshots" / "docs.png", full_page=True)
        await page.goto(f"{base_url}/sign-in")
        marked = await page.evaluate("document.body.className")
    assert "singlepot gateway" in title
    assert "govuk-frontend-supported" in marked  # GOV.UK's allowed inline marker ran
    assert blocked == []
