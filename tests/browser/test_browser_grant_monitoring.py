"""Grant monitoring in real Chromium against the real gateway, allocations service and ledger:
a recipient sends a quarterly report and a claim from its grants page, programme staff pass the
claim on, and finance approve it on the monitoring page; the claim is paid."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from contracts import topics
from singlepot.system import service_definition
from tests.browser.browser_support import browser_page, sign_in
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import served
from tests.integration.monitoring.monitoring_support import (
    MEASURES,
    PLACE,
    QUARTERLY_REPORTS,
    RECIPIENT,
    funded_grant,
    people,
)
from tests.integration.web.web_support import PASSWORD, web_user
from tests.support.kafka import TopicReader, running

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Sign out").click()


async def test_a_recipient_reports_and_claims_and_finance_approves_the_claim(
    settings, database_url
) -> None:
    who = await people(database_url)
    await web_user(database_url, "hubs-web", f"provider@{PLACE}:{RECIPIENT}")
    await web_user(database_url, "fin-web", f"finance@{PLACE}")
    grants_page = f"/places/{PLACE}/grants/{RECIPIENT}"
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE) as reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        served(settings) as url,
        browser_page(SCREENSHOTS, "grant_monitoring_report_claim_approval") as page,
    ):
        await funded_grant(
            settings, database_url, reader, "G-ARREARS", 60_000_00, instalments=False
        )
        async with httpx.AsyncClient(base_url=url) as api:
            plan = await api.put(
                f"/api/v1/places/{PLACE}/allocations/G-ARREARS/monitoring",
                json={"measures": MEASURES, "schedule": QUARTERLY_REPORTS, "paid_in_arrears": True},
                headers=who.headers("programme"),
            )
            assert plan.status_code == 200, plan.text

            await sign_in(page, url, "hubs-web", PASSWORD)
            await page.goto(f"{url}{grants_page}")
            await page.get_by_label("Families supported (target 400)").fill("96")
            await page.get_by_label("Family hubs open (target 6)").fill("2")
            await page.get_by_label("How the work went").fill("Two hubs open; 96 families seen.")
            await page.get_by_label("Attachments").fill("doc://hubs/q1-return.pdf")
            await page.get_by_role("button", name="Send report 1").click()
            banner = page.locator("#command-outcome")
            await expect(banner).to_contain_text("Your report was sent.")
            await expect(page.locator("#report-G-ARREARS-1")).to_contain_text(
                "Received, waiting for review"
            )

            await expect(page.locator("#remaining-G-ARREARS")).to_contain_text("£60,000.00")
            await page.get_by_label("Claim reference").fill("CL-1")
            await page.get_by_label("Amount claimed").fill("12,000.00")
            await page.get_by_label("Evidence of spend").fill("Invoices INV-101 to INV-118")
            await page.get_by_role("button", name="Send claim").click()
            await expect(banner).to_contain_text("Your claim was sent.")
            await expect(page.locator("#remaining-G-ARREARS")).to_contain_text("£48,000.00")
            await expect(page.locator("#claim-CL-1")).to_contain_text(
                "Waiting for programme review"
            )

            passed_on = await api.post(
                f"/api/v1/places/{PLACE}/grant-claims/CL-1/programme-review",
                json={"decision": "approve"},
                headers=who.headers("programme"),
            )
            assert passed_on.json()["status"] == "programme_approved"

        await sign_out(page)
        await sign_in(page, url, "fin-web", PASSWORD)
        await page.goto(f"{url}/places/{PLACE}/monitoring")
        # The report waits for programme staff's review, with what the recipient sent.
        await expect(page.locator("#review-G-ARREARS-1")).to_contain_text(
            "Two hubs open; 96 families seen."
        )
        await expect(page.locator("#claim-CL-1")).to_contain_text("waiting for finance")
        await page.get_by_role("button", name="Approve claim CL-1").click()
        await expect(page.locator("#command-outcome")).to_contain_text(
            "The claim was approved; its payment is being requested from the ledger."
        )
        paid = page.locator("#claim-CL-1", has_text="Paid")
        for _ in range(150):
            if await paid.count():
                break
            await page.wait_for_timeout(200)
            await page.goto(f"{url}/places/{PLACE}/monitoring")
        await expect(paid).to_contain_text("£12,000.00")
