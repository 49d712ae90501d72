"""Helpers for grant monitoring tests on the real stack: a funded quarterly grant in GM, and the
people who work on it (programme and finance staff, the recipient) with API tokens."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from contracts import FinancialYearAmount, ProposeAllocation, RecordSettlement
from contracts.allocations import AllocationFunded, DecideAllocation, Instalment
from tests.integration.gateway.gateway_support import bearer, token_for
from tests.integration.web.web_support import gateway_rows
from tests.support.kafka import TopicReader, eventually, publish

PLACE = "GM"
YEAR = "2027-28"
RECIPIENT = "PROV-HUBS"
QUARTERS = (date(2027, 4, 1), date(2027, 7, 1), date(2027, 10, 1), date(2028, 1, 1))
QUARTERLY_REPORTS = {
    "kind": "regular",
    "first_due_date": "2027-06-30",
    "every_months": 3,
    "count": 4,
}
MEASURES = [
    {"measure_id": "families_supported", "description": "Families supported", "target": 400},
    {"measure_id": "hubs_open", "description": "Family hubs open", "target": 6},
]


def settlement(amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id=PLACE,
        settlement_id="S-DFE",
        department_code="DFE",
        funding_stream_code="FAMILY-HUBS",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount_pence),),
    )


def grant(allocation_id: str, value_pence: int, *, instalments: bool = True) -> ProposeAllocation:
    schedule = tuple(
        Instalment(due_date=day, amount_pence=value_pence // len(QUARTERS)) for day in QUARTERS
    )
    return ProposeAllocation(
        place_id=PLACE,
        allocation_id=allocation_id,
        allocation_type="grant",
        recipient_id=RECIPIENT,
        purpose="Family hubs in every borough",
        mission_id="M-START-WELL",
        start_date=date(2027, 4, 1),
        end_date=date(2028, 3, 31),
        value_pence=value_pence,
        financial_year=YEAR,
        proposed_by="officer-1",
        instalments=schedule if instalments else (),
    )


async def funded_grant(
    settings: Any,
    database_url: str,
    reader: TopicReader,
    allocation_id: str,
    value_pence: int,
    *,
    instalments: bool = True,
) -> None:
    """Settle money, propose and approve a grant, and wait until the gateway sees it funded."""
    proposal = grant(allocation_id, value_pence, instalments=instalments)
    await publish(settings, settlement(value_pence * 5), proposal)
    await publish(
        settings,
        DecideAllocation(
            place_id=PLACE, allocation_id=allocation_id, decision="approved", decided_by="board"
        ),
    )
    await eventually(
        lambda: _funded(reader, allocation_id),
    )
    await eventually(
        lambda: gateway_rows(
            database_url,
            f"SELECT 1 FROM allocations WHERE allocation_id = '{allocation_id}' "
            "AND status = 'funded'",
        )
    )


async def _funded(reader: TopicReader, allocation_id: str) -> bool:
    return any(e.allocation_id == allocation_id for e in reader.events(AllocationFunded))


class People:
    """API clients' headers for each person who works on a grant."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self._keys = 0

    def headers(self, who: str) -> dict[str, str]:
        self._keys += 1
        return bearer(self.tokens[who], f"key-{who}-{self._keys}")


async def people(database_url: str) -> People:
    return People(
        {
            "programme": await token_for(database_url, "prog-1", f"programme@{PLACE}"),
            "finance": await token_for(database_url, "fin-1", f"finance@{PLACE}"),
            "recipient": await token_for(database_url, "hubs-api", f"provider@{PLACE}:{RECIPIENT}"),
        }
    )


async def send_report(
    client: httpx.AsyncClient, who: People, allocation_id: str, number: int
) -> httpx.Response:
    return await client.post(
        f"/api/v1/places/{PLACE}/providers/{RECIPIENT}/grants/{allocation_id}/reports/{number}",
        json={
            "figures": {"families_supported": 90 * number, "hubs_open": number},
            "narrative": f"Quarter {number}: hubs opened as planned.",
            "attachments": [f"doc://hubs/q{number}-return.pdf"],
        },
        headers=who.headers("recipient"),
    )


async def review(
    client: httpx.AsyncClient, who: People, allocation_id: str, number: int, decision: str
) -> httpx.Response:
    note = "" if decision == "accept" else "Give the hubs' opening dates."
    return await client.post(
        f"/api/v1/places/{PLACE}/allocations/{allocation_id}/reports/{number}/review",
        json={"decision": decision, "note": note},
        headers=who.headers("programme"),
    )
