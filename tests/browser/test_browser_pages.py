"""The issue's browser journeys in real headless Chromium with JavaScript off, against the real
gateway, database and broker: finance staff see the pot, a provider sees the per-row errors of
an evidence file, a board member votes, and the public reads a decision without signing in."""

from __future__ import annotations

import json
from datetime import date

import pytest
from playwright.async_api import expect

from contracts import MetricPrice, OutcomesContractRegistered, SettlementRecorded
from contracts.allocations import AllocationApproved, AllocationProposed, BoardDecisionRecorded
from tests.browser.browser_support import browser_page, sign_in
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import served
from tests.integration.web.web_support import PASSWORD, gateway_rows, web_user
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"


def proposal(allocation_id: str = "A-7") -> AllocationProposed:
    return AllocationProposed(
        place_id="GM",
        allocation_id=allocation_id,
        allocation_type="grant",
        recipient_id="TRUST",
        purpose="Family hubs in every borough",
        mission_id="M-1",
        start_date=date(2026, 6, 1),
        end_date=date(2027, 3, 31),
        value_pence=150_000_00,
        financial_year="2026-27",
        proposed_by="fin",
    )


async def test_finance_staff_sign_in_and_see_the_pot(settings, database_url) -> None:
    await web_user(database_url, "fin", "finance@GM")
    await publish(
        settings,
        SettlementRecorded(
            place_id="GM",
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=[{"financial_year": "2026-27", "amount_pence": 12_000_000_00}],
            transfer_id="T-1",
        ),
    )
    async with served(settings) as url:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM pot_streams"))
        async with browser_page(SCREENSHOTS, "finance_sees_the_pot") as page:
            await sign_in(page, url, "fin", PASSWORD)
            # Signed in, finance staff land on their own page: the place's pot.
            assert page.url == f"{url}/places/GM/finance"

            await expect(page.get_by_role("heading", level=1)).to_have_text("The pot of GM")
            await expect(page.locator('[data-total="settled_pence"]')).to_have_text(
                "£12,000,000.00"
            )
            await expect(
                page.locator("figure#pot-by-stream, figure.sp-chart").first
            ).to_be_visible()
            await expect(page.get_by_role("heading", name="Record a receipt")).to_be_visible()


async def test_a_provider_uploads_evidence_with_bad_rows_and_sees_each_rows_error(
    settings, database_url, tmp_path
) -> None:
    await web_user(database_url, "workwell", "provider@GM:PROV-A")
    await publish(
        settings,
        OutcomesContractRegistered(
            place_id="GM",
            contract_id="C-A",
            allocation_id="A-1",
            provider_id="PROV-A",
            prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
            cap_pence=10_000,
        ),
    )
    evidence = tmp_path / "september.csv"
    evidence.write_text(
        "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
        "difficulty_segment\n"
        "person-1,JOB-START,2026-09-15,payroll-1,2026-05-01,easy\n"
        "person-2,JOB-START,not-a-date,payroll-2,2026-05-02,hard\n"
        "person-3,,2026-09-17,payroll-3,2026-05-03,easy\n",
        encoding="utf-8",
    )
    async with served(settings) as url:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM contracts"))
        async with browser_page(SCREENSHOTS, "provider_uploads_evidence") as page:
            await sign_in(page, url, "workwell", PASSWORD)
            await page.goto(f"{url}/places/GM/contracts/C-A")
            await page.get_by_label("Evidence file").set_input_files(evidence)
            await page.get_by_role("button", name="Upload evidence").click()

            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Evidence file received"
            )
            await expect(page.locator("#rows-accepted")).to_have_text("1")
            await expect(page.locator("#rows-rejected")).to_have_text("2")
            errors = page.locator("#row-errors tbody tr")
            await expect(errors).to_have_count(2)
            await expect(errors.nth(0)).to_contain_text("achieved_on")
            await expect(errors.nth(1)).to_contain_text("metric_id")
    outbox = await gateway_rows(database_url, "SELECT convert_from(value, 'UTF8') AS v FROM outbox")
    sent = [json.loads(row["v"]) for row in outbox]
    assert [event["event_type"] for event in sent] == ["SubmitEvidence"]
    assert len(sent[0]["payload"]["claims"]) == 1


async def test_a_board_member_votes_on_a_proposal(settings, database_url) -> None:
    await web_user(database_url, "cllr-ahmed", "board_member@GM")
    await publish(settings, proposal())
    async with served(settings) as url:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM allocations"))
        async with browser_page(SCREENSHOTS, "board_member_votes") as page:
            await sign_in(page, url, "cllr-ahmed", PASSWORD)
            await page.goto(f"{url}/places/GM/board")
            await expect(
                page.get_by_role("heading", name="A-7: Family hubs in every borough")
            ).to_be_visible()
            await page.get_by_role("radio", name="For").check()
            await page.get_by_role("button", name="Cast vote on A-7").click()

            await expect(page.get_by_text("Your vote was sent to the board.")).to_be_visible()
    outbox = await gateway_rows(database_url, "SELECT convert_from(value, 'UTF8') AS v FROM outbox")
    votes = [json.loads(row["v"]) for row in outbox]
    assert [(v["event_type"], v["payload"]["member_id"], v["payload"]["vote"]) for v in votes] == [
        ("CastVote", "cllr-ahmed", "for")
    ]


async def test_the_public_reads_a_decision_without_signing_in(settings, database_url) -> None:
    await publish(
        settings,
        proposal(),
        AllocationApproved(
            place_id="GM",
            allocation_id="A-7",
            allocation_type="grant",
            recipient_id="TRUST",
            value_pence=150_000_00,
            financial_year="2026-27",
            decided_by="chair",
            rules_version=1,
        ),
        BoardDecisionRecorded(
            place_id="GM",
            allocation_id="A-7",
            outcome="approved",
            rules_version=1,
            votes_for=("cllr-ahmed", "cllr-brown"),
            votes_against=("cllr-cole",),
            abstentions=(),
            recused=("cllr-dunn",),
            reason="meets the plan's first mission",
        ),
    )
    async with served(settings) as url:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM board_decisions"))
        async with browser_page(SCREENSHOTS, "public_reads_a_decision") as page:
            await page.goto(url)
            await page.get_by_role("link", name="Decisions and open data for GM").click()

            await expect(page.get_by_role("heading", level=1)).to_have_text(
                "Decisions and open data for GM"
            )
            card = page.locator(".govuk-summary-card", has_text="A-7")
            await expect(card).to_contain_text("approved")
            await expect(card).to_contain_text("meets the plan's first mission")
            await expect(card).to_contain_text("cllr-dunn")
            await expect(
                page.get_by_role("link", name="Grants and payments as 360Giving JSON")
            ).to_be_visible()
            await expect(page.get_by_text("Signed in as")).to_have_count(0)
