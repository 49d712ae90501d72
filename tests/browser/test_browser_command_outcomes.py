"""What became of a form's command, on the page the person came back to, in real headless
Chromium with JavaScript off: a receipt the real ledger refuses shows the ledger's reason in a
notification banner, and one it records says so; an evidence upload's refused claims are each
shown with why on the batch's page."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from contracts import FinancialYearAmount, MetricPrice, RecordSettlement
from contracts.outcomes import RegisterOutcomesContract
from services.outcomes.app import build_definition
from services.outcomes.settings import OutcomesSettings
from singlepot.system import service_definition
from tests.browser.browser_support import browser_page, sign_in
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import gateway_settings, served
from tests.integration.web.web_support import PASSWORD, gateway_rows, web_user
from tests.support.kafka import eventually, publish, running

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"


async def test_a_receipt_the_ledger_refuses_shows_its_reason_and_one_it_records_says_so(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    await publish(
        settings,
        RecordSettlement(
            place_id="GM",
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=10_000_00),),
        ),
    )
    # The page waits for the ledger's answer long enough for a loaded machine.
    patient = gateway_settings(gateway_web_command_wait_s=20)
    async with running(service_definition("ledger"), settings), served(settings, patient) as url:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM pot_streams"))
        async with browser_page(SCREENSHOTS, "finance_receipt_refused") as page:
            await sign_in(page, url, "fin", PASSWORD)
            for receipt_id, amount, outcome in (
                ("R-1", "15000.00", "Refused"),
                ("R-2", "4000.00", "Done"),
            ):
                await page.goto(f"{url}/places/GM/finance?year=2026-27")
                await page.locator("#receipt_id").fill(receipt_id)
                await page.locator("#settlement_id").fill("S-1")
                await page.locator("#stream").select_option("DWP/WORK")
                await page.locator("#financial_year").fill("2026-27")
                await page.locator("#amount").fill(amount)
                await page.get_by_role("button", name="Record receipt").click()
                banner = page.locator("#command-outcome")
                await expect(banner).to_have_attribute("data-outcome", outcome)
                if outcome == "Refused":
                    await expect(banner).to_contain_text(
                        "receipt of £15,000.00 for DWP WORK exceeds the £10,000.00 still owed"
                    )
                    await expect(banner).to_contain_text("receipt_within_owed")
                else:
                    await expect(banner).to_contain_text("The receipt was recorded in the ledger.")
                    await expect(banner).to_contain_text("receipt R-2")
            # Where the money lives, finance staff see what the ledger refused and why.
            await expect(page.locator("#ledger-refusals")).to_contain_text(
                "exceeds the £10,000.00 still owed"
            )


async def test_an_evidence_upload_shows_each_refused_claim_and_why_on_the_batch_page(
    settings, database_url, tmp_path
) -> None:
    await web_user(database_url, "workwell", "provider@GM:PROV-A")
    await publish(
        settings,
        RegisterOutcomesContract(
            place_id="GM",
            contract_id="C-A",
            allocation_id="A-1",
            provider_id="PROV-A",
            prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
            cap_pence=200,
        ),
    )
    evidence = tmp_path / "september.csv"
    evidence.write_text(
        "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
        "difficulty_segment\n"
        "person-1,JOB-START,2026-09-15,payroll-1,2026-05-01,easy\n"
        "person-1,JOB-START,2026-09-15,payroll-1b,2026-05-01,easy\n"
        "person-2,JOB-START,2026-09-16,payroll-2,2026-05-02,hard\n"
        "person-3,JOB-START,2026-09-17,payroll-3,2026-05-03,easy\n",
        encoding="utf-8",
    )
    patient = gateway_settings(gateway_web_command_wait_s=20)
    outcomes = build_definition(OutcomesSettings(verification_sample_share=0.5))
    async with running(outcomes, settings), served(settings, patient) as url:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM contracts"))
        async with browser_page(SCREENSHOTS, "provider_sees_refused_claims") as page:
            await sign_in(page, url, "workwell", PASSWORD)
            await page.goto(f"{url}/places/GM/contracts/C-A")
            await page.get_by_label("Evidence file").set_input_files(evidence)
            await page.get_by_role("button", name="Upload evidence").click()
            banner = page.locator("#command-outcome")
            await expect(banner).to_have_attribute("data-outcome", "Done")
            await expect(banner).to_contain_text("The evidence was received and checked.")
            await page.get_by_role("link", name="Follow the batch's progress").click()

            by_result = page.locator("#claims-by-result")
            await expect(by_result).to_contain_text("participant metric paid once")
            await expect(by_result).to_contain_text("within cap")
            claims = page.locator("#claims tbody tr")
            await expect(claims).to_have_count(4)
            await expect(page.locator('#claims tr[data-row="2"]')).to_contain_text("Rejected")
            await expect(page.locator('#claims tr[data-row="2"]')).to_contain_text(
                "already has metric JOB-START claimed in GM"
            )
            await expect(page.locator('#claims tr[data-row="4"]')).to_contain_text(
                "has reached its cap of £2.00"
            )
            await expect(page.locator("#priced-amount")).to_contain_text("£2.00")
            await expect(
                page.get_by_role("link", name="Download every claim's result as CSV")
            ).to_be_visible()
