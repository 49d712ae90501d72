"""Automated accessibility checks in real headless Chromium against the real gateway: axe-core
(WCAG 2.x A and AA rules) finds no violation on any kind of page, and the sign-in form can be
used from the keyboard alone, the skip link coming first."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.async_api import Page, expect

from contracts import (
    AttributionShare,
    MetricPrice,
    OutcomesContractRegistered,
    SettlementRecorded,
    SpendRecorded,
)
from contracts.allocations import ClaimLodged
from contracts.outcomes import (
    EvidenceSampled,
    EvidenceSubmitted,
    FunnelMeasured,
    MetricDefinition,
    SampledClaim,
    SegmentFunnelCounts,
)
from tests.browser.browser_support import (
    axe_violations,
    chromium,
    describe_violations,
)
from tests.browser.test_browser_pages import proposal
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import served
from tests.integration.web.web_support import PASSWORD, gateway_rows, web_user
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"
PARTICIPANT = "a" * 64
EVERY_ROLE = (
    "finance@GM",
    "board_member@GM",
    "provider@GM:PROV-A",
    "verifier@GM",
    "department:DWP",
)
# (page kind, path) of every page a signed-in person can open, with the demo-like data below.
SIGNED_IN_PAGES = (
    ("account", "/account"),
    ("finance", "/places/GM/finance"),
    ("close_period", "/places/GM/finance/close"),
    ("board", "/places/GM/board"),
    ("claims", "/places/GM/claims"),
    ("provider", "/places/GM/providers/PROV-A"),
    ("contract", "/places/GM/contracts/C-A"),
    ("batch", "/places/GM/contracts/C-A/batches/B-1"),
    ("verifier", "/places/GM/verification"),
    ("department", "/places/GM/departments/DWP"),
    ("error", "/places/GM/contracts/NO-SUCH-CONTRACT"),
)


def place_events() -> list[object]:
    """Enough of a place for every page to show its tables, charts and forms."""
    return [
        SettlementRecorded(
            place_id="GM",
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=[{"financial_year": "2026-27", "amount_pence": 12_000_000_00}],
            transfer_id="T-1",
        ),
        proposal(),
        OutcomesContractRegistered(
            place_id="GM",
            contract_id="C-A",
            allocation_id="A-1",
            provider_id="PROV-A",
            prices=(MetricPrice(metric_id="JOB-START", price_pence=1_200_00),),
            metrics=(
                MetricDefinition(
                    metric_id="JOB-START", definition="Started paid work", target_count=100
                ),
            ),
            difficulty_segments=("ready", "complex"),
            cap_pence=1_000_000_00,
        ),
        FunnelMeasured(
            place_id="GM",
            contract_id="C-A",
            segments=(
                SegmentFunnelCounts(segment="ready", referred=10, engaged=8, achieved=4, paid=3),
                SegmentFunnelCounts(segment="complex", referred=6, engaged=3, achieved=1, paid=0),
            ),
        ),
        EvidenceSubmitted(
            place_id="GM",
            contract_id="C-A",
            batch_id="B-1",
            provider_id="PROV-A",
            claim_count=1,
            accepted_count=1,
            rejected_count=0,
        ),
        EvidenceSampled(
            place_id="GM",
            contract_id="C-A",
            batch_id="B-1",
            sample_seed="seed",
            sample_share=0.05,
            sample_size=1,
            accepted_count=1,
            claims=(
                SampledClaim(
                    participant_hash=PARTICIPANT, metric_id="JOB-START", evidence_reference="p-1"
                ),
            ),
        ),
        SpendRecorded(
            place_id="GM",
            spend_id="SP-1",
            payment_id="P-1",
            allocation_id="A-1",
            provider_id="PROV-A",
            contract_id="C-A",
            amount_pence=3_600_00,
            payment_kind="outcome_payment",
            purpose="Supported employment",
            financial_year="2026-27",
            attribution=(
                AttributionShare(
                    department_code="DWP", funding_stream_code="WORK", amount_pence=3_600_00
                ),
            ),
            transfer_id="T-2",
        ),
        ClaimLodged(
            place_id="GM",
            claim_id="CL-1",
            claim_kind="right_to_serve",
            claimant_id="ANCOATS-TRUST",
            claimant_kind="community_group",
            service_description="Run the youth service in Ancoats",
            lodged_on=date(2026, 1, 5),
            response_due_on=date(2026, 3, 2),
        ),
    ]


async def check(page: Page, kind: str, found: dict[str, str]) -> None:
    """Run axe on the page now open; keep a screenshot; note its violations under `kind`."""
    await page.screenshot(path=SCREENSHOTS / f"accessibility_{kind}.png", full_page=True)
    violations = await axe_violations(page)
    if violations:
        found[kind] = describe_violations(f"{kind} ({page.url})", violations)


async def test_axe_finds_no_wcag_violation_on_any_kind_of_page(
    settings, database_url, tmp_path
) -> None:
    await web_user(database_url, "everyone", *EVERY_ROLE)
    await publish(settings, *place_events())
    evidence = tmp_path / "october.csv"
    evidence.write_text(
        "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
        "difficulty_segment\n"
        "person-1,JOB-START,2026-10-15,payroll-1,2026-05-01,ready\n"
        "person-2,JOB-START,not-a-date,payroll-2,2026-05-02,complex\n",
        encoding="utf-8",
    )
    found: dict[str, str] = {}
    async with served(settings) as url, chromium() as browser:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM claims"))
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM department_spend"))
        # axe needs JavaScript: this context only turns it on (the journeys test without it).
        context = await browser.new_context(java_script_enabled=True)
        page = await context.new_page()
        page.set_default_timeout(20_000)
        for kind, path in (("start", "/"), ("public", "/places/GM"), ("sign_in", "/sign-in")):
            await page.goto(url + path)
            await check(page, kind, found)
        await page.get_by_label("User ID").fill("everyone")
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Your pages")
        for kind, path in SIGNED_IN_PAGES:
            await page.goto(url + path)
            await check(page, kind, found)
        await page.goto(f"{url}/places/GM/contracts/C-A")
        await page.get_by_label("Evidence file").set_input_files(evidence)
        await page.get_by_role("button", name="Upload evidence").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Evidence file received")
        await check(page, "upload_report", found)
        await context.close()

    visited = {"start", "public", "sign_in", "upload_report"} | {k for k, _ in SIGNED_IN_PAGES}
    assert len(visited) == 3 + len(SIGNED_IN_PAGES) + 1
    assert not found, "\n\n".join(found.values())


async def test_the_keyboard_alone_reaches_the_skip_link_first_then_signs_in(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with served(settings) as url, chromium() as browser:
        page = await browser.new_page(java_script_enabled=False)
        page.set_default_timeout(20_000)
        await page.goto(f"{url}/sign-in")

        await page.keyboard.press("Tab")
        focused = page.locator(":focus")
        await expect(focused).to_have_text("Skip to main content")
        await expect(focused).to_have_attribute("href", "#main-content")
        # Onwards, typing into each field as it takes focus, until the submit button has it.
        reached = []
        for _ in range(30):
            await page.keyboard.press("Tab")
            element = await focused.evaluate(
                "e => [e.tagName, e.id || '', (e.textContent || '').trim()]"
            )
            reached.append(element)
            if element[1] == "user_id":
                await page.keyboard.type("fin")
            elif element[1] == "password":
                await page.keyboard.type(PASSWORD)
            elif element[0] == "BUTTON" and element[2] == "Sign in":
                break
        assert reached[-1][0] == "BUTTON" and reached[-1][2] == "Sign in", reached
        await page.keyboard.press("Enter")

        # Finance staff land on their own page: the place's pot.
        await expect(page.get_by_role("heading", level=1)).to_have_text("The pot of GM")
        await page.screenshot(path=SCREENSHOTS / "keyboard_sign_in.png", full_page=True)
