"""A whole participatory budgeting round on the real stack (PostgreSQL, broker, ledger,
allocations, gateway): the board sets the budget aside as a funded allocation, residents propose,
finance moderates with published reasons, residents vote once each, the count matches figures
worked by hand, the winners are funded by moving money from the round's reservation (the
ledger's balances say so), the rest goes back to the pot, and the winners' grants are paid and
reach the spend topic like any allocation's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from contracts import ReservationReleased, ReservationTransferred, SpendRecorded, topics
from contracts.allocations import AllocationFunded, ParticipatoryRoundSettled, ProcessDueWork
from contracts.citizens import (
    BudgetProposalModerated,
    BudgetProposalSubmitted,
    BudgetRoundCounted,
    BudgetRoundOpened,
)
from singlepot.system import service_definition
from tests.integration.citizens.rounds_support import (
    BUDGET,
    PLACE,
    POUND,
    PROJECTS_START,
    ROUNDS,
    Residents,
    events_of,
    ledger_balances,
    moderate_all,
    move_round_dates,
    propose_all,
    round_opening,
    set_aside_the_budget,
)
from tests.integration.gateway.gateway_support import bearer, token_for
from tests.integration.web.web_support import browser_client
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_a_whole_round_funds_its_winners_from_its_reservation_and_releases_the_rest(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin-gm", "finance@GM")
    residents = Residents(
        [await token_for(database_url, f"res-{n}", "public@GM") for n in range(5)]
    )
    today = dt.datetime.now(dt.UTC).date()
    async with (
        TopicReader(
            settings,
            topics.ALLOCATIONS_LIFECYCLE,
            topics.LEDGER_RESULTS,
            topics.LEDGER_SPEND,
            topics.CITIZENS_LIFECYCLE,
        ) as reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        browser_client(settings) as client,
    ):
        await set_aside_the_budget(settings, database_url, reader)
        opened = await client.post(
            ROUNDS,
            json=round_opening(today),
            headers=bearer(finance, "open-round"),
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["budget_pence"] == str(BUDGET)
        replayed = await client.post(
            ROUNDS, json=round_opening(today), headers=bearer(finance, "open-round")
        )
        assert replayed.json()["command_id"] == opened.json()["command_id"]
        again = await client.post(
            ROUNDS, json=round_opening(today), headers=bearer(finance, "open-round-again")
        )
        assert (again.status_code, again.json()["errors"][0]["rule"]) == (409, "unique")

        ids = await propose_all(client, residents)
        ineligible = await client.post(
            f"{ROUNDS}/PB-2026/proposals",
            json={
                "title": "Harbour wall",
                "description": "A wall",
                "area": "coast",
                "purpose": "safety",
                "cost_pence": 100,
                "recipient_id": "GROUP-9",
            },  # fmt: skip
            headers=residents.headers(0),
        )
        assert ineligible.status_code == 422
        assert ineligible.json()["errors"][0]["rule"] == "eligible_area"

        await moderate_all(client, finance, ids, "A private driveway")
        resident_may_not = await client.post(
            f"{ROUNDS}/PB-2026/proposals/{ids['Benches']}/moderation",
            json={"decision": "rejected", "reason": "I dislike benches"},
            headers=residents.headers(1),
        )
        assert resident_may_not.status_code == 403

        # Voting opens (the dates move ten days on).
        await move_round_dates(database_url, 10)
        totals_hidden = (await client.get(f"{ROUNDS}/PB-2026")).json()
        ballots = [
            ["Park lights", "Youth club", "Benches"],
            ["Park lights", "Library hours"],
            ["Youth club", "Benches"],
            ["Park lights", "Youth club"],
            ["Library hours", "Benches"],
        ]
        for number, ballot in enumerate(ballots):
            cast = await client.post(
                f"{ROUNDS}/PB-2026/ballots",
                json={"proposal_ids": [ids[title] for title in ballot]},
                headers=residents.headers(number),
            )
            assert cast.status_code == 201, cast.text
        twice = await client.post(
            f"{ROUNDS}/PB-2026/ballots",
            json={"proposal_ids": [ids["Benches"]]},
            headers=residents.headers(0),
        )
        over_budget = await client.post(
            f"{ROUNDS}/PB-2026/ballots",
            json={"proposal_ids": [ids[t] for t in ("Park lights", "Youth club", "Library hours")]},
            headers=residents.headers(1),
        )
        for_rejected = await client.post(
            f"{ROUNDS}/PB-2026/ballots",
            json={"proposal_ids": [ids["A private driveway"]]},
            headers=residents.headers(2),
        )
        too_early = await client.post(
            f"{ROUNDS}/PB-2026/count", headers=bearer(finance, "count-early")
        )

        # Voting closes; finance counts, and the winners go to be funded.
        await move_round_dates(database_url, 11)
        counted = await client.post(f"{ROUNDS}/PB-2026/count", headers=bearer(finance, "count"))
        assert counted.status_code == 201, counted.text
        settled = (await eventually(lambda: events_of(reader, ParticipatoryRoundSettled)))[0]
        await eventually(lambda: _at_least(reader, ReservationTransferred, 3))
        released = (await eventually(lambda: events_of(reader, ReservationReleased)))[0]
        await eventually(lambda: _at_least(reader, AllocationFunded, 4))
        balances = await ledger_balances(database_url)
        (published_count,) = await eventually(lambda: events_of(reader, BudgetRoundCounted))

        # The winners' grants fall due on their start date and are paid like any grant's.
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=PROJECTS_START))
        spends = await eventually(lambda: _at_least(reader, SpendRecorded, 3))
        public = (await client.get(f"{ROUNDS}/PB-2026")).json()
        open_data = (await client.get(f"{ROUNDS}/PB-2026/open-data")).json()

    assert [p["votes"] for p in totals_hidden["proposals"]] == [None] * 5
    assert (twice.status_code, twice.json()["errors"][0]["rule"]) == (409, "one_ballot")
    assert (over_budget.status_code, over_budget.json()["errors"][0]["rule"]) == (
        422,
        "within_budget",
    )
    assert for_rejected.json()["errors"][0]["rule"] == "accepted_proposal"
    assert too_early.json()["errors"][0]["rule"] == "voting_closed"

    # Worked by hand: totals Park lights 3, Youth club 3, Benches 3, Library hours 2. Equal
    # votes go cheapest first: Benches £10,000 (£80,000 left), Youth club £35,000 (£45,000
    # left), Park lights £40,000 (£5,000 left); Library hours £30,000 does not fit.
    votes = {p["title"]: p["votes"] for p in public["proposals"]}
    assert votes == {
        "Park lights": 3,
        "Youth club": 3,
        "Library hours": 2,
        "Benches": 3,
        "A private driveway": None,
    }
    assert public["ballots_cast"] == 5
    assert [(w["title"], w["allocation_id"]) for w in public["winners"]] == [
        ("Benches", "PB-2026-pb1"),
        ("Youth club", "PB-2026-pb2"),
        ("Park lights", "PB-2026-pb3"),
    ]
    assert (public["funded_pence"], public["unspent_pence"]) == (85_000 * POUND, 5_000 * POUND)
    rejected = next(p for p in public["proposals"] if p["title"] == "A private driveway")
    assert rejected["moderation_reason"] == "Private land is not eligible"
    assert open_data["recount"] == {
        "winners": [ids["Benches"], ids["Youth club"], ids["Park lights"]],
        "funded_pence": 85_000 * POUND,
        "unspent_pence": 5_000 * POUND,
    }

    # The public events: the round opened once (the replayed key published nothing more), each
    # proposal and moderation, no ballot, and the count with the same figures as the page.
    assert len(reader.events(BudgetRoundOpened)) == 1
    assert len(reader.events(BudgetProposalSubmitted)) == 5
    assert {e.proposal_id for e in reader.events(BudgetProposalModerated)} == set(ids.values())
    assert (published_count.ballots_cast, published_count.budget_pence) == (5, BUDGET)
    assert {p.proposal_id: p.votes for p in published_count.proposals} == {
        ids[title]: votes for title, votes in votes.items() if votes is not None
    }
    assert sorted(
        (p.winner_rank, p.proposal_id, p.allocation_id)
        for p in published_count.proposals
        if p.winner_rank is not None
    ) == [
        (1, ids["Benches"], "PB-2026-pb1"),
        (2, ids["Youth club"], "PB-2026-pb2"),
        (3, ids["Park lights"], "PB-2026-pb3"),
    ]
    assert (published_count.funded_pence, published_count.released_pence) == (
        85_000 * POUND,
        5_000 * POUND,
    )

    # The money: moved from the round's reservation, the rest released, never through the pot
    # between; the pot is £300,000 less the £85,000 the winners hold.
    assert (settled.funded_pence, settled.released_pence) == (85_000 * POUND, 5_000 * POUND)
    moves = sorted(
        (m.to_allocation_id, m.from_allocation_id, m.amount_pence)
        for m in reader.events(ReservationTransferred)
    )
    assert moves == [
        ("PB-2026-pb1", "PB-2026", 10_000 * POUND),
        ("PB-2026-pb2", "PB-2026", 35_000 * POUND),
        ("PB-2026-pb3", "PB-2026", 40_000 * POUND),
    ]
    assert (released.allocation_id, released.amount_pence) == ("PB-2026", 5_000 * POUND)
    assert balances == {
        "pot": 215_000 * POUND,
        "PB-2026": 0,
        "PB-2026-pb1": 10_000 * POUND,
        "PB-2026-pb2": 35_000 * POUND,
        "PB-2026-pb3": 40_000 * POUND,
    }
    # Each winner's spend, with its departments' shares (a third DWP, two thirds MHCLG).
    paid = sorted((s.allocation_id, s.provider_id, s.amount_pence) for s in spends)
    assert paid == [
        ("PB-2026-pb1", "GROUP-3", 10_000 * POUND),
        ("PB-2026-pb2", "GROUP-1", 35_000 * POUND),
        ("PB-2026-pb3", "GROUP-0", 40_000 * POUND),
    ]
    benches = next(s for s in spends if s.allocation_id == "PB-2026-pb1")
    assert {a.department_code: a.amount_pence for a in benches.attribution} == {
        "DWP": 3_333_33,
        "MHCLG": 6_666_67,
    }


async def _at_least(reader: TopicReader, kind: type, count: int) -> list[Any]:
    found = reader.events(kind)
    return found if len(found) >= count else []
