"""Finding 10 of issue 14 on the real gateway: a person whose password is kept as an old
scrypt hash signs in as before, and from then on it is kept as Argon2id."""

from __future__ import annotations

import asyncpg
import pytest

from services.gateway.identity import db as store
from tests.integration.web.web_support import (
    PASSWORD,
    browser_client,
    gateway_rows,
    sign_in,
    web_user,
)
from tests.unit.gateway.test_passwords import _scrypt_hash

pytestmark = pytest.mark.integration


async def test_an_old_scrypt_password_signs_in_and_is_rehashed_as_argon2id(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await store.set_password(connection, "fin", _scrypt_hash(PASSWORD))
    finally:
        await connection.close()
    async with browser_client(settings) as client:
        signed_in = await sign_in(client, "fin")
    [row] = await gateway_rows(database_url, "SELECT password_hash FROM web_passwords")
    assert signed_in.status_code == 303, signed_in.text[:300]
    assert row["password_hash"].startswith("$argon2id$")
