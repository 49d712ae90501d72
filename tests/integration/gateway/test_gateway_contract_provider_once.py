"""An evidence POST reads its contract's provider once: the door (is the caller this contract's
provider?) and the endpoint (does the body name the same provider?) share the one lookup, and
both still decide as before: the provider's own evidence is accepted, evidence in another
provider's name is refused naming `provider_id`, and another provider is kept out."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from contracts.envelope import wrap
from tests.integration.gateway.gateway_support import (
    bearer,
    evidence_body,
    feed_projector,
    gateway_app,
    token_for,
)
from tests.integration.gateway.test_gateway_roles import CONTRACT_A, GM, contract

pytestmark = pytest.mark.integration


async def test_the_gateway_reads_a_contracts_provider_once_and_decides_as_before(
    settings, database_url
) -> None:
    await feed_projector(database_url, [wrap(contract("C-A", "PROV-A"), producer="test")])
    own = bearer(await token_for(database_url, "prov-a", "provider@GM:PROV-A"), "k-1")
    other = bearer(await token_for(database_url, "prov-b", "provider@GM:PROV-B"), "k-2")
    app = gateway_app(settings)
    gateway = app.state.gateway
    lookups: list[tuple[str, str]] = []
    read_provider = gateway.contract_provider

    async def counted(connection: asyncpg.Connection, place_id: str, contract_id: str) -> Any:
        lookups.append((place_id, contract_id))
        return await read_provider(connection, place_id, contract_id)

    gateway.contract_provider = counted
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            accepted = await client.post(
                f"{CONTRACT_A}/evidence", json=evidence_body("PROV-A"), headers=own
            )
            assert lookups == [("GM", "C-A")]
            wrong_name = await client.post(
                f"{CONTRACT_A}/evidence",
                json=evidence_body("PROV-B", "B-2"),
                headers={**own, "Idempotency-Key": "k-3"},
            )
            kept_out = await client.post(
                f"{CONTRACT_A}/evidence", json=evidence_body("PROV-B"), headers=other
            )
            assert lookups == [("GM", "C-A")]
            unknown = [
                await client.post(
                    f"{GM}/outcomes-contracts/C-NONE/evidence",
                    json=evidence_body("PROV-A"),
                    headers={**own, "Idempotency-Key": key},
                )
                for key in ("k-4", "k-5")
            ]
    assert accepted.status_code == 202
    assert wrong_name.status_code == 422
    assert wrong_name.json()["errors"][0]["field"] == "provider_id"
    assert kept_out.status_code == 403
    # Not found is not remembered: a contract registered later is found at once.
    assert [response.status_code for response in unknown] == [403, 403]
    assert lookups == [("GM", "C-A")] + [("GM", "C-NONE")] * 2
