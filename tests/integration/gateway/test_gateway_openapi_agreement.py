"""Finding 9 of issue 14, case by case: the answers schemathesis found disagreeing with the
OpenAPI document (the fuzz test covers the rest): a 405 lists every method the path takes, a
query parameter the operation does not declare is refused, an empty Last-Event-ID resumes from
`after`, and a financial year in a path follows the exact pattern the document states."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.gateway.gateway_support import bearer, client_for, served, token_for

pytestmark = pytest.mark.integration

WEBHOOKS = "/api/v1/departments/DWP/webhooks"


async def test_a_405_lists_every_method_the_path_takes(settings) -> None:
    async with client_for(settings) as client:
        response = await client.delete(WEBHOOKS)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"


async def test_an_undeclared_query_parameter_is_refused_naming_it(settings, database_url) -> None:
    token = await token_for(database_url, "audit", "auditor")
    async with client_for(settings) as client:
        refused = await client.get("/api/v1/places/GM/pot?bogus=1", headers=bearer(token))
        declared = await client.get(
            "/api/v1/places/GM/pot/overview?financial_year=2026-27", headers=bearer(token)
        )
    assert refused.status_code == 422
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("query.bogus", "known_parameter")
    ]
    assert declared.status_code == 200, declared.text


async def test_an_empty_last_event_id_resumes_from_after(settings, database_url) -> None:
    token = await token_for(database_url, "dwp", "department:DWP")
    headers = {**bearer(token), "Last-Event-ID": ""}
    async with served(settings) as url, httpx.AsyncClient(base_url=url) as client:
        async with client.stream(
            "GET", "/api/v1/departments/DWP/spend/stream", headers=headers
        ) as response:
            status = response.status_code
            media_type = response.headers["content-type"]
    assert status == 200
    assert media_type.startswith("text/event-stream")


async def test_the_document_states_the_exact_financial_year_rule(settings) -> None:
    async with client_for(settings) as client:
        document = (await client.get("/openapi.json")).json()
    close = document["paths"]["/api/v1/places/{place_id}/periods/{financial_year}/close"]
    [year] = [p for p in close["post"]["parameters"] if p["name"] == "financial_year"]
    pattern = re.compile(year["schema"]["pattern"])
    assert pattern.match("2026-27") and pattern.match("2099-00")
    assert not pattern.match("2026-28") and not pattern.match("2026-26")
