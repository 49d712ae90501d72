"""Every accepted command can be followed at its `Location` through the real ledger and
allocations services: done with what it made, or refused with the deciding service's rule,
reason and figures; only its sender and those who may send it for the place can read it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from singlepot.system import service_definition
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    proposal_body,
    settlement_body,
    token_for,
)
from tests.support.kafka import eventually, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEDGER = service_definition("ledger")
ALLOCATIONS = service_definition("allocations")


async def send(
    client: httpx.AsyncClient, token: str, key: str, path: str, body: dict[str, Any]
) -> str:
    response = await client.post(f"/api/v1/places/GM{path}", json=body, headers=bearer(token, key))
    assert response.status_code == 202, response.text
    command_id = response.json()["command_id"]
    assert response.headers["Location"] == f"/api/v1/commands/{command_id}"
    return command_id


async def settled(client: httpx.AsyncClient, token: str, command_id: str) -> dict[str, Any]:
    """The command's status once it is no longer accepted (waiting server-side a little)."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get(
            f"/api/v1/commands/{command_id}", params={"wait": 2}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] != "accepted" else None

    return await eventually(probe)


async def test_a_receipt_beyond_what_is_owed_is_refused_with_the_ledgers_rule_and_figures(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin", "finance@GM")
    colleague = await token_for(database_url, "fin-2", "finance@GM")
    elsewhere = await token_for(database_url, "fin-wm", "finance@WM")
    receipt = {
        "receipt_id": "R-1",
        "settlement_id": "S-1",
        "department_code": "DWP",
        "funding_stream_code": "WORK",
        "financial_year": "2026-27",
        "amount_pence": 1_500_000,
    }
    async with running(LEDGER, settings), client_for(settings) as client:
        settlement = await send(client, finance, "k-s", "/settlements", settlement_body())
        done = await settled(client, finance, settlement)
        receipt_id = await send(client, finance, "k-r", "/receipts", receipt)
        refused = await settled(client, finance, receipt_id)
        seen_by_colleague = await client.get(
            f"/api/v1/commands/{receipt_id}", headers=bearer(colleague)
        )
        seen_elsewhere = await client.get(
            f"/api/v1/commands/{receipt_id}", headers=bearer(elsewhere)
        )

    assert done["status"] == "done"
    assert done["made"]["settlement_id"] == "S-1"
    assert done["made"]["transfer_id"]
    assert done["links"]["pot"] == "/api/v1/places/GM/pot"
    assert refused["status"] == "refused"
    assert refused["refusal"]["rule"] == "receipt_within_owed"
    assert refused["refusal"]["figures"] == {"amount_pence": 1_500_000, "owed_pence": 1_000_000}
    assert refused["refusal"]["decided_by"] == "ledger"
    assert "exceeds the £10,000.00 still owed for 2026-27" in refused["refusal"]["reason"]
    assert seen_by_colleague.status_code == 200
    assert seen_by_colleague.json()["status"] == "refused"
    # Finance staff of another place learn nothing, not even that the command exists.
    assert seen_elsewhere.status_code == 404


async def test_a_decision_ends_done_only_once_the_ledger_reserved_or_refused_with_its_reason(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin", "finance@GM")
    officer = await token_for(database_url, "ao", "accounting_officer@GM")
    async with (
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
        client_for(settings) as client,
    ):
        await settled(
            client,
            finance,
            await send(client, finance, "k-s", "/settlements", settlement_body("S-1", 200_000)),
        )
        for allocation_id in ("A-1", "A-2"):
            proposed = await send(
                client, finance, f"k-{allocation_id}", "/allocations", proposal_body(allocation_id)
            )
            assert (await settled(client, finance, proposed))["status"] == "done"
        decisions = {}
        for allocation_id in ("A-1", "A-2"):
            decisions[allocation_id] = await send(
                client,
                officer,
                f"k-d-{allocation_id}",
                f"/allocations/{allocation_id}/decision",
                {"decision": "approved"},
            )
        funded = await settled(client, officer, decisions["A-1"])
        unfunded = await settled(client, officer, decisions["A-2"])

    assert funded["status"] == "done"
    assert funded["made"]["allocation_id"] == "A-1"
    assert "waiting_for" not in funded
    # The pot held £2,000.00: the second £1,500.00 allocation is refused by the ledger.
    assert unfunded["status"] == "refused"
    assert unfunded["refusal"]["rule"] == "reservation_within_unreserved_pot"
    assert unfunded["refusal"]["figures"] == {"amount_pence": 150_000, "unreserved_pence": 50_000}
    assert unfunded["refusal"]["decided_by"] == "ledger"


async def test_an_unknown_command_and_a_wait_beyond_the_limit_are_refused(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        unknown = await client.get(
            "/api/v1/commands/6f1c1a52-8a0e-4a4a-9a43-2d4c1f0a9b11", headers=bearer(finance)
        )
        too_long = await client.get(
            "/api/v1/commands/6f1c1a52-8a0e-4a4a-9a43-2d4c1f0a9b11",
            params={"wait": 3600},
            headers=bearer(finance),
        )

    assert unknown.status_code == 404
    assert too_long.status_code == 422
