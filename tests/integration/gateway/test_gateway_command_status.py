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


async def test_every_service_refuses_in_one_shape_read_back_at_the_commands_location(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin", "finance@GM")
    stranger = await token_for(database_url, "cllr-x", "board_member@GM")
    virement = {
        "virement_id": "V-1",
        "financial_year": "2026-27",
        "from_funding_stream_code": "WORK",
        "to_funding_stream_code": "HEALTH",
        "amount_pence": 5_000_000,
        "approval_reference": "BOARD-7",
    }
    contract = {
        "contract_id": "C-1",
        "allocation_id": "A-1",
        "provider_id": "TRUST",
        "prices": [{"metric_id": "JOB-START", "price_pence": 100}],
        "cap_pence": 10_000,
    }
    outcomes = service_definition("outcomes")
    async with (
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
        running(outcomes, settings),
        client_for(settings) as client,
    ):
        settlement = settlement_body("S-1", 1_000_000)
        first = await send(client, finance, "k-s", "/settlements", settlement)
        await settled(client, finance, first)
        # An outcomes-contract allocation, so the contract below may name it (the gateway
        # refuses a contract naming a grant before it is sent).
        proposal = {**proposal_body(), "allocation_type": "outcomes_contract"}
        await settled(client, finance, await send(client, finance, "k-a", "/allocations", proposal))
        sent = {
            "settlement again": await send(client, finance, "k-s2", "/settlements", settlement),
            "virement": await send(client, finance, "k-v", "/virements", virement),
            "vote": await send(
                client, stranger, "k-vote", "/allocations/A-1/votes", {"vote": "for"}
            ),
        }
        registered = await send(client, finance, "k-c", "/outcomes-contracts", contract)
        assert (await settled(client, finance, registered))["made"]["contract_id"] == "C-1"
        again = await send(client, finance, "k-c2", "/outcomes-contracts", contract)
        sent["contract again"] = again
        await settled(
            client, finance, await send(client, finance, "k-close", "/periods/2025-26/close", {})
        )
        sent["close again"] = await send(client, finance, "k-close2", "/periods/2025-26/close", {})
        vote_id = sent.pop("vote")
        answers = {name: await settled(client, finance, command) for name, command in sent.items()}
        vote = await settled(client, stranger, vote_id)
        # Finance staff may not vote: a member's vote is not theirs to read.
        vote_seen_by_finance = await client.get(
            f"/api/v1/commands/{vote_id}", headers=bearer(finance)
        )

    assert {name: answer["status"] for name, answer in answers.items()} == dict.fromkeys(
        answers, "refused"
    ), answers
    refusals = {name: answer["refusal"] for name, answer in answers.items()}
    assert {name: (r["rule"], r["decided_by"]) for name, r in refusals.items()} == {
        "settlement again": ("posts_once", "ledger"),
        "virement": ("virement_within_unreserved_stream", "ledger"),
        "contract again": ("contract_id_unique", "outcomes"),
        "close again": ("period_closes_once", "ledger"),
    }
    # The virement asks for £50,000.00 of the £10,000.00 the WORK stream holds unreserved.
    assert refusals["virement"]["figures"] == {
        "amount_pence": 5_000_000,
        "available_pence": 1_000_000,
    }
    assert refusals["contract again"]["reason"] == "contract C-1 is already registered"
    # A vote by someone not on the board (no board is configured: the place decides without one).
    assert vote["status"] == "refused"
    assert vote["refusal"]["decided_by"] == "allocations"
    assert vote["refusal"]["command_type"] == "CastVote"
    assert vote["refusal"]["reason"]
    assert vote_seen_by_finance.status_code == 404
