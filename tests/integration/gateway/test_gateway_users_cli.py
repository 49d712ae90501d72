"""`singlepot users ...` against real PostgreSQL: add a user with roles, issue a token (stored
only as a hash), list, revoke; bad grants are refused with the reason."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import pytest
from typer.testing import CliRunner

from singlepot.cli import app

pytestmark = pytest.mark.integration


def _users(database_url: str, *arguments: str):
    return CliRunner().invoke(
        app,
        ["users", *arguments],
        env={"DATABASE_URL": database_url, "COLUMNS": "200"},
        catch_exceptions=False,
    )


async def _tokens(database_url: str) -> list[dict]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        rows = await connection.fetch("SELECT token_hash, revoked_at FROM tokens")
    finally:
        await connection.close()
    return [dict(row) for row in rows]


def test_a_user_is_added_given_a_token_listed_and_revoked(database_url) -> None:
    added = _users(database_url, "add", "jo", "--grant", "finance@GM", "-g", "chair@GM")
    issued = _users(database_url, "token", "jo", "--days", "7")
    listed = _users(database_url, "list")
    token = issued.stdout.strip().splitlines()[-1]
    stored = asyncio.run(_tokens(database_url))
    revoked = _users(database_url, "revoke", "jo")
    after = asyncio.run(_tokens(database_url))

    assert added.exit_code == issued.exit_code == listed.exit_code == revoked.exit_code == 0
    assert token.startswith("sp_")
    assert "chair@GM, finance@GM" in listed.stdout
    # Only the SHA-256 of the token is kept, never the token.
    assert [row["token_hash"] for row in stored] == [hashlib.sha256(token.encode()).digest()]
    assert "revoked 1 token(s)" in revoked.stdout
    assert after[0]["revoked_at"] is not None


def test_a_bad_grant_is_refused_with_the_reason(database_url) -> None:
    result = _users(database_url, "add", "jo", "--grant", "provider@GM")
    assert result.exit_code == 2
    assert "a provider grant needs a subject" in result.stdout


def test_a_token_for_an_unknown_user_is_refused(database_url) -> None:
    result = _users(database_url, "token", "nobody")
    assert result.exit_code == 1
    assert "no user or service 'nobody'" in result.stdout


def test_a_grant_names_its_place_and_a_national_grant_is_written_with_a_star(database_url) -> None:
    placeless = _users(database_url, "add", "dwp-feed", "--grant", "department:DWP")
    national = _users(database_url, "add", "dwp-feed", "--grant", "department@*:DWP")
    local = _users(database_url, "grant", "dwp-feed", "department@GM:DHSC", "auditor@LPL")
    unknown = _users(database_url, "grant", "nobody", "auditor@*")
    listed = _users(database_url, "list")

    assert placeless.exit_code == 2
    assert "department@*:DWP for every place" in placeless.stdout
    assert national.exit_code == local.exit_code == 0
    assert unknown.exit_code == 1
    assert "auditor@LPL, department@*:DWP, department@GM:DHSC" in listed.stdout
