"""Helpers for web page tests: people with passwords, a browser-like client of the real gateway
app (HTTPS, so Secure cookies are sent), signing in, and reading a page's CSRF token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from services.gateway.domain import parse_grant
from services.gateway.identity import users
from services.gateway.settings import GatewaySettings
from services.runtime.settings import RuntimeSettings
from tests.integration.gateway.gateway_support import gateway_app, gateway_settings

PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html,application/xhtml+xml"}
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def gateway_rows(database_url: str, query: str) -> list[asyncpg.Record]:
    """Rows of a query on the gateway's read models (tests wait on them with `eventually`)."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        return await connection.fetch(query)
    finally:
        await connection.close()


async def web_user(
    database_url: str, principal_id: str, *grants: str, password: str = PASSWORD
) -> None:
    """A person holding `grants` who signs in with `password`."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await users.add_principal(connection, principal_id, [parse_grant(g) for g in grants])
        await users.set_password(connection, principal_id, password)
    finally:
        await connection.close()


@asynccontextmanager
async def browser_client(
    settings: RuntimeSettings, gateway: GatewaySettings | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real gateway app in this process, at an https:// address."""
    app = gateway_app(settings, gateway or gateway_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="https://gateway", headers=HTML
        ) as client:
            yield client


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


def idempotency_key(html: str) -> str:
    match = _KEY.search(html)
    assert match, "the page has no idempotency key field"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient, user_id: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/sign-in")
    return await client.post(
        "/sign-in",
        data={"user_id": user_id, "password": password, "csrf_token": csrf_token(form.text)},
    )
