"""Departments' spend subscriptions on the real gateway, fed by real spend events on the real
broker: webhooks arrive exactly once in effect with valid signatures even when the receiver
fails the first attempts; dead letters can be replayed; an SSE client resumes without gaps."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contracts import AttributionShare, SpendRecorded
from services.gateway.delivery.domain import signature_is_valid
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    client_for,
    gateway_settings,
    served,
    token_for,
)
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DWP = "/api/v1/departments/DWP"


def spend(number: int, *shares: tuple[str, int]) -> SpendRecorded:
    return SpendRecorded(
        place_id="GM",
        spend_id=f"SP-{number}",
        payment_id=f"P-{number}",
        allocation_id="A-1",
        provider_id="PROV-A",
        contract_id="C-1",
        amount_pence=sum(amount for _, amount in shares),
        payment_kind="outcome_payment",
        purpose="job outcomes",
        financial_year="2026-27",
        attribution=tuple(
            AttributionShare(department_code=code, funding_stream_code=f"{code}-S", amount_pence=a)
            for code, a in shares
        ),
        transfer_id=f"T-{number}",
    )


async def _subscribe(client: httpx.AsyncClient, token: str, url: str, key: str) -> dict:
    response = await client.post(f"{DWP}/webhooks", json={"url": url}, headers=bearer(token, key))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_webhook_gets_every_spend_event_once_in_effect_with_valid_signatures(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver(failures_per_event=2)
    async with receiver.running(), client_for(settings) as client:
        subscription = await _subscribe(client, token, receiver.url, "sub-1")
        mixed = [spend(n, ("DWP", 1_000 + n), ("DHSC", 500)) for n in range(1, 6)]
        await publish(settings, *mixed, spend(99, ("DHSC", 700)))
        await eventually(lambda: _at_least(receiver, 5), timeout_s=30)
        deliveries_url = f"{DWP}/webhooks/{subscription['subscription_id']}/deliveries"

        async def all_recorded() -> httpx.Response | None:
            # The receiver has the last copy a moment before the gateway records its outcome.
            response = await client.get(deliveries_url, headers=bearer(token))
            statuses = {d["status"] for d in response.json()["deliveries"]}
            return response if statuses == {"delivered"} else None

        log = await eventually(all_recorded)

    expected_ids = set(receiver.accepted)
    assert len(expected_ids) == 5
    assert receiver.accepted_twice == []
    secret = subscription["secret"]
    for attempt in receiver.attempts:
        headers = attempt["headers"]
        timestamp = int(headers["singlepot-timestamp"])
        assert abs(time.time() - timestamp) < 60
        assert signature_is_valid(
            secret, timestamp, attempt["body"], headers["singlepot-signature"]
        )
    bodies = [json.loads(copy["body"]) for copy in receiver.accepted.values()]
    # DWP sees its own shares only, and never the DHSC-only spend.
    assert sorted(body["spend"]["spend_id"] for body in bodies) == [f"SP-{n}" for n in range(1, 6)]
    assert all(
        [share["department_code"] for share in body["spend"]["attribution"]] == ["DWP"]
        for body in bodies
    )
    assert all(
        body["spend"]["department_amount_pence"] == 1_000 + int(body["spend"]["spend_id"][3:])
        for body in bodies
    )
    deliveries = log.json()["deliveries"]
    assert [d["status"] for d in deliveries] == ["delivered"] * 5
    assert all(len(d["attempt_log"]) == 3 for d in deliveries)
    assert all(d["attempt_log"][0]["status_code"] == 500 for d in deliveries)


async def _at_least(receiver: WebhookReceiver, count: int) -> bool:
    return len(receiver.accepted) >= count


async def test_a_delivery_that_keeps_failing_is_dead_lettered_and_can_be_replayed(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver(failures_per_event=1_000)
    limits = gateway_settings(webhook_attempts_max=3)
    async with receiver.running(), client_for(settings, limits) as client:
        subscription = await _subscribe(client, token, receiver.url, "sub-dead")
        deliveries_url = f"{DWP}/webhooks/{subscription['subscription_id']}/deliveries"
        before = datetime.now(UTC) - timedelta(seconds=5)
        await publish(settings, spend(1, ("DWP", 100)))

        async def dead() -> list:
            response = await client.get(
                deliveries_url, params={"status": "dead"}, headers=bearer(token)
            )
            return list(response.json()["deliveries"])

        dead_letters = await eventually(dead, timeout_s=30)
        receiver.failures_per_event = 0
        replayed = await client.post(
            f"{DWP}/webhooks/{subscription['subscription_id']}/replay",
            json={"since": before.isoformat()},
            headers=bearer(token, "replay-1"),
        )
        await eventually(lambda: _at_least(receiver, 1), timeout_s=30)

    assert len(dead_letters) == 1
    assert len(dead_letters[0]["attempt_log"]) == 3
    assert replayed.json()["queued"] == 1
    assert len(receiver.accepted) == 1


async def test_an_sse_client_resumes_from_its_last_event_id_without_gaps(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    async with served(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        await publish(settings, *[spend(n, ("DWP", 10 * n)) for n in range(1, 4)])
        first = await _read_events(client, token, None, count=2)
        await publish(settings, *[spend(n, ("DWP", 10 * n)) for n in range(4, 7)])
        rest = await _read_events(client, token, first[-1]["id"], count=4)

    sequences = [int(event["id"]) for event in first + rest]
    assert sequences == list(range(sequences[0], sequences[0] + 6))
    spend_ids = [json.loads(event["data"])["spend"]["spend_id"] for event in first + rest]
    assert sorted(spend_ids, key=lambda s: int(s[3:])) == [f"SP-{n}" for n in range(1, 7)]


async def _read_events(
    client: httpx.AsyncClient, token: str, last_event_id: str | None, *, count: int
) -> list[dict[str, str]]:
    """Read `count` SSE events, then disconnect."""
    headers = bearer(token)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with client.stream("GET", f"{DWP}/spend/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if not line:
                if "data" in current:
                    events.append(current)
                    if len(events) == count:
                        break
                current = {}
                continue
            name, _, value = line.partition(": ")
            if name in ("id", "event", "data"):
                current[name] = value
    return events
