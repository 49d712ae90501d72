"""Safe webhooks on the real gateway and database: a URL into the gateway's own network is refused
at registration unless its host is allowed, and again at every delivery; redirects are not
followed and a receiver's answer is read only so far; a department can stop a webhook, its
pending deliveries are kept as cancelled, and no other department can touch it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from contracts import AttributionShare, SpendRecorded
from contracts.envelope import wrap
from services.gateway import app as handlers
from services.gateway.delivery import db, webhooks
from singlepot.local.ports import free_port
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DWP = "/api/v1/departments/DWP"
STRICT = gateway_settings(webhook_allowed_hosts="")


def spend(number: int, department_code: str = "DWP") -> SpendRecorded:
    return SpendRecorded(
        place_id="GM",
        spend_id=f"SP-{number}",
        payment_id=f"P-{number}",
        allocation_id="A-1",
        provider_id="PROV-A",
        contract_id="C-1",
        amount_pence=1_000 + number,
        payment_kind="outcome_payment",
        purpose="job outcomes",
        financial_year="2026-27",
        attribution=(
            AttributionShare(
                department_code=department_code,
                funding_stream_code="WORK",
                amount_pence=1_000 + number,
            ),
        ),
        transfer_id=f"T-{number}",
    )


async def test_registering_a_webhook_on_127_0_0_1_is_refused_unless_the_host_is_allowed(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    local = "http://127.0.0.1:8999/hook"
    async with client_for(settings, STRICT) as client:
        plain = await client.post(
            f"{DWP}/webhooks", json={"url": local}, headers=bearer(token, "a")
        )
        loopback = await client.post(
            f"{DWP}/webhooks", json={"url": "https://127.0.0.1/hook"}, headers=bearer(token, "b")
        )
        metadata = await client.post(
            f"{DWP}/webhooks",
            json={"url": "https://169.254.169.254/latest/meta-data/"},
            headers=bearer(token, "c"),
        )
        stored = (await client.get(f"{DWP}/webhooks", headers=bearer(token))).json()
    async with client_for(settings, gateway_settings(webhook_allowed_hosts="127.0.0.1")) as client:
        allowed = await client.post(
            f"{DWP}/webhooks", json={"url": local}, headers=bearer(token, "d")
        )

    assert plain.status_code == 422
    assert plain.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in plain.json()["errors"]] == [("url", "https_only")]
    assert [(e["field"], e["rule"]) for e in loopback.json()["errors"]] == [
        ("url", "public_address")
    ]
    assert "loopback" in loopback.json()["detail"]
    assert metadata.status_code == 422
    assert "link-local" in metadata.json()["errors"][0]["message"]
    assert stored["webhooks"] == []
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["url"] == local


@asynccontextmanager
async def spend_pending_for(
    database_url: str, url: str, number: int = 1
) -> AsyncIterator[asyncpg.Pool]:
    """A subscription to `url` stored as if registered while allowed, and one DWP spend queued
    for it; yields a pool on the gateway's schema."""
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert pool is not None
    try:
        async with pool.acquire() as connection, connection.transaction():
            await db.insert_subscription(
                connection, uuid.uuid4(), "DWP", url, "secret", "dwp", None
            )
            event = spend(number)
            await handlers.handle_batch(connection, [(wrap(event, producer="ledger"), event)])
        yield pool
    finally:
        await pool.close()


async def delivery_rows(pool: asyncpg.Pool, url_ending: str = "") -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT d.status, d.last_error, d.attempts FROM webhook_deliveries d "
        "JOIN webhook_subscriptions s USING (subscription_id) WHERE s.url LIKE '%' || $1",
        url_ending,
    )
    return [dict(row) for row in rows]


async def test_a_delivery_to_an_address_no_longer_allowed_is_refused_when_it_connects(
    database_url,
) -> None:
    receiver = WebhookReceiver()
    async with receiver.running(), spend_pending_for(database_url, receiver.url) as pool:
        async with webhooks.guarded_client(STRICT) as client:
            refused = await webhooks.deliver_due(pool, client, STRICT)
        after_refusal = await delivery_rows(pool)
        attempts_after_refusal = len(receiver.attempts)
        await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        allowed = gateway_settings()
        async with webhooks.guarded_client(allowed) as client:
            await webhooks.deliver_due(pool, client, allowed)
        after_allowing = await delivery_rows(pool)

    assert refused == 1
    assert attempts_after_refusal == 0
    assert len(receiver.accepted) == 1
    [row] = after_refusal
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "ConnectError" in row["last_error"] and "loopback" in row["last_error"]
    assert [row["status"] for row in after_allowing] == ["delivered"]


class AwkwardReceiver:
    """Answers /redirect with a 307 to /elsewhere, and /endless with 200 and a body that goes
    on for far longer than any timeout; remembers the paths it was asked for."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/redirect":
            location = f"http://127.0.0.1:{self.port}/elsewhere".encode()
            await send(
                {"type": "http.response.start", "status": 307, "headers": [(b"location", location)]}
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        deadline = time.monotonic() + 15
        with contextlib.suppress(Exception):  # the gateway hung up, as it should
            while time.monotonic() < deadline:
                await send({"type": "http.response.body", "body": b"x" * 65_536, "more_body": True})
                await asyncio.sleep(0.001)
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})


async def test_redirects_are_not_followed_and_an_endless_answer_is_cut_off(database_url) -> None:
    port = free_port()
    receiver = AwkwardReceiver(port)
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    limits = gateway_settings(webhook_timeout_s=3.0, webhook_response_bytes_max=1_024)
    try:
        await eventually(lambda: _started(server))
        base = f"http://127.0.0.1:{port}"
        async with spend_pending_for(database_url, f"{base}/redirect") as pool:
            async with webhooks.guarded_client(limits) as client:
                await webhooks.deliver_due(pool, client, limits)
            redirected = await delivery_rows(pool)
        async with spend_pending_for(database_url, f"{base}/endless", number=2) as pool:
            started = time.monotonic()
            async with webhooks.guarded_client(limits) as client:
                await webhooks.deliver_due(pool, client, limits)
            took_s = time.monotonic() - started
            endless = await delivery_rows(pool, "/endless")
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 20)

    assert [row["status"] for row in redirected] == ["pending"]
    assert "redirects are not followed" in redirected[0]["last_error"]
    assert "/elsewhere" not in receiver.paths
    # The answer never ends; delivered all the same, long before the attempt's time was up.
    assert [row["status"] for row in endless] == ["delivered"]
    assert took_s < limits.webhook_timeout_s


async def _started(server: uvicorn.Server) -> bool:
    return server.started


async def test_a_department_stops_a_webhook_and_its_pending_deliveries_are_kept_as_cancelled(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver(failures_per_event=1_000)
    slow_retries = gateway_settings(webhook_retry_backoff_s=60.0, webhook_retry_backoff_max_s=60.0)
    async with receiver.running(), client_for(settings, slow_retries) as client:
        made = await client.post(
            f"{DWP}/webhooks", json={"url": receiver.url}, headers=bearer(token, "sub")
        )
        hook = f"{DWP}/webhooks/{made.json()['subscription_id']}"
        await publish(settings, spend(1), spend(2))

        async def tried_both() -> bool:
            return len({attempt["event_id"] for attempt in receiver.attempts}) == 2

        await eventually(tried_both, timeout_s=30)
        stopped = await client.post(f"{hook}/deactivate", headers=bearer(token, "stop-1"))
        again = await client.post(f"{hook}/deactivate", headers=bearer(token, "stop-2"))
        replayed = await client.post(f"{hook}/deactivate", headers=bearer(token, "stop-1"))
        attempts_when_stopped = len(receiver.attempts)
        await publish(settings, spend(3))
        await eventually(lambda: _feed_has(client, token, 3), timeout_s=30)
        await asyncio.sleep(0.5)  # the delivery loop polls every 10 ms: it would have posted
        log = (await client.get(f"{hook}/deliveries", headers=bearer(token))).json()
        cancelled = await client.get(f"{hook}/deliveries?status=cancelled", headers=bearer(token))
        listed = (await client.get(f"{DWP}/webhooks", headers=bearer(token))).json()
        replay = await client.post(
            f"{hook}/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=bearer(token, "r")
        )

    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["active"] is False and stopped.json()["cancelled"] == 2
    assert stopped.json()["deactivated_by"] == "dwp-feed"
    assert again.status_code == 200 and again.json()["cancelled"] == 0
    assert again.json()["deactivated_at"] == stopped.json()["deactivated_at"]
    assert replayed.headers.get("Idempotency-Replayed") == "true"
    assert replayed.json() == stopped.json()
    assert len(receiver.attempts) == attempts_when_stopped
    # Nothing deleted: both deliveries stay in the log with their attempts; none for spend 3.
    assert [d["status"] for d in log["deliveries"]] == ["cancelled", "cancelled"]
    assert all(d["attempt_log"] for d in log["deliveries"])
    assert all(d["last_error"] == webhooks.CANCELLED_REASON for d in log["deliveries"])
    assert len(cancelled.json()["deliveries"]) == 2
    [webhook] = listed["webhooks"]
    assert webhook["active"] is False and webhook["deactivated_at"] is not None
    assert replay.status_code == 409
    assert replay.json()["errors"][0]["rule"] == "active"


async def _feed_has(client: httpx.AsyncClient, token: str, count: int) -> bool:
    feed = (await client.get(f"{DWP}/spend", headers=bearer(token))).json()
    return len(feed["spend"]) >= count


async def test_another_department_cannot_stop_or_even_find_a_departments_webhook(
    settings, database_url
) -> None:
    dwp = await token_for(database_url, "dwp-feed", "department:DWP")
    dhsc = await token_for(database_url, "dhsc-feed", "department:DHSC")
    async with client_for(settings) as client:
        made = await client.post(
            f"{DWP}/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=bearer(dwp, "s")
        )
        subscription_id = made.json()["subscription_id"]
        through_dwp = await client.post(
            f"{DWP}/webhooks/{subscription_id}/deactivate", headers=bearer(dhsc, "x1")
        )
        through_dhsc = await client.post(
            f"/api/v1/departments/DHSC/webhooks/{subscription_id}/deactivate",
            headers=bearer(dhsc, "x2"),
        )
        listed = (await client.get(f"{DWP}/webhooks", headers=bearer(dwp))).json()

    assert through_dwp.status_code == 403
    assert through_dhsc.status_code == 404
    assert [webhook["active"] for webhook in listed["webhooks"]] == [True]
