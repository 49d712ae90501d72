"""A board member's vote, end to end in real headless Chromium with JavaScript off: the web form
sends CastVote through the gateway's outbox, the real allocations service records it with the
member's reason, and the board page then shows the vote and the reason."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.async_api import expect

from contracts.allocations import (
    BoardMember,
    ConfigureBoard,
    ProposeAllocation,
    SetDecisionRules,
)
from singlepot.system import service_definition
from tests.browser.browser_support import browser_page, sign_in
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_support import gateway_settings, served
from tests.integration.web.web_support import PASSWORD, web_user
from tests.support.kafka import publish, running

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"
REASON = "Family hubs reach families before crisis"


def board_commands() -> list[ProposeAllocation | ConfigureBoard | SetDecisionRules]:
    """The commands the gateway would have sent: a board of two, its rules, and a proposal."""
    return [
        ConfigureBoard(
            place_id="GM",
            board_version=1,
            chair_id="cllr-brown",
            chair_role="council_leader",
            accounting_officer_id="ceo",
            members=(
                BoardMember(member_id="cllr-brown", name="Cllr Brown", seat="council"),
                BoardMember(member_id="cllr-ahmed", name="Cllr Ahmed", seat="council"),
            ),
        ),
        SetDecisionRules(place_id="GM", rules_version=1, quorum_members=2),
        ProposeAllocation(
            place_id="GM",
            allocation_id="A-7",
            allocation_type="grant",
            recipient_id="TRUST",
            purpose="Family hubs in every borough",
            mission_id="M-1",
            start_date=date(2026, 6, 1),
            end_date=date(2027, 3, 31),
            value_pence=50_000_00,
            financial_year="2026-27",
            proposed_by="fin",
        ),
    ]


async def test_a_members_vote_and_reason_are_recorded_by_the_allocations_service_and_shown(
    settings, database_url
) -> None:
    await web_user(database_url, "cllr-ahmed", "board_member@GM")
    await publish(settings, *board_commands())
    async with (
        running(service_definition("allocations"), settings),
        served(settings, gateway_settings(gateway_web_command_wait_s=20)) as url,
        browser_page(SCREENSHOTS, "board_member_vote_recorded") as page,
    ):
        await sign_in(page, url, "cllr-ahmed", PASSWORD)
        card = page.locator("#proposal-A-7")
        # The proposal reaches the page once the allocations service has recorded it.
        for _ in range(150):
            await page.goto(f"{url}/places/GM/board")
            if await card.count():
                break
            await page.wait_for_timeout(200)
        await expect(card).to_contain_text("Family hubs in every borough")
        await page.get_by_role("radio", name="For").check()
        await page.get_by_label("Reason for your vote").fill(REASON)
        await page.get_by_role("button", name="Cast vote on A-7").click()
        # The page waited for the allocations service: it says the vote was recorded.
        banner = page.locator("#command-outcome")
        await expect(banner).to_have_attribute("data-outcome", "Done")
        await expect(banner).to_contain_text("Your vote was recorded.")

        votes = card.locator("li", has_text="cllr-ahmed")
        for _ in range(150):
            if await votes.count():
                break
            await page.wait_for_timeout(200)
            await page.goto(f"{url}/places/GM/board")
        await expect(votes).to_have_text(f"cllr-ahmed: for – “{REASON}”")
        # One vote of two: the proposal stays open, but this member's vote is cast.
        await expect(card).to_contain_text("Proposed")
        await expect(page.locator("#own-vote-A-7")).to_have_text(
            "Your vote on A-7: for. A vote cannot be changed."
        )
        await expect(page.get_by_role("button", name="Cast vote on A-7")).to_have_count(0)
