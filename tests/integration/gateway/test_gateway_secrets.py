"""Finding 8 of issue 14: a webhook's signing secret is shown once, in the first answer (an
idempotent replay does not show it again and the command log never holds it); every answer
carries the security headers; pages hold no inline script or style the policy does not allow;
/docs is Swagger UI from the installed package, not a CDN."""

from __future__ import annotations

import base64
import hashlib
import re

import asyncpg
import pytest

from services.gateway.identity.security import DefaultSecretRefused
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_app,
    gateway_settings,
    token_for,
)

pytestmark = pytest.mark.integration

WEBHOOKS = "/api/v1/departments/DWP/webhooks"


async def test_a_webhook_secret_is_shown_once_and_never_kept_in_the_command_log(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp", "department:DWP")
    body = {"url": "https://127.0.0.1:8443/hook"}
    async with client_for(settings) as client:
        first = await client.post(WEBHOOKS, json=body, headers=bearer(token, "sub-1"))
        again = await client.post(WEBHOOKS, json=body, headers=bearer(token, "sub-1"))
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        logged = await connection.fetchval("SELECT response_body::text FROM command_log")
        stored = await connection.fetchval("SELECT secret FROM webhook_subscriptions")
    finally:
        await connection.close()

    assert first.status_code == again.status_code == 201, first.text
    secret = first.json()["secret"]
    assert len(secret) >= 40 and stored == secret  # delivery signs with it
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["secret"] is None
    assert "shown once" in again.json()["secret_shown"]
    assert again.json()["subscription_id"] == first.json()["subscription_id"]
    assert secret not in logged


async def test_every_kind_of_answer_carries_the_security_headers(settings) -> None:
    async with client_for(settings) as client:
        answers = {
            "page": await client.get("/sign-in", headers={"Accept": "text/html"}),
            "api": await client.get("/api/v1/places/GM/pot"),  # 401 problem
            "missing": await client.get("/api/v1/nothing-here"),
            "asset": await client.get("/web-static/init.js"),
            "docs": await client.get("/docs"),
            "openapi": await client.get("/openapi.json"),
        }
    for name, answer in answers.items():
        headers = answer.headers
        assert headers["X-Content-Type-Options"] == "nosniff", name
        assert headers["Referrer-Policy"] == "no-referrer", name
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy, name
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, name


async def test_pages_hold_no_inline_script_or_style_the_policy_does_not_allow(settings) -> None:
    async with client_for(settings) as client:
        page = await client.get("/sign-in", headers={"Accept": "text/html"})
        chart_css = await client.get("/web-charts.css")
    policy = page.headers["Content-Security-Policy"]
    html = page.text
    for body in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.DOTALL):
        if body.strip():
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy, f"inline script not allowed by CSP: {body}"
    assert "<style" not in html and " style=" not in html
    assert chart_css.status_code == 200 and ".sp-chart" in chart_css.text


async def test_the_api_documentation_comes_from_the_installed_swagger_ui(settings) -> None:
    async with client_for(settings) as client:
        docs = await client.get("/docs")
        assets = [
            await client.get(path) for path in re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        ]
    assert docs.status_code == 200
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', docs.text))  # no CDN
    assert "<script>" not in docs.text  # no inline script
    assert [asset.status_code for asset in assets] == [200, 200, 200]
    assert "SwaggerUIBundle" in assets[1].text and "/openapi.json" in assets[2].text


def test_the_gateway_refuses_to_start_with_the_public_pseudonymisation_key(settings) -> None:
    production = settings.model_copy(update={"local_defaults_allowed": False})
    with pytest.raises(DefaultSecretRefused, match="SINGLEPOT_GATEWAY_PSEUDONYM_KEY"):
        gateway_app(production)
    gateway_app(production, gateway_settings(gateway_pseudonym_key="a-real-secret-key"))
    gateway_app(settings)  # the local launcher and the tests may use the default
