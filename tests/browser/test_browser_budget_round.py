"""A participatory budgeting round in real headless Chromium against the real gateway, ledger
and allocations: a signed-in resident ticks two projects on the round's page and casts their
ballot (and is not offered a second one), other residents vote, finance counts, and anyone,
without signing in, sees the totals, the winners and the money released; the page has no axe
violation."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from playwright.async_api import expect

from contracts import topics
from singlepot.system import service_definition
from tests.browser.browser_support import axe_violations, browser_page, describe_violations
from tests.browser.browser_support import sign_in as browser_sign_in
from tests.browser.test_browser_accessibility import chromium
from tests.conftest import ARTIFACTS
from tests.integration.citizens.rounds_support import (
    ROUNDS,
    Residents,
    moderate_all,
    move_round_dates,
    propose_all,
    round_opening,
    set_aside_the_budget,
)
from tests.integration.gateway.gateway_support import bearer, served, token_for
from tests.integration.web.web_support import PASSWORD, web_user
from tests.support.kafka import TopicReader, running

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
SCREENSHOTS = ARTIFACTS / "screenshots"
PAGE = "/places/GM/citizens/rounds/PB-2026"


async def test_a_resident_votes_and_the_public_sees_the_result(settings, database_url) -> None:
    await web_user(database_url, "resident-web", "public@GM")
    finance = await token_for(database_url, "fin-api", "finance@GM")
    residents = Residents(
        [await token_for(database_url, f"res-{n}", "public@GM") for n in range(3)]
    )
    today = dt.datetime.now(dt.UTC).date()
    async with (
        TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE) as reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        served(settings) as url,
    ):
        await set_aside_the_budget(settings, database_url, reader)
        async with httpx.AsyncClient(base_url=url) as client:
            opened = await client.post(
                ROUNDS, json=round_opening(today), headers=bearer(finance, "open")
            )
            assert opened.status_code == 201, opened.text
            ids = await propose_all(client, residents)
            await moderate_all(client, finance, ids, "A private driveway")
        await move_round_dates(database_url, 10)

        async with browser_page(SCREENSHOTS, "budget_round_vote") as page:
            await browser_sign_in(page, url, "resident-web", PASSWORD)
            await page.goto(f"{url}{PAGE}")
            await expect(page.locator("#round-phase")).to_have_text("Voting open")
            await expect(page.locator("#round-proposals")).to_contain_text(
                "Private land is not eligible"
            )
            await page.get_by_label("Benches (£10,000.00)").check()
            await page.get_by_label("Library hours (£30,000.00)").check()
            await page.get_by_role("button", name="Cast your vote").click()
            await expect(page.locator("#voted")).to_contain_text("You have voted")
            await expect(page.get_by_role("button", name="Cast your vote")).to_have_count(0)

        async with httpx.AsyncClient(base_url=url) as client:
            for number, ballot in enumerate([["Youth club"], ["Youth club", "Library hours"]]):
                cast = await client.post(
                    f"{ROUNDS}/PB-2026/ballots",
                    json={"proposal_ids": [ids[title] for title in ballot]},
                    headers=residents.headers(number),
                )
                assert cast.status_code == 201, cast.text
            await move_round_dates(database_url, 11)
            counted = await client.post(f"{ROUNDS}/PB-2026/count", headers=bearer(finance, "count"))
            assert counted.status_code == 201, counted.text

        async with browser_page(SCREENSHOTS, "budget_round_result") as page:
            # Anyone finds the round from the place's citizens page.
            await page.goto(f"{url}/places/GM/citizens")
            await page.get_by_role("link", name="Your neighbourhood, your call").click()
            await expect(page.locator("#round-phase")).to_have_text("Counted")
            # Library hours 2 and Youth club 2 (cheaper Library first: £60,000 left), Youth
            # club £35,000 (£25,000 left), Benches 1 vote £10,000 (£15,000 left); Park lights
            # has no votes. £75,000 funded, £15,000 released.
            winners = page.locator("#winners li")
            await expect(winners).to_have_count(3)
            await expect(winners.nth(0)).to_contain_text("Library hours")
            await expect(winners.nth(1)).to_contain_text("Youth club")
            await expect(winners.nth(2)).to_contain_text("Benches")
            await expect(page.locator("#result-summary")).to_contain_text(
                "3 projects funded for £75,000.00; £15,000.00 released back to the pot. "
                "3 residents voted."
            )
        # axe needs JavaScript: this page only turns it on (the journeys run without it).
        async with chromium() as browser:
            context = await browser.new_context(java_script_enabled=True)
            page = await context.new_page()
            await page.goto(f"{url}{PAGE}")
            violations = await axe_violations(page)
            assert not violations, describe_violations("a round's page", violations)
