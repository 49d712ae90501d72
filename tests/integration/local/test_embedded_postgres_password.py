"""Finding 10 of issue 14: the embedded PostgreSQL has a generated superuser password, kept in
its data folder readable by its owner only; every connection must prove it (SCRAM-SHA-256),
and the URLs the launcher hands out carry it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import asyncpg
import pytest

from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port
from singlepot.local.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


async def test_a_new_cluster_needs_its_generated_password(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", free_port(), throwaway=True)
    server.start()
    try:
        password = server.password()
        assert password is not None and len(password) >= 32
        assert stat.S_IMODE(os.stat(server.password_path).st_mode) == 0o600
        connection = await asyncpg.connect(server.url)
        try:
            method = await connection.fetchval(
                "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1"
            )
        finally:
            await connection.close()
        assert method == "scram-sha-256"
        for refused in (
            f"postgresql://postgres@127.0.0.1:{server.port}/postgres",
            server.url.replace(password, "not-the-password"),
        ):
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(refused)
        # The settings `singlepot up` hands to every service carry the password too.
        settings = RuntimeSettings(data_dir=tmp_path, postgres_port=server.port)
        assert f"postgres:{password}@" in settings.effective_database_url()
        server.stop()
        server.start()  # the same password again after a restart
        assert server.password() == password
        connection = await asyncpg.connect(server.url)
        await connection.close()
    finally:
        server.stop()
