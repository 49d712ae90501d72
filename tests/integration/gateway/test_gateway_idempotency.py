"""Idempotency and errors on the real gateway: a retried POST is replayed and applied once; the
same key with a different body is a 409 naming the conflict; bad input of every kind is a clear
problem+json 4xx that writes nothing."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    settlement_body,
    token_for,
)

pytestmark = pytest.mark.integration

SETTLEMENTS = "/api/v1/places/GM/settlements"


async def _count(database_url: str, table: str) -> int:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await connection.close()


async def test_the_same_key_and_body_replays_the_original_response_once_applied(
    settings, database_url
) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        first = await client.post(SETTLEMENTS, json=settlement_body(), headers=bearer(token, "k-1"))
        # Same JSON, different key order and spacing: still the same request.
        reordered = dict(reversed(list(settlement_body().items())))
        again = await client.post(SETTLEMENTS, json=reordered, headers=bearer(token, "k-1"))
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert await _count(database_url, "outbox") == 1


async def test_concurrent_retries_of_one_request_are_applied_once(settings, database_url) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        responses = await asyncio.gather(
            *[
                client.post(SETTLEMENTS, json=settlement_body(), headers=bearer(token, "k-race"))
                for _ in range(8)
            ]
        )
    assert {response.status_code for response in responses} == {202}
    assert len({response.json()["event_id"] for response in responses}) == 1
    assert sum(r.headers.get("Idempotency-Replayed") == "true" for r in responses) == 7
    assert await _count(database_url, "outbox") == 1


async def test_the_same_key_with_a_different_body_is_a_409_naming_the_conflict(
    settings, database_url
) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        await client.post(SETTLEMENTS, json=settlement_body(), headers=bearer(token, "k-2"))
        changed = settlement_body(amount_pence=2_000_000)
        conflict = await client.post(SETTLEMENTS, json=changed, headers=bearer(token, "k-2"))
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    problem = conflict.json()
    assert problem["errors"][0]["field"] == "header.idempotency-key"
    assert problem["errors"][0]["rule"] == "same_key_same_body"
    assert "'k-2'" in problem["detail"]
    assert await _count(database_url, "outbox") == 1


async def test_keys_of_different_users_never_collide(settings, database_url) -> None:
    one = await token_for(database_url, "fin-1", "finance@GM")
    two = await token_for(database_url, "fin-2", "finance@GM")
    async with client_for(settings) as client:
        first = await client.post(SETTLEMENTS, json=settlement_body(), headers=bearer(one, "k"))
        second = await client.post(
            SETTLEMENTS, json=settlement_body("S-2"), headers=bearer(two, "k")
        )
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["event_id"] != second.json()["event_id"]


@pytest.mark.parametrize(
    ("content", "status", "field", "rule"),
    [
        (b'{"settlement_id": "S-1",', 400, "body", "json"),
        (b"[1, 2]", 422, "body", "object"),
        (b'{"settlement_id": NaN}', 400, "body", "json"),
        (None, 422, "profile.0.amount_pence", "greater_than_equal"),
        (None, 422, "profile.0.amount_pence", "int_type"),
        (None, 422, "profile.0.amount_pence", "int64"),
        (None, 422, "department_code", "string_type"),
        (None, 422, "place_id", "matches_path"),
        (None, 422, "funding_stream_code", "no_nul"),
        (None, 422, "colour", "extra_forbidden"),
    ],
    ids=[
        "malformed",
        "not-an-object",
        "nan",
        "negative-pence",
        "fractional-pence",
        "huge-pence",
        "wrong-type",
        "place-differs-from-path",
        "nul-character",
        "unknown-field",
    ],
)
async def test_bad_input_gets_a_problem_naming_the_field_and_the_rule_and_writes_nothing(
    settings, database_url, content, status, field, rule, request
) -> None:
    body = settlement_body()
    case = request.node.callspec.id
    amounts = {"negative-pence": -5, "fractional-pence": 10.5, "huge-pence": 2**70}
    if case in amounts:
        body["profile"][0]["amount_pence"] = amounts[case]
    changes: dict[str, dict[str, object]] = {
        "wrong-type": {"department_code": 7},
        "place-differs-from-path": {"place_id": "WM"},
        "nul-character": {"funding_stream_code": "WO\x00RK"},
        "unknown-field": {"colour": "red"},
    }
    body |= changes.get(case, {})
    token = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        response = await client.post(
            SETTLEMENTS,
            content=content if content is not None else _json(body),
            headers={**bearer(token, "k-bad"), "Content-Type": "application/json"},
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["errors"][0]["field"], problem["errors"][0]["rule"]) == (field, rule)
    assert await _count(database_url, "outbox") == 0
    assert await _count(database_url, "command_log") == 0


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


async def test_an_oversized_body_is_refused_before_it_is_read(settings, database_url) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    limits = gateway_settings(gateway_request_bytes_max=2_000)
    async with client_for(settings, limits) as client:
        response = await client.post(
            SETTLEMENTS,
            content=b'{"x": "' + b"a" * 5_000 + b'"}',
            headers={**bearer(token, "k-big"), "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["errors"][0]["rule"] == "size_max"
    assert await _count(database_url, "outbox") == 0


async def test_a_post_without_an_idempotency_key_is_refused(settings, database_url) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    async with client_for(settings) as client:
        response = await client.post(SETTLEMENTS, json=settlement_body(), headers=bearer(token))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"


async def test_a_token_over_its_rate_limit_gets_429_with_retry_after(
    settings, database_url
) -> None:
    token = await token_for(database_url, "aud", "auditor")
    limits = gateway_settings(gateway_rate_limit_per_s=1.0, gateway_rate_limit_burst_max=3)
    async with client_for(settings, limits) as client:
        statuses = [
            (await client.get("/api/v1/places/GM/pot", headers=bearer(token))).status_code
            for _ in range(5)
        ]
        limited = await client.get("/api/v1/places/GM/pot", headers=bearer(token))
    assert statuses == [200, 200, 200, 429, 429]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["errors"][0]["rule"] == "rate_limit"
