"""Issue 14's access findings, each reproduced on the real gateway: a place-bound department or
auditor grant reads only its own places' spend (feed, SSE, webhooks), cannot touch a webhook of
another place, and a webhook delivers only its places' spend; web pages and the API refuse and
allow alike (board, finance, claims); an open SSE stream ends once its token is revoked."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from contracts import AttributionShare, SpendRecorded
from services.gateway.identity import users
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    client_for,
    gateway_settings,
    served,
    token_for,
)
from tests.integration.gateway.test_gateway_views import envelopes, feed_batch
from tests.integration.web.web_support import browser_client, sign_in, web_user
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

DWP = "/api/v1/departments/DWP"
DHSC = "/api/v1/departments/DHSC"


def spend(place_id: str, number: int) -> SpendRecorded:
    """A payment in `place_id` paid half from DWP's stream and half from DHSC's."""
    return SpendRecorded(
        place_id=place_id,
        spend_id=f"SP-{place_id}-{number}",
        payment_id=f"P-{place_id}-{number}",
        allocation_id="A-1",
        provider_id="PROV-A",
        contract_id="C-1",
        amount_pence=2_000,
        payment_kind="outcome_payment",
        purpose="job outcomes",
        financial_year="2026-27",
        attribution=tuple(
            AttributionShare(
                department_code=code, funding_stream_code=f"{code}-S", amount_pence=1_000
            )
            for code in ("DHSC", "DWP")
        ),
        transfer_id=f"T-{place_id}-{number}",
    )


async def feed(database_url: str, *events: SpendRecorded) -> None:
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert pool is not None
    try:
        await feed_batch(pool, envelopes([(event, datetime.now(UTC)) for event in events]))
    finally:
        await pool.close()


def places_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted({item["place_id"] for item in response.json()["spend"]})


async def test_a_place_bound_grant_reads_only_its_places_spend(settings, database_url) -> None:
    await feed(database_url, spend("GM", 1), spend("LPL", 1))
    gm_dwp = bearer(await token_for(database_url, "dwp-gm", "department@GM:DWP"))
    national = bearer(await token_for(database_url, "dwp-all", "department@*:DWP"))
    lpl_auditor = bearer(await token_for(database_url, "audit-lpl", "auditor@LPL"))
    async with client_for(settings) as client:
        gm_feed = await client.get(f"{DWP}/spend?after=0", headers=gm_dwp)
        national_feed = await client.get(f"{DWP}/spend?after=0", headers=national)
        auditor_feed = await client.get(f"{DHSC}/spend?after=0", headers=lpl_auditor)
        other_department = await client.get(f"{DHSC}/spend?after=0", headers=gm_dwp)
        lpl_place_page = await client.get(
            "/api/v1/places/LPL/departments/DWP/spend", headers=gm_dwp
        )
    assert places_of(gm_feed) == ["GM"]
    assert places_of(national_feed) == ["GM", "LPL"]
    assert places_of(auditor_feed) == ["LPL"]
    assert other_department.status_code == 403
    assert lpl_place_page.status_code == 403


async def _sse_places(url: str, headers: dict[str, str], count: int) -> list[str]:
    """The places of the first `count` spend events of the stream."""
    places: list[str] = []
    async with (
        httpx.AsyncClient(timeout=10) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                places.append(json.loads(line[6:])["place_id"])
                if len(places) == count:
                    break
    return places


async def test_the_stream_carries_only_the_grants_places(settings, database_url) -> None:
    # LPL's spend comes first: a stream leaking it would show it as its first event.
    await feed(database_url, spend("LPL", 1), spend("GM", 1), spend("LPL", 2), spend("GM", 2))
    gm_dwp = bearer(await token_for(database_url, "dwp-gm", "department@GM:DWP"))
    async with served(settings, gateway_settings()) as base:
        places = await asyncio.wait_for(
            _sse_places(f"{base}{DWP}/spend/stream?after=0", gm_dwp, 2), 20
        )
    assert places == ["GM", "GM"]


async def test_a_webhook_is_managed_and_fed_within_its_places(settings, database_url) -> None:
    gm_dwp = await token_for(database_url, "dwp-gm", "department@GM:DWP")
    lpl_dwp = await token_for(database_url, "dwp-lpl", "department@LPL:DWP")
    async with WebhookReceiver().running() as receiver, client_for(settings) as client:
        made = await client.post(
            f"{DWP}/webhooks", json={"url": receiver.url}, headers=bearer(gm_dwp, "hook")
        )
        assert made.status_code == 201, made.text
        hook = made.json()["subscription_id"]
        listed_by_lpl = await client.get(f"{DWP}/webhooks", headers=bearer(lpl_dwp))
        log_by_lpl = await client.get(f"{DWP}/webhooks/{hook}/deliveries", headers=bearer(lpl_dwp))
        stopped_by_lpl = await client.post(
            f"{DWP}/webhooks/{hook}/deactivate", headers=bearer(lpl_dwp, "stop")
        )
        await feed(database_url, spend("LPL", 1), spend("GM", 1))

        async def delivered() -> list[dict] | None:
            return [json.loads(a["body"]) for a in receiver.accepted.values()] or None

        bodies = await eventually(delivered)
        await feed(database_url, spend("LPL", 2))
        deliveries = await client.get(f"{DWP}/webhooks/{hook}/deliveries", headers=bearer(gm_dwp))
    assert made.json()["place_ids"] == ["GM"]
    assert listed_by_lpl.json()["webhooks"] == []
    assert log_by_lpl.status_code == stopped_by_lpl.status_code == 404
    assert [body["place_id"] for body in bodies or []] == ["GM"]
    assert len(deliveries.json()["deliveries"]) == 1


async def test_web_pages_and_the_api_agree_for_the_public_role(settings, database_url) -> None:
    token = bearer(await token_for(database_url, "citizen-api", "public@GM"))
    await web_user(database_url, "citizen", "public@GM")
    async with browser_client(settings) as client:
        api = {
            "board": await client.get("/api/v1/places/GM/board/proposals", headers=token),
            "finance": await client.get("/api/v1/places/GM/spend/monthly", headers=token),
            "claims": await client.get("/api/v1/places/GM/claims", headers=token),
        }
        assert (await sign_in(client, "citizen")).status_code == 303
        pages = {
            "board": await client.get("/places/GM/board"),
            "finance": await client.get("/places/GM/finance"),
            "claims": await client.get("/places/GM/claims"),
        }
    assert {name: answer.status_code for name, answer in api.items()} == dict.fromkeys(api, 403)
    assert {name: answer.status_code for name, answer in pages.items()} == dict.fromkeys(pages, 403)


async def test_an_open_stream_ends_once_its_token_is_revoked(settings, database_url) -> None:
    await feed(database_url, spend("GM", 1))
    token = await token_for(database_url, "dwp-feed", "department@*:DWP")
    fast = gateway_settings(gateway_token_cache_s=0.2)
    seen: list[str] = []
    async with served(settings, fast) as base:
        async with (
            httpx.AsyncClient(timeout=10) as client,
            client.stream("GET", f"{base}{DWP}/spend/stream?after=0", headers=bearer(token)) as r,
        ):
            assert r.status_code == 200
            lines = r.aiter_lines()

            async def read_until_end() -> None:
                async for line in lines:
                    seen.append(line)
                    if line.startswith("data: ") and len(seen) < 10 and '"GM"' in line:
                        connection = await asyncpg.connect(
                            database_url, server_settings={"search_path": "gateway"}
                        )
                        try:
                            assert await users.revoke(connection, "dwp-feed") == 1
                        finally:
                            await connection.close()

            await asyncio.wait_for(read_until_end(), 15)
    assert any(line.startswith("event: spend") for line in seen)
    assert "event: end" in seen
