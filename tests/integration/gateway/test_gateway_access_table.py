"""The permission table, walked: every route of the real gateway (API routes from its router and
OpenAPI document, web pages and forms from the web router) is asked by every role at the right
scope, at a wrong place, for a wrong provider and a wrong department, and by a revoked token and
by nobody, and every answer must agree with `services/gateway/identity/permissions.py`. A route
missing from the table fails the test; so does any answer the table does not predict.

The expectation is worked out here from the table's data (each door's action and scope, and
`ROLE_PERMISSIONS`) by a few lines of its own, not by the gateway's grant checks, so a broken
check in the gateway disagrees with it. What agreeing means:
- allowed: the answer is neither 401 nor 403 (nor, for a page, a redirect to sign in);
- refused: the API answers 401 (no or revoked token) or 403; a page redirects to sign in (no
  or ended session) or answers 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.routing import Route

from contracts import MetricPrice, OutcomesContractRegistered
from services.gateway.domain import ROLE_PERMISSIONS, SUBJECT_ROLES, Role, parse_grant
from services.gateway.identity import permissions, users
from services.gateway.identity.permissions import Door, Scope
from services.gateway.web import csrf
from tests.integration.gateway.gateway_support import (
    bearer,
    gateway_app,
    gateway_settings,
    served,
    token_for,
)
from tests.integration.gateway.test_gateway_views import envelopes, feed_batch
from tests.integration.web.web_support import PASSWORD, sign_in, web_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Who asks: one principal per role, each granted in GM (providers and departments for PROV-A
# and DWP), and the two national grants.
PRINCIPALS = {
    "finance": "finance@GM",
    "board_member": "board_member@GM",
    "chair": "chair@GM",
    "accounting_officer": "accounting_officer@GM",
    "verifier": "verifier@GM",
    "auditor": "auditor@GM",
    "public": "public@GM",
    "programme": "programme@GM",
    "audit_committee": "audit_committee@GM",
    "provider": "provider@GM:PROV-A",
    "department": "department@GM:DWP",
    "national_auditor": "auditor@*",
    "national_department": "department@*:DWP",
}
REVOKED, NOBODY = "revoked", "nobody"

# Where: the right scope, and each wrong one a route can name.
RIGHT = {
    "place_id": "GM",
    "contract_id": "C-A",
    "provider_id": "PROV-A",
    "department_code": "DWP",
    "allocation_id": "A-1",
    "financial_year": "2026-27",
    "quarter": "Q1",
    "half": "H1",
    "funding_stream_code": "WORK",
    "payment_id": "P-1",
    "dispute_id": "6f1c2a3e-0000-4000-8000-000000000002",
    "claim_id": "CL-1",
    "report_number": "1",
    "batch_id": "B-1",
    "organisation_ref": "PROV-A",
    "command_id": "6f1c2a3e-0000-4000-8000-000000000001",
    "question_id": "6f1c2a3e-0000-4000-8000-000000000003",
    "trigger_id": "6f1c2a3e-0000-4000-8000-000000000004",
    "referral_id": "6f1c2a3e-0000-4000-8000-000000000005",
    "report_id": "R-1",
    "recommendation_number": "1",
    "round_id": "PB-1",
    "proposal_id": "6f1c2a3e-0000-4000-8000-000000000006",
}
WRONG = {
    "wrong place": {"place_id": "LPL"},
    "wrong provider": {"contract_id": "C-B", "provider_id": "PROV-B"},
    "wrong department": {"department_code": "DHSC"},
}
# The contracts the gateway knows: (place, contract) → provider.
CONTRACTS = {("GM", "C-A"): "PROV-A", ("GM", "C-B"): "PROV-B"}


@dataclass(frozen=True)
class Asked:
    """One request of the walk and what the table says of it."""

    who: str
    method: str
    path: str
    url: str
    allowed: bool


def grants_of(who: str) -> list[tuple[Role, str, str]]:
    grant = parse_grant(PRINCIPALS[who])
    return [(grant.role, grant.place_id, grant.subject_id)]


def expected(door: Door, who: str, params: dict[str, str]) -> bool:
    """What the table says, read here independently of the gateway's own grant checks."""
    if door.scope is Scope.OPEN:
        return True
    if who in (REVOKED, NOBODY):
        return False
    if door.scope is Scope.SIGNED_IN:
        return True
    place = params.get("place_id")
    subject = {
        Scope.CONTRACT_PROVIDER: CONTRACTS.get((place or "", params.get("contract_id", ""))),
        Scope.PATH_PROVIDER: params.get("provider_id"),
        Scope.PATH_DEPARTMENT: params.get("department_code"),
        Scope.DEPARTMENT_PLACES: params.get("department_code"),
        Scope.QUERY_DEPARTMENT: None,  # the walk sends no ?department_code
    }.get(door.scope)
    for role, granted_place, granted_subject in grants_of(who):
        if door.permission not in ROLE_PERMISSIONS[role]:
            continue
        bound = role in SUBJECT_ROLES
        in_place = door.scope is Scope.DEPARTMENT_PLACES or granted_place in ("*", place)
        if not in_place:
            continue
        if door.scope is Scope.PLACE and not bound:
            return True
        if door.scope is Scope.PLACE_OWN_ROWS:
            return True
        if door.scope not in (Scope.PLACE, Scope.PLACE_OWN_ROWS) and (
            not bound or granted_subject == subject
        ):
            return True
    return door.otherwise is not None and expected(door.otherwise, who, params)


def every_route(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) the app serves: its routes (API and web) and its OpenAPI document."""
    served_routes = {
        (method, path) for path, methods in _flattened(app.routes) for method in methods
    }
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= served_routes
    return sorted(served_routes, key=lambda pair: (pair[1] == "/sign-out", pair))


def _flattened(routes: list[Any], prefix: str = "") -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, inside included routers too (static mounts are files)."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _flattened(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            found.append((prefix + route.path, set(route.methods or ())))
    return found


def requests_of(method: str, path: str, door: Door, subscription_id: str) -> list[Asked]:
    """The requests the walk makes of one route: each principal at each scope."""
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    unknown = set(names) - set(RIGHT) - {"subscription_id"}
    assert not unknown, f"{method} {path}: the walk has no value for {unknown}; add one"
    scopes = {"right": RIGHT} | {
        name: RIGHT | change for name, change in WRONG.items() if set(change) & set(names)
    }
    asked = []
    for params in scopes.values():
        values = params | {"subscription_id": subscription_id}
        url = path.format(**{name: values[name] for name in names})
        for who in [*PRINCIPALS, REVOKED, NOBODY]:
            allowed = expected(door, who, {n: values[n] for n in names})
            asked.append(Asked(who, method, path, url, allowed))
    return asked


def agrees(asked: Asked, response: httpx.Response) -> bool:
    status = response.status_code
    to_sign_in = status == 303 and response.headers.get("location", "").startswith("/sign-in")
    if asked.allowed:
        return status not in (401, 403) and not to_sign_in
    if asked.path.startswith(("/api/", "/open-data/")):
        return status in (401, 403)
    return to_sign_in or status == 403


async def _setting_up(database_url: str) -> dict[str, str]:
    """Contracts C-A (PROV-A) and C-B (PROV-B) in GM; a token per principal; one revoked."""
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert pool is not None
    try:
        events = [
            (
                OutcomesContractRegistered(
                    place_id=place,
                    contract_id=contract,
                    allocation_id="A-1",
                    provider_id=provider,
                    prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
                    cap_pence=10_000,
                ),
                datetime.now(UTC),
            )
            for (place, contract), provider in CONTRACTS.items()
        ]
        await feed_batch(pool, envelopes(events))
    finally:
        await pool.close()
    tokens = {who: await token_for(database_url, who, grant) for who, grant in PRINCIPALS.items()}
    tokens[REVOKED] = await token_for(database_url, REVOKED, "finance@GM")
    for who, grant in PRINCIPALS.items():
        await web_user(database_url, who, grant)
    await web_user(database_url, REVOKED, "finance@GM")
    return tokens


async def _web_clients(base: str, database_url: str) -> dict[str, httpx.AsyncClient]:
    """A signed-in browser per principal; the revoked one's session ended; nobody's none."""
    clients = {}
    for who in [*PRINCIPALS, REVOKED, NOBODY]:
        client = httpx.AsyncClient(base_url=base, headers={"Accept": "text/html"})
        if who != NOBODY:
            assert (await sign_in(client, who)).status_code == 303
        clients[who] = client
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await users.set_password(connection, REVOKED, PASSWORD)  # ends its sessions
        assert await users.revoke(connection, REVOKED) == 1
    finally:
        await connection.close()
    return clients


def _form(client: httpx.AsyncClient, cookie_name: str) -> dict[str, str]:
    session_id = client.cookies.get(cookie_name)
    return {csrf.FIELD: csrf.token_for(session_id)} if session_id else {}


async def _ask(
    asked: Asked,
    api: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    token: str | None,
    cookie_name: str,
) -> httpx.Response:
    if not asked.path.startswith(("/api/", "/open-data/")) and asked.path not in API_LIKE:
        data = _form(browser, cookie_name)
        if asked.path == "/sign-in" and asked.method == "POST":
            secret = "walk-" + uuid.uuid4().hex
            browser.cookies.set(f"{cookie_name}_sign_in", secret)
            data = {csrf.FIELD: csrf.token_for(secret)}
        if asked.method == "POST":
            return await browser.post(asked.url, data=data)
        return await browser.get(asked.url)
    headers = bearer(token, f"walk-{uuid.uuid4()}") if token else {}
    if asked.url.endswith("/stream"):
        async with api.stream(asked.method, asked.url, headers=headers) as response:
            return response
    body = {} if asked.method == "POST" else None
    return await api.request(asked.method, asked.url, json=body, headers=headers)


API_LIKE = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


async def test_every_route_answers_every_role_as_the_permission_table_says(
    settings, database_url
) -> None:
    # With the ledger's report credential, so the auditor's report routes are served too (the
    # ledger is not running: an allowed request gets 502, which is not a refusal).
    gateway = gateway_settings(
        web_session_cookie_secure=False,
        ledger_report_token="walk-credential",
        gateway_ledger_url="http://127.0.0.1:9",
    )
    routes = every_route(gateway_app(settings, gateway))
    assert permissions.doors_missing(routes) == []
    assert sorted(set(permissions.DOORS) - set(routes)) == []  # no door without its route
    tokens = await _setting_up(database_url)
    async with served(settings, gateway) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as api:
            made = await api.post(
                "/api/v1/departments/DWP/webhooks",
                json={"url": "https://127.0.0.1/hook"},
                headers=bearer(tokens["department"], "walk-hook"),
            )
            assert made.status_code == 201, made.text
            subscription_id = made.json()["subscription_id"]
            browsers = await _web_clients(base, database_url)
            disagreements = []
            count = 0
            try:
                for method, path in routes:
                    door = permissions.DOORS[(method, path)]
                    for asked in requests_of(method, path, door, subscription_id):
                        response = await _ask(
                            asked,
                            api,
                            browsers[asked.who],
                            tokens.get(asked.who),
                            gateway.web_session_cookie_name,
                        )
                        count += 1
                        if not agrees(asked, response):
                            disagreements.append(
                                (asked.who, method, asked.url, asked.allowed, response.status_code)
                            )
            finally:
                for browser in browsers.values():
                    await browser.aclose()
    assert disagreements == []
    assert count > 1000  # every route, every principal, every scope
