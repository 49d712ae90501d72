"""Integration tests: the embedded PostgreSQL launcher against real server processes."""

import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from singlepot.local import postgres as postgres_module
from singlepot.local.errors import LocalStackError
from singlepot.local.ports import free_port
from singlepot.local.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg", free_port(), throwaway=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder uid 65534 can enter: pytest's tmp_path lives under a 0700 folder."""
    folder = Path(tempfile.mkdtemp(prefix="singlepot-setpriv-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def _wait_until_gone(server: EmbeddedPostgres) -> None:
    """Like after a real crash, start again once the process is gone (it may be a zombie)."""
    deadline = time.monotonic() + 5
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.01)


async def _fetchval(url: str, query: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def test_a_new_cluster_answers_select_version_with_postgresql_18(
    pg: EmbeddedPostgres,
) -> None:
    assert "PostgreSQL 18" in str(await _fetchval(pg.url, "SELECT version()"))
    assert pg.is_running()
    assert pg.run_as in {
        postgres_module.RUN_AS_CURRENT_USER,
        postgres_module.RUN_AS_USER_NAMESPACE,
        postgres_module.RUN_AS_SETPRIV,
    }


async def test_the_throwaway_settings_and_connection_limit_are_applied(
    pg: EmbeddedPostgres,
) -> None:
    assert await _fetchval(pg.url, "SHOW fsync") == "off"
    assert await _fetchval(pg.url, "SHOW max_connections") == "200"


async def test_data_survives_a_stop_and_a_start(pg: EmbeddedPostgres) -> None:
    connection = await asyncpg.connect(pg.url)
    await connection.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
    await connection.close()
    pg.stop()
    assert not pg.is_running()
    pg.start()
    assert await _fetchval(pg.url, "SELECT n FROM kept") == 42


async def test_a_second_start_while_running_is_harmless(pg: EmbeddedPostgres) -> None:
    pid = pg._server_pid()
    pg.start()
    again = EmbeddedPostgres(pg.data_dir, pg.port, throwaway=True)
    again.start()
    assert pg._server_pid() == pid
    assert again.run_as == pg.run_as
    assert await _fetchval(pg.url, "SELECT 1") == 1


def test_stop_when_not_running_is_not_an_error(tmp_path: Path) -> None:
    EmbeddedPostgres(tmp_path / "never-started", free_port()).stop()


def test_a_busy_port_gives_one_sentence_naming_the_port_and_the_setting(
    tmp_path: Path,
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = EmbeddedPostgres(tmp_path / "pg", port, port_setting_name="MY_PG_PORT")
        with pytest.raises(LocalStackError) as caught:
            server.start()
    assert str(caught.value) == (
        f"Port {port} on 127.0.0.1 is already in use by another program; "
        "free it or set MY_PG_PORT to another port."
    )


def test_the_same_data_dir_running_on_another_port_is_reported(pg: EmbeddedPostgres) -> None:
    with pytest.raises(LocalStackError, match=f"already running on port {pg.port}"):
        EmbeddedPostgres(pg.data_dir, free_port()).start()


async def test_a_server_killed_with_sigkill_starts_again(pg: EmbeddedPostgres) -> None:
    pid = pg._server_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    _wait_until_gone(pg)
    pg.start()
    assert pg._server_pid() != pid
    assert await _fetchval(pg.url, "SELECT 1") == 1


async def test_a_stale_pid_file_naming_a_live_unrelated_process_is_ignored(
    pg: EmbeddedPostgres,
) -> None:
    pg.stop()
    pid_file = pg.cluster_dir / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{pg.cluster_dir}\n0\n{pg.port}\n")
    assert not pg.is_running()
    pg.start()
    assert await _fetchval(pg.url, "SELECT 1") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="the setpriv fallback is only used as root")
async def test_the_setpriv_fallback_runs_the_server_as_uid_65534(
    monkeypatch: pytest.MonkeyPatch, reachable_dir: Path
) -> None:
    monkeypatch.setattr(postgres_module, "_user_namespace_works", lambda: False)
    server = EmbeddedPostgres(reachable_dir / "pg", free_port(), throwaway=True)
    try:
        server.start()
        assert server.run_as == postgres_module.RUN_AS_SETPRIV
        assert os.stat(f"/proc/{server._server_pid()}").st_uid == 65534
        assert await _fetchval(server.url, "SELECT 1") == 1
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="the setpriv fallback is only used as root")
def test_the_setpriv_fallback_explains_an_unreachable_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(postgres_module, "_user_namespace_works", lambda: False)
    with pytest.raises(LocalStackError, match=r"not searchable by uid 65534.*chmod o\+x"):
        EmbeddedPostgres(tmp_path / "pg", free_port()).start()
