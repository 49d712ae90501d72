"""Real headless Chromium (Debian's /usr/bin/chromium, never `playwright install`) driven by
Playwright against the real gateway served on a free port; a screenshot of every page visited
goes to test-artifacts/screenshots/<test>.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def browser_page(screenshots: Path, test_name: str) -> AsyncIterator[Page]:
    """A fresh browser page; a full-page screenshot of wherever it ends is kept, pass or fail."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(java_script_enabled=False)
            page.set_default_timeout(20_000)
            try:
                yield page
            finally:
                # Playwright makes the screenshot's folder itself.
                await page.screenshot(path=screenshots / f"{test_name}.png", full_page=True)
        finally:
            await browser.close()


async def sign_in(page: Page, base_url: str, user_id: str, password: str) -> None:
    await page.goto(f"{base_url}/sign-in")
    await page.get_by_label("User ID").fill(user_id)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()
