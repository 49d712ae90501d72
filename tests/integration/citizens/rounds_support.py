"""Helpers for participatory budgeting tests on the real stack: the round's budget set aside
through the allocations flow (so the ledger reserves it), time passing for a round's dates, the
ledger's balances, residents with API tokens, and a round's proposals."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any

import asyncpg
import httpx

from contracts import FinancialYearAmount, ProposeAllocation, RecordSettlement
from contracts.allocations import AllocationFunded, DecideAllocation
from tests.integration.gateway.gateway_support import bearer
from tests.integration.web.web_support import gateway_rows
from tests.support.kafka import TopicReader, eventually, publish

PLACE = "GM"
YEAR = "2026-27"
ROUNDS = f"/api/v1/places/{PLACE}/citizens/rounds"
POUND = 100
BUDGET = 90_000 * POUND
PROJECTS_START = date(2026, 9, 1)


async def set_aside_the_budget(settings: Any, database_url: str, reader: TopicReader) -> None:
    """£300,000 settled (two streams) and £90,000 of it approved as the round's budget."""
    settlements = [
        RecordSettlement(
            place_id=PLACE,
            settlement_id=f"S-{department}",
            department_code=department,
            funding_stream_code=stream,
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount),),
        )
        for department, stream, amount in (
            ("DWP", "WORK", 100_000 * POUND),
            ("MHCLG", "LOCAL-GROWTH", 200_000 * POUND),
        )
    ]
    round_budget = ProposeAllocation(
        place_id=PLACE,
        allocation_id="PB-2026",
        allocation_type="partnership_agreement",
        recipient_id="GM-RESIDENTS",
        purpose="Participatory budgeting 2026: residents decide",
        mission_id="M-COMMUNITY",
        start_date=date(2026, 5, 1),
        end_date=date(2027, 3, 31),
        value_pence=BUDGET,
        financial_year=YEAR,
        proposed_by="officer-1",
        purpose_tags=("participatory-budgeting",),
    )
    await publish(settings, *settlements, round_budget)
    await publish(
        settings,
        DecideAllocation(
            place_id=PLACE, allocation_id="PB-2026", decision="approved", decided_by="board"
        ),
    )
    await eventually(lambda: events_of(reader, AllocationFunded))
    await eventually(
        lambda: gateway_rows(
            database_url,
            "SELECT 1 FROM allocations WHERE allocation_id = 'PB-2026' AND status = 'funded'",
        )
    )


async def events_of(reader: TopicReader, kind: type) -> list[Any]:
    return reader.events(kind)


async def move_round_dates(database_url: str, shift_days: int) -> None:
    """Move the round's dates `shift_days` earlier, as time passing would."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.execute(
            "UPDATE citizens_pb_rounds SET proposals_open_on = proposals_open_on - $1::int, "
            "proposals_close_on = proposals_close_on - $1::int, "
            "voting_open_on = voting_open_on - $1::int, "
            "voting_close_on = voting_close_on - $1::int",
            shift_days,
        )
    finally:
        await connection.close()


async def ledger_balances(database_url: str) -> dict[str, int]:
    """Each allocation's reservation, and the pot, summed over streams, from the ledger."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        rows = await connection.fetch(
            "SELECT CASE WHEN account LIKE 'pot:%' THEN 'pot' "
            "ELSE split_part(account, ':', 2) END AS owner, sum(balance_pence) AS pence "
            "FROM balances WHERE account LIKE 'pot:%' OR account LIKE 'commitment:%' GROUP BY 1"
        )
    finally:
        await connection.close()
    return {row["owner"]: int(row["pence"]) for row in rows}


class Residents:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.keys = 0

    def headers(self, number: int) -> dict[str, str]:
        self.keys += 1
        return bearer(self.tokens[number], f"resident-{number}-{self.keys}")


PROPOSALS = {
    # title: (area, purpose, cost in pounds)
    "Park lights": ("north", "safety", 40_000),
    "Youth club": ("south", "young-people", 35_000),
    "Library hours": ("north", "young-people", 30_000),
    "Benches": ("south", "safety", 10_000),
    "A private driveway": ("north", "safety", 5_000),
}


async def propose_all(client: httpx.AsyncClient, residents: Residents) -> dict[str, str]:
    ids = {}
    for number, (title, (area, purpose, pounds)) in enumerate(PROPOSALS.items()):
        answer = await client.post(
            f"{ROUNDS}/PB-2026/proposals",
            json={
                "title": title,
                "description": f"{title} for everyone",
                "area": area,
                "purpose": purpose,
                "cost_pence": pounds * POUND,
                "recipient_id": f"GROUP-{number}",
            },
            headers=residents.headers(number % 3),
        )
        assert answer.status_code == 201, answer.text
        ids[title] = answer.json()["proposal_id"]
    return ids


def round_opening(today: date) -> dict[str, Any]:
    """Round PB-2026 on allocation PB-2026, taking proposals today."""
    return {
        "round_id": "PB-2026",
        "title": "Your neighbourhood, your call",
        "allocation_id": "PB-2026",
        "proposals_open_on": str(today - dt.timedelta(days=1)),
        "proposals_close_on": str(today + dt.timedelta(days=1)),
        "voting_open_on": str(today + dt.timedelta(days=10)),
        "voting_close_on": str(today + dt.timedelta(days=20)),
        "eligible_areas": ["north", "south"],
        "eligible_purposes": ["safety", "young-people"],
        "projects_start_on": str(PROJECTS_START),
        "projects_end_on": "2027-03-01",
    }


async def moderate_all(
    client: httpx.AsyncClient, finance: str, ids: dict[str, str], rejected_title: str
) -> None:
    for title, proposal_id in ids.items():
        rejected = title == rejected_title
        moderated = await client.post(
            f"{ROUNDS}/PB-2026/proposals/{proposal_id}/moderation",
            json={
                "decision": "rejected" if rejected else "accepted",
                "reason": "Private land is not eligible" if rejected else "Eligible",
            },
            headers=bearer(finance, f"moderate-{proposal_id}"),
        )
        assert moderated.status_code == 201, moderated.text
