"""Finding 7 of issue 14 at the gateway: a contract naming an allocation its read models show
to be another place's, or another provider's, is a 422 naming the field before anything is
accepted; an allocation not known yet passes (the outcomes service decides)."""

from __future__ import annotations

import asyncpg
import pytest

from contracts.allocations import AllocationProposed
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    proposal_body,
    token_for,
)
from tests.support.kafka import eventually, publish

pytestmark = pytest.mark.integration

CONTRACTS = "/api/v1/places/GM/outcomes-contracts"


def _proposed(place_id: str, allocation_id: str, recipient_id: str) -> AllocationProposed:
    body = {
        **proposal_body(allocation_id),
        "allocation_type": "outcomes_contract",
        "recipient_id": recipient_id,
    }
    return AllocationProposed.model_validate({**body, "place_id": place_id, "proposed_by": "fin"})


def _contract(allocation_id: str, provider_id: str = "PROV-A") -> dict:
    return {
        "contract_id": f"C-{allocation_id}",
        "allocation_id": allocation_id,
        "provider_id": provider_id,
        "prices": [{"metric_id": "JOB-START", "price_pence": 100}],
        "cap_pence": 10_000,
    }


async def _known(database_url: str, count: int) -> bool:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        return int(await connection.fetchval("SELECT count(*) FROM allocations")) >= count
    finally:
        await connection.close()


async def test_a_contract_on_another_places_or_providers_allocation_is_a_422(
    settings, database_url
) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        await publish(
            settings, _proposed("LPL", "A-LPL", "PROV-A"), _proposed("GM", "A-GM", "PROV-A")
        )
        await eventually(lambda: _known(database_url, 2))
        answers = {
            name: await client.post(CONTRACTS, json=body, headers=bearer(token, name))
            for name, body in {
                "other_place": _contract("A-LPL"),
                "other_provider": _contract("A-GM", provider_id="PROV-B"),
                "own": _contract("A-GM"),
                "not_yet_known": _contract("A-NEW"),
            }.items()
        }

    refusals = {
        name: [(e["field"], e["rule"]) for e in answer.json()["errors"]]
        for name, answer in answers.items()
        if answer.status_code == 422
    }
    assert refusals == {
        "other_place": [("allocation_id", "same_place")],
        "other_provider": [("provider_id", "allocation_recipient")],
    }
    assert "belongs to LPL, not GM" in answers["other_place"].json()["detail"]
    assert answers["own"].status_code == answers["not_yet_known"].status_code == 202
