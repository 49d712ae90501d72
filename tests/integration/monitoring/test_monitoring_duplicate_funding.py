"""The duplicate funding report and the board's warning on the real gateway, broker and
database, from fixtures with figures written here: one charity registered in two places under
two references, funded in both; a proposal to fund it again in GM for a similar purpose."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import AttributionShare, ReservationMade
from contracts.allocations import AllocationFunded, AllocationProposed
from tests.integration.gateway.gateway_support import bearer, token_for
from tests.integration.web.web_support import browser_client, gateway_rows, sign_in, web_user
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHARITY = {
    "kind": "provider",
    "name": "Family Hubs Trust",
    "legal_form": "charity",
    "org_id_scheme": "GB-CHC",
    "org_id_identifier": "1123456",
}


def proposed(place: str, allocation: str, recipient: str, purpose: str, pence: int) -> Any:
    return AllocationProposed(
        place_id=place,
        allocation_id=allocation,
        allocation_type="grant",
        recipient_id=recipient,
        purpose=purpose,
        mission_id="M-START-WELL",
        start_date=date(2026, 4, 1),
        end_date=date(2027, 3, 31),
        value_pence=pence,
        financial_year="2026-27",
        proposed_by="officer-1",
    )


def funded(place: str, allocation: str, pence: int, *shares: tuple[str, str, int]) -> list[Any]:
    return [
        ReservationMade(
            place_id=place,
            allocation_id=allocation,
            financial_year="2026-27",
            amount_pence=pence,
            attribution=tuple(
                AttributionShare(department_code=d, funding_stream_code=s, amount_pence=p)
                for d, s, p in shares
            ),
            transfer_id=f"T-{allocation}",
        ),
        AllocationFunded(place_id=place, allocation_id=allocation, amount_pence=pence),
    ]


async def test_a_charity_funded_in_two_places_is_reported_and_shown_to_the_board(
    settings, database_url
) -> None:
    await web_user(database_url, "cllr-ahmed", "board_member@GM")
    auditor = await token_for(database_url, "auditor-1", "auditor@GM")
    member = await token_for(database_url, "cllr-api", "board_member@GM")
    finance = {
        place: await token_for(database_url, f"fin-{place}", f"finance@{place}")
        for place in ("GM", "LPL")
    }
    await publish(
        settings,
        proposed("GM", "A-1", "PROV-HUBS", "Family hubs outreach", 50_000_00),
        proposed("LPL", "B-7", "LIV-HUBS", "Family hubs in Liverpool", 20_000_00),
        proposed("GM", "A-2", "PROV-OTHER", "Debt advice", 10_000_00),
        proposed("GM", "A-3", "PROV-HUBS", "Family hubs evening outreach", 15_000_00),
        *funded("GM", "A-1", 50_000_00, ("DWP", "WORK", 30_000_00), ("DFE", "HUBS", 20_000_00)),
        *funded("LPL", "B-7", 20_000_00, ("DHSC", "PH", 20_000_00)),
        *funded("GM", "A-2", 10_000_00, ("DWP", "WORK", 10_000_00)),
    )
    async with browser_client(settings) as client:
        for place, ref in (("GM", "PROV-HUBS"), ("LPL", "LIV-HUBS")):
            registered = await client.put(
                f"/api/v1/places/{place}/organisations/{ref}",
                json=CHARITY,
                headers=bearer(finance[place]),
            )
            assert registered.status_code == 200, registered.text
        await eventually(
            lambda: gateway_rows(
                database_url,
                "SELECT 1 FROM allocations WHERE status = 'funded' HAVING count(*) = 3",
            )
        )
        await eventually(
            lambda: gateway_rows(database_url, "SELECT 1 FROM reservations HAVING count(*) = 3")
        )
        answer = await client.get(
            "/api/v1/places/GM/returns/duplicate-funding", headers=bearer(auditor)
        )
        listed = await client.get("/api/v1/places/GM/board/proposals", headers=bearer(member))
        await sign_in(client, "cllr-ahmed")
        board = await client.get("/places/GM/board")

    assert answer.status_code == 200
    (row,) = answer.json()["organisations"]
    assert (row["org_id"], row["name"], row["places"]) == (
        "GB-CHC-1123456",
        "Family Hubs Trust",
        ["GM", "LPL"],
    )
    assert row["departments"] == ["DFE", "DHSC", "DWP"]
    assert (row["total_pence"], row["total"]) == (70_000_00, "£70,000.00")
    assert [(a["allocation_id"], a["value_pence"], a["purpose"]) for a in row["allocations"]] == [
        ("A-1", 50_000_00, "Family hubs outreach"),
        ("B-7", 20_000_00, "Family hubs in Liverpool"),
    ]
    assert board.status_code == 200
    card = board.text.split('id="proposal-A-3"')[1].split('class="govuk-summary-card"')[0]
    assert "Already funded" in card
    assert (
        "GB-CHC-1123456 already holds A-1 in GM (£50,000.00, funded) for “Family hubs outreach”"
        in card
    )
    assert "B-7 in LPL (£20,000.00, funded)" in card
    # The board's list of proposals says the same, proposal by proposal.
    assert listed.status_code == 200, listed.text
    already = {p["allocation_id"]: p["already_funded"] for p in listed.json()["proposals"]}
    assert already["A-2"] == [] and already["A-1"] == []  # funded, nothing else to weigh
    [first, second] = already["A-3"]
    assert first == (
        "GB-CHC-1123456 already holds A-1 in GM (£50,000.00, funded) for “Family hubs outreach”"
    )
    assert "B-7 in LPL (£20,000.00, funded)" in second
