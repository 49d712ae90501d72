"""Real headless Chromium (Debian's /usr/bin/chromium, never `playwright install`) driven by
Playwright against the real gateway served on a free port; a screenshot of every page visited
goes to test-artifacts/screenshots/<test>.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
