"""A counted round whose settlement the allocations service refused: the refusal (caused by the
round's settle command) reaches the gateway's own handlers on real PostgreSQL, and the round's
API, open data and public page say the winners were not funded, with the rule in plain words
and the reason; a refusal of any other command leaves the round as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest

from contracts import Event
from contracts.allocations import RoundWinner, SettleParticipatoryRound
from contracts.decisions import CommandRefused
from contracts.envelope import Envelope, wrap
from tests.integration.gateway.gateway_support import client_for, feed_projector
from tests.integration.web.web_support import browser_client

pytestmark = pytest.mark.integration

PLACE, ROUND = "GM", "PB-R1"
SETTLE_ID = uuid.UUID("5e771e00-0000-4000-8000-000000000001")
WINNER_ID = uuid.UUID("5e771e00-0000-4000-8000-0000000000aa")
REASON = "allocation PB-2026 is cancelled; only a funded round can fund winners"


async def counted_round(database_url: str) -> None:
    """A round counted on 1 August with one winner, its settlement sent as SETTLE_ID."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.execute(
            "INSERT INTO citizens_pb_rounds (place_id, round_id, title, allocation_id,"
            " budget_pence, proposals_open_on, proposals_close_on, voting_open_on,"
            " voting_close_on, eligible_areas, eligible_purposes, projects_start_on,"
            " projects_end_on, opened_by, counted_at, counted_by, funded_pence, unspent_pence,"
            " settle_event_id) VALUES ($1, $2, 'Park round', 'PB-2026', 5000000, '2026-05-01',"
            " '2026-05-31', '2026-06-15', '2026-07-15', '{Centre}', '{Parks}', '2026-09-01',"
            " '2027-03-31', 'finance-1', '2026-08-01T10:00:00Z', 'finance-1', 4000000, 1000000,"
            " $3)",
            PLACE,
            ROUND,
            SETTLE_ID,
        )
        await connection.execute(
            "INSERT INTO citizens_pb_proposals (place_id, round_id, proposal_id, title,"
            " description, area, purpose, cost_pence, recipient_id, proposer_key, submitted_at,"
            " moderation, moderation_reason, votes, winner_rank, allocation_id) VALUES ($1, $2,"
            " $3, 'Park lights', 'Lights on the path', 'Centre', 'Parks', 4000000, 'ORG-1',"
            " 'key-1', '2026-05-02T09:00:00Z', 'accepted', 'Eligible', 12, 1, 'PB-2026-pb1')",
            PLACE,
            ROUND,
            WINNER_ID,
        )
    finally:
        await connection.close()


def settle_envelope(round_id: str = ROUND, event_id: uuid.UUID = SETTLE_ID) -> Envelope:
    """The settle command as the count sent it: its event id is the round's SETTLE_ID."""
    command = SettleParticipatoryRound(
        place_id=PLACE,
        allocation_id="PB-2026",
        round_id=round_id,
        winners=(
            RoundWinner(
                allocation_id="PB-2026-pb1",
                recipient_id="ORG-1",
                purpose="Park lights",
                amount_pence=4_000_000,
            ),
        ),
        start_date=date(2026, 9, 1),
        end_date=date(2027, 3, 31),
        settled_by="finance-1",
    )
    return wrap(command, producer="gateway", event_id=event_id)


def refusal(command_type: str, rule: str, reason: str) -> CommandRefused:
    return CommandRefused(
        place_id=PLACE,
        decided_by="allocations",
        command_type=command_type,
        subject_id="PB-2026",
        rule=rule,
        reason=reason,
    )


async def feed(database_url: str, event: Event, causation: Envelope) -> None:
    """The event through the gateway's projector handlers, caused by `causation`."""
    envelope = wrap(
        event,
        producer="allocations",
        causation=causation,
        occurred_at=datetime(2026, 8, 1, 10, 5, tzinfo=UTC),
    )
    await feed_projector(database_url, [envelope])


async def test_a_refused_settlement_shows_on_the_round_its_api_and_its_open_data(
    settings, database_url
) -> None:
    await counted_round(database_url)
    settle = settle_envelope()
    # Refusals that are not this round's settlement change nothing.
    await feed(database_url, refusal("DecideAllocation", "round_funded", "not this"), settle)
    other_round = settle_envelope("OTHER", uuid.uuid4())
    await feed(database_url, refusal("SettleParticipatoryRound", "round_funded", "no"), other_round)
    async with client_for(settings) as api:
        before = (await api.get(f"/api/v1/places/{PLACE}/citizens/rounds/{ROUND}")).json()
    assert before["settlement_refused"] is None

    await feed(database_url, refusal("SettleParticipatoryRound", "round_funded", REASON), settle)
    # A second delivery of a refusal keeps the first.
    again = refusal("SettleParticipatoryRound", "winners_within_round", "later")
    await feed(database_url, again, settle)

    async with client_for(settings) as api:
        shown = await api.get(f"/api/v1/places/{PLACE}/citizens/rounds/{ROUND}")
        open_data = await api.get(f"/api/v1/places/{PLACE}/citizens/rounds/{ROUND}/open-data")
    assert shown.status_code == 200, shown.text
    expected = {
        "rule": "round_funded",
        "rule_words": "only a round whose budget is still reserved can fund its winners",
        "reason": REASON,
        "refused_at": "2026-08-01T10:05:00Z",
    }
    assert shown.json()["settlement_refused"] == expected
    assert open_data.json()["settlement_refused"] == expected


async def test_the_round_page_says_the_winners_were_not_funded_and_why(
    settings, database_url
) -> None:
    await counted_round(database_url)
    async with browser_client(settings) as browser:
        funded_page = (await browser.get(f"/places/{PLACE}/citizens/rounds/{ROUND}")).text
    assert "released back to the pot" in funded_page
    assert "settlement-refused" not in funded_page

    await feed(
        database_url, refusal("SettleParticipatoryRound", "round_funded", REASON), settle_envelope()
    )
    async with browser_client(settings) as browser:
        page = await browser.get(f"/places/{PLACE}/citizens/rounds/{ROUND}")
    assert page.status_code == 200
    html = page.text
    assert 'id="settlement-refused"' in html
    assert "The winners have not been funded" in html
    assert "only a round whose budget is still reserved can fund its winners" in html
    assert REASON in html
    assert "released back to the pot" not in html
    assert "Park lights: £40,000.00, 12 votes (not funded)" in html
