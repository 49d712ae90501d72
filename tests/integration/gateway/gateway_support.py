"""Helpers for gateway tests: the real gateway app in-process (or on a real port), tokens for
principals with given grants, and valid bodies for every command."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI

from contracts.envelope import Envelope, unwrap
from services.gateway.app import HANDLERS, definition
from services.gateway.domain import parse_grant
from services.gateway.identity import users
from services.gateway.settings import GatewaySettings
from services.runtime.consumer import HandlerContext
from services.runtime.host import build_http_app
from services.runtime.outbox import Outbox
from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port

FAST = {
    "webhook_retry_backoff_s": 0.05,
    "webhook_retry_backoff_max_s": 0.2,
    "webhook_timeout_s": 2.0,
    "webhook_poll_interval_s": 0.01,
    "gateway_sse_poll_interval_s": 0.02,
    "gateway_rate_limit_per_s": 1000.0,
    "gateway_rate_limit_burst_max": 1000,
    # The tests' webhook receivers listen on 127.0.0.1, which the URL rule refuses unless allowed.
    "webhook_allowed_hosts": "127.0.0.1",
}


def gateway_settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(**{**FAST, **overrides})


def gateway_app(settings: RuntimeSettings, gateway: GatewaySettings | None = None) -> FastAPI:
    gateway = gateway or gateway_settings()
    app = build_http_app(definition(gateway), settings)
    _share_the_openapi_document(app, (gateway.model_dump_json(), _shared_settings(settings)))
    return app


# The OpenAPI document of each distinct gateway, built once per test session. Building it walks
# every route's models (a second or more), and the gateway needs it for any API request with a
# query (to refuse unknown parameters); an app with the same settings and routes has the same
# document. Each app gets a copy of its own, so a test that changes one changes no other.
_OPENAPI_DOCUMENTS: dict[tuple[str, ...], str] = {}


def _share_the_openapi_document(app: FastAPI, settings_key: tuple[str, str]) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            key = (*settings_key, _routes_fingerprint(app))
            if key not in _OPENAPI_DOCUMENTS:
                _OPENAPI_DOCUMENTS[key] = json.dumps(build())
            app.openapi_schema = json.loads(_OPENAPI_DOCUMENTS[key])
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _shared_settings(settings: RuntimeSettings) -> str:
    """The runtime settings without what differs from test to test (database and topics)."""
    per_test = {"database_url", "topic_prefix", "kafka_bootstrap_servers"}
    return settings.model_dump_json(exclude=per_test)


def _routes_fingerprint(app: FastAPI) -> str:
    return repr(
        [
            (type(route).__name__, vars(route).get("path"), sorted(vars(route).get("methods", ())))
            for route in app.routes
        ]
    )


@asynccontextmanager
async def client_for(
    settings: RuntimeSettings, gateway: GatewaySettings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real gateway app in this process (host started)."""
    app = gateway_app(settings, gateway)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@asynccontextmanager
async def served(
    settings: RuntimeSettings, gateway: GatewaySettings | None = None
) -> AsyncIterator[str]:
    """The real gateway served by uvicorn on a free port in this event loop; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        gateway_app(settings, gateway), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def token_for(database_url: str, principal_id: str, *grants: str, days: float = 1) -> str:
    """A fresh token for a principal holding `grants` (written `role[@place][:subject]`)."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await users.add_principal(connection, principal_id, [parse_grant(g) for g in grants])
        issued = await users.issue_token(connection, principal_id, lifetime=timedelta(days=days))
    finally:
        await connection.close()
    return issued.token


def bearer(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def settlement_body(settlement_id: str = "S-1", amount_pence: int = 1_000_000) -> dict[str, Any]:
    return {
        "settlement_id": settlement_id,
        "department_code": "DWP",
        "funding_stream_code": "WORK",
        "spending_review_period": "SR2025",
        "profile": [{"financial_year": "2026-27", "amount_pence": amount_pence}],
    }


def proposal_body(allocation_id: str = "A-1") -> dict[str, Any]:
    return {
        "allocation_id": allocation_id,
        "allocation_type": "grant",
        "recipient_id": "TRUST",
        "purpose": "Family hubs",
        "mission_id": "M-1",
        "start_date": "2026-06-01",
        "end_date": "2027-03-31",
        "value_pence": 150_000,
        "financial_year": "2026-27",
    }


def evidence_body(provider_id: str, batch_id: str = "B-1") -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "provider_id": provider_id,
        "claims": [
            {
                "participant_hash": "a" * 64,
                "metric_id": "JOB-START",
                "achieved_on": "2026-09-15",
                "evidence_reference": "payroll-1",
            }
        ],
    }


class WebhookReceiver:
    """A department's webhook endpoint, served by uvicorn on a free port: it answers 500 to the
    first `failures_per_event` attempts at each event, then 200, and keeps everything it got."""

    def __init__(self, failures_per_event: int = 0) -> None:
        self.failures_per_event = failures_per_event
        self.attempts: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.accepted_twice: list[str] = []
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        event_id = headers.get("singlepot-event-id", "")
        earlier = sum(1 for attempt in self.attempts if attempt["event_id"] == event_id)
        self.attempts.append({"event_id": event_id, "headers": headers, "body": body})
        status = 500 if earlier < self.failures_per_event else 200
        if status == 200:
            # What a receiver does: keep the first copy of each event id, drop repeats.
            if event_id in self.accepted:
                self.accepted_twice.append(event_id)
            self.accepted.setdefault(event_id, {"headers": headers, "body": body})
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookReceiver]:
        async with serving(self, self.port):
            yield self


@asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[None]:
    """An ASGI app served by uvicorn on 127.0.0.1:`port` until the block ends: a receiver of
    the tests' own."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def feed_projector(database_url: str, envelopes: Iterable[Envelope]) -> None:
    """Each event through the gateway's own projector handlers, a transaction each, as its
    consumer does."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        for envelope in envelopes:
            event = unwrap(envelope)
            async with connection.transaction():
                outbox = Outbox(connection, "gateway", causation=envelope)
                await HANDLERS[type(event)](HandlerContext(connection, outbox, envelope), event)
    finally:
        await connection.close()
