"""Webhook delivery: a background loop that posts due deliveries, signed, and records each
attempt. A delivery is a row per subscription and spend event, so a receiver gets each event
until it answers 2xx, and can drop repeats by the `Singlepot-Event-Id` header.

Rows stay locked (`FOR UPDATE SKIP LOCKED`) while they are posted, so several gateway replicas
never post the same delivery at once; the outcome commits with the attempt's log row.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from opentelemetry.trace import SpanKind

from services.gateway import db, domain
from services.gateway.settings import GatewaySettings
from services.runtime import telemetry
from services.runtime.host import ServiceHost

log = logging.getLogger(__name__)

EVENT_ID_HEADER = "Singlepot-Event-Id"
TIMESTAMP_HEADER = "Singlepot-Timestamp"
SIGNATURE_HEADER = "Singlepot-Signature"
ATTEMPT_HEADER = "Singlepot-Delivery-Attempt"
SUBSCRIPTION_HEADER = "Singlepot-Subscription-Id"
ERROR_LENGTH_MAX = 500


def payload(delivery: dict[str, Any]) -> bytes:
    """The body a receiver gets: the spend as the department sees it, with its feed number."""
    document = {
        "event_id": str(delivery["event_id"]),
        "sequence": delivery["sequence"],
        "department_code": delivery["department_code"],
        "place_id": delivery["place_id"],
        "spend": json.loads(delivery["record"]),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed_headers(delivery: dict[str, Any], body: bytes, now_s: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(delivery["event_id"]),
        TIMESTAMP_HEADER: str(now_s),
        SIGNATURE_HEADER: domain.webhook_signature(delivery["secret"], now_s, body),
        ATTEMPT_HEADER: str(delivery["attempts"] + 1),
        SUBSCRIPTION_HEADER: str(delivery["subscription_id"]),
    }


async def _post(client: httpx.AsyncClient, delivery: dict[str, Any]) -> tuple[int | None, str]:
    """Post one delivery, in a span of the spend event's trace: the trace context stored with
    the spend, so it survives a restart (rows fed before it was stored fall back to the trace
    this process remembers, if any)."""
    with telemetry.span(
        "gateway webhook deliver",
        "gateway",
        kind=SpanKind.CLIENT,
        traceparent=delivery.get("traceparent") or telemetry.remembered_trace(delivery["event_id"]),
        attributes={
            telemetry.EVENT_ID_ATTRIBUTE: str(delivery["event_id"]),
            telemetry.PLACE_ATTRIBUTE: delivery["place_id"],
            "singlepot.department_code": delivery["department_code"],
            "singlepot.delivery_attempt": delivery["attempts"] + 1,
        },
    ) as span:
        status_code, error = await _post_once(client, delivery)
        if span is not None and status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
        return status_code, error


async def _post_once(client: httpx.AsyncClient, delivery: dict[str, Any]) -> tuple[int | None, str]:
    """Post one delivery: (status code, error) — error is '' when the receiver took it."""
    body = payload(delivery)
    try:
        response = await client.post(
            delivery["url"], content=body, headers=signed_headers(delivery, body, int(time.time()))
        )
    except httpx.HTTPError as error:
        return None, f"{error.__class__.__name__}: {error}"[:ERROR_LENGTH_MAX]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"receiver answered {response.status_code}"


async def deliver_due(
    pool: asyncpg.Pool, client: httpx.AsyncClient, settings: GatewaySettings
) -> int:
    """Attempt every due delivery (up to the batch size) once; return how many were tried."""
    async with pool.acquire() as connection, connection.transaction():
        due = await db.lock_due_deliveries(connection, settings.webhook_batch_size_max)
        if not due:
            return 0
        started = time.monotonic()
        posted = await asyncio.gather(*[_post(client, delivery) for delivery in due])
        duration_ms = int((time.monotonic() - started) * 1000)
        outcomes = [
            outcome(settings, delivery, status_code, error, duration_ms)
            for delivery, (status_code, error) in zip(due, posted, strict=True)
        ]
        await db.record_delivery_outcomes(connection, outcomes)
    return len(due)


def outcome(
    settings: GatewaySettings,
    delivery: dict[str, Any],
    status_code: int | None,
    error: str,
    duration_ms: int,
) -> db.DeliveryOutcome:
    """Delivered; or due again after a back-off; or, out of attempts, a dead letter."""
    attempt = delivery["attempts"] + 1
    if not error:
        status, retry_in_s = "delivered", 0.0
    elif attempt >= settings.webhook_attempts_max:
        status, retry_in_s = "dead", 0.0
    else:
        status = "pending"
        retry_in_s = domain.retry_delay_s(
            attempt, settings.webhook_retry_backoff_s, settings.webhook_retry_backoff_max_s
        )
    return db.DeliveryOutcome(
        delivery["delivery_id"], status, retry_in_s, error, attempt, status_code, duration_ms
    )


def delivery_loop(settings: GatewaySettings) -> Callable[[ServiceHost], Awaitable[None]]:
    """The background task that delivers webhooks for as long as the gateway runs."""

    async def deliver_webhooks(host: ServiceHost) -> None:
        assert host.pool is not None
        limits = httpx.Limits(max_connections=settings.webhook_batch_size_max)
        async with httpx.AsyncClient(timeout=settings.webhook_timeout_s, limits=limits) as client:
            while True:
                try:
                    tried = await deliver_due(host.pool, client, settings)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The database is away; due deliveries stay due and are tried again.
                    log.exception("webhook delivery failed; retrying")
                    tried = 0
                    await asyncio.sleep(max(settings.webhook_poll_interval_s, 0.5))
                if tried < settings.webhook_batch_size_max:
                    await asyncio.sleep(settings.webhook_poll_interval_s)

    return deliver_webhooks
