"""Real headless Chromium (Debian's /usr/bin/chromium, never `playwright install`) driven by
Playwright against the real gateway served on a free port; a screenshot of every page visited
goes to test-artifacts/screenshots/<test>.png.

One Chromium serves every browser test (tests/browser/conftest.py starts it; Playwright's
driver and Chromium take seconds to start), and each page opens in a browser context of its
own: its own cookies, storage and cache, as in a freshly started browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

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


_running: list[Browser] = []


@asynccontextmanager
async def chromium_for_the_tests() -> AsyncIterator[Browser]:
    """Start the Chromium the browser tests share, until the context manager ends."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _running.append(browser)
        try:
            yield browser
        finally:
            _running.remove(browser)
            await browser.close()


@asynccontextmanager
async def browser_context(**options: Any) -> AsyncIterator[BrowserContext]:
    """A context of its own in the shared Chromium (nothing shared with any other), closed
    with every page in it at the end."""
    assert _running, "no Chromium: tests/browser/conftest.py starts it for tests/browser"
    context = await _running[-1].new_context(**options)
    try:
        yield context
    finally:
        await context.close()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """The shared Chromium, for a test that opens contexts of its own: those still open at the
    end are closed, so that the next test starts with none."""
    assert _running, "no Chromium: tests/browser/conftest.py starts it for tests/browser"
    browser = _running[-1]
    already_open = set(browser.contexts)
    try:
        yield browser
    finally:
        for context in browser.contexts:
            if context not in already_open:
                await context.close()


@asynccontextmanager
async def browser_page(screenshots: Path, test_name: str) -> AsyncIterator[Page]:
    """A fresh browser page; a full-page screenshot of wherever it ends is kept, pass or fail."""
    async with browser_context(java_script_enabled=False) as context:
        page = await context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            # Playwright makes the screenshot's folder itself.
            await page.screenshot(path=screenshots / f"{test_name}.png", full_page=True)


async def sign_in(page: Page, base_url: str, user_id: str, password: str) -> None:
    await page.goto(f"{base_url}/sign-in")
    await page.get_by_label("User ID").fill(user_id)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()


# --- Automated accessibility checks (axe-core, installed by `make setup`'s `npm ci`) ----------

AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA: what UK public sector bodies must meet.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it stands (its context needs JavaScript on) and return the
    violations of the WCAG A/AA rules."""
    # Evaluated rather than added as a <script> tag: the pages' Content-Security-Policy
    # refuses inline scripts, and a test tool must not need the policy loosened.
    await page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    return list(result["violations"])


def describe_violations(where: str, violations: list[dict[str, Any]]) -> str:
    """Each violation's id, help and the nodes it was found on, for a failing assertion."""
    lines = [f"{where}: {len(violations)} accessibility violation(s)"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(node['target'])}: {node['html'][:200]}")
            if node.get("failureSummary"):
                lines.append(f"      {node['failureSummary'].replace(chr(10), ' ')}")
    return "\n".join(lines)
