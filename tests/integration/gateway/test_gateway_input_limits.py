"""Findings 5 and 6 of issue 14 on the real gateway: money beyond the limit, JSON nested too
deep, evidence files built to break parsers, and a database outage each get a problem+json
answer naming the field and the rule (never a 500), and nothing reaches the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from contracts import PENCE_MAX
from singlepot.local.ports import free_port
from tests.conftest import test_settings as settings_for
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_app,
    settlement_body,
    token_for,
)
from tests.integration.gateway.test_gateway_uploads import FILES, HEADER, _with_contract

pytestmark = pytest.mark.integration

SETTLEMENTS = "/api/v1/places/GM/settlements"


async def _outbox_count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        return int(await connection.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await connection.close()


async def test_a_settlement_of_the_largest_int64_is_a_422_naming_the_field_and_limit(
    settings, database_url
) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    body = settlement_body(amount_pence=9_223_372_036_854_775_807)
    async with client_for(settings) as client:
        response = await client.post(SETTLEMENTS, json=body, headers=bearer(token, "big"))
        at_limit = settlement_body("S-2", amount_pence=PENCE_MAX)
        accepted = await client.post(SETTLEMENTS, json=at_limit, headers=bearer(token, "max"))
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["field"], error["rule"]) == ("profile.0.amount_pence", "less_than_equal")
    assert str(PENCE_MAX) in error["message"]
    assert accepted.status_code == 202
    assert await _outbox_count(database_url) == 1


async def test_a_body_nested_a_thousand_deep_is_a_422_before_parsing(
    settings, database_url
) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    nested = ("[" * 1000 + "]" * 1000).encode()
    body = b'{"settlement_id": ' + nested + b"}"
    headers = {**bearer(token, "deep"), "Content-Type": "application/json"}
    async with client_for(settings) as client:
        response = await client.post(SETTLEMENTS, content=body, headers=headers)
        # Brackets inside text are only text: a body with many of them in a string is fine.
        text_body = json.dumps(settlement_body(settlement_id="[" * 100))
        in_text = await client.post(SETTLEMENTS, content=text_body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("body", "depth_max")]
    assert in_text.status_code == 202, in_text.text


@pytest.mark.parametrize(
    ("filename", "content", "field", "rule"),
    [
        ("deep.jsonl", b"[" * 200_000, "row 1.json", "is longer than the 65536 characters"),
        ("deep-short.jsonl", b"[" * 60_000, "row 1.json", "nests deeper than 4 levels"),
        ("deep.json", b"[" * 200_000, "file", "depth_max"),
        ("wide.csv", (HEADER + "p-1,JOB," + "x" * 20_000_000 + "\n").encode(), "file", ""),
    ],
    ids=["jsonl-long-line", "jsonl-deep-line", "json-array-deep", "csv-20mb-field"],
)
async def test_an_evidence_file_built_to_break_the_parser_is_a_422(
    settings, database_url, filename: str, content: bytes, field: str, rule: str
) -> None:
    provider = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    async with client_for(settings) as client:
        await _with_contract(settings, client, auditor)
        files = {"file": (filename, content, "application/octet-stream")}
        response = await client.post(FILES, files=files, headers=bearer(provider, filename))
    assert response.status_code == 422, response.text[:500]
    [error] = response.json()["errors"]
    assert error["field"] == field
    if filename.endswith(".csv"):
        assert error["rule"] == "field_length_max"
        assert "131072 characters" in error["message"]
    else:
        assert error["rule"].startswith(rule)
    assert await _outbox_count(database_url) == 0


class _Relay:
    """A TCP relay between the gateway and PostgreSQL that can be cut: a database outage."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self.writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[_Relay]:
        self.server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)
        try:
            yield self
        finally:
            await self.cut()

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in self.writers:
            writer.close()
        self.writers.clear()


async def test_a_database_outage_is_a_503_with_retry_after(stack, database_url) -> None:
    token = await token_for(database_url, "fin", "finance@GM")
    target_port = int(database_url.rsplit(":", 1)[1].split("/", 1)[0])
    relay = _Relay(target_port)
    async with relay.running():
        relayed_url = database_url.replace(f":{target_port}/", f":{relay.port}/")
        settings = settings_for(stack, relayed_url)
        app = gateway_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                before = await client.get("/api/v1/places/GM/pot", headers=bearer(token))
                await relay.cut()
                during = await client.get("/api/v1/places/GM/pot", headers=bearer(token))
                command = await client.post(
                    SETTLEMENTS, json=settlement_body(), headers=bearer(token, "outage")
                )
    assert before.status_code == 200, before.text
    for response in (during, command):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        assert response.json()["errors"][0]["rule"] == "database_available"
