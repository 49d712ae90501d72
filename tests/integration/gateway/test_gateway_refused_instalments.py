"""Refused grant instalments reach finance staff through the real ledger, allocations service
and gateway: an instalment refused in a closed year is listed as needing a person, with the
ledger's rule and reason; a verifier, or finance staff of another place, may not read it."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from contracts import ClosePeriod, DecideAllocation
from contracts.allocations import ProcessDueWork
from tests.integration.allocations.test_allocations_instalment_retry import GRANT
from tests.integration.allocations.test_allocations_with_ledger import (
    ALLOCATIONS,
    LEDGER,
    PLACE,
    YEAR,
    settlement,
)
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REFUSED = f"/api/v1/places/{PLACE}/refused-instalments"


async def listed(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    response = await client.get(REFUSED, headers=bearer(token))
    assert response.status_code == 200, response.text
    instalments: list[dict[str, Any]] = response.json()["instalments"]
    return instalments


async def test_an_instalment_refused_in_a_closed_year_is_listed_for_finance_staff(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin", f"finance@{PLACE}")
    verifier = await token_for(database_url, "verifier", f"verifier@{PLACE}")
    elsewhere = await token_for(database_url, "fin-lpl", "finance@LPL")
    async with (
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
        client_for(settings) as client,
    ):
        await publish(settings, settlement(500_000_00), GRANT)
        await publish(
            settings,
            DecideAllocation(
                place_id=PLACE, allocation_id="G-R", decision="approved", decided_by="board"
            ),
        )

        async def funded() -> bool:
            response = await client.get(
                f"/api/v1/places/{PLACE}/allocations", headers=bearer(finance)
            )
            return any(a.get("status") == "funded" for a in response.json().get("allocations", []))

        await eventually(funded)
        await publish(settings, ClosePeriod(place_id=PLACE, financial_year=YEAR))
        await publish(settings, ProcessDueWork(place_id=PLACE, as_of=date(2026, 6, 1)))
        [instalment] = await eventually(lambda: listed(client, finance))
        refused_for_verifier = await client.get(REFUSED, headers=bearer(verifier))
        refused_elsewhere = await client.get(REFUSED, headers=bearer(elsewhere))

    assert (instalment["allocation_id"], instalment["instalment_number"]) == ("G-R", 1)
    assert (instalment["payment_id"], instalment["status"]) == ("G-R/i1", "needs_attention")
    assert instalment["rule"] == "period_open"
    assert f"financial year {YEAR} is closed" in instalment["reason"]
    assert (instalment["amount_pence"], instalment["amount"]) == (30_000_00, "£30,000.00")
    assert (refused_for_verifier.status_code, refused_elsewhere.status_code) == (403, 403)
