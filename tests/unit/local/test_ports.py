"""Unit tests for the port helpers."""

import socket
from pathlib import Path

from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import (
    EPHEMERAL_RANGE_ELSEWHERE,
    LISTENING_PORT_LOWEST,
    accepts_connections,
    ephemeral_port_range,
    free_port,
    listening_port_candidates,
    port_is_free,
)
from singlepot.supervisor import LocalSystem


def test_free_port_returns_a_port_that_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    assert port_is_free("127.0.0.1", port)


def test_a_port_with_a_listener_is_not_free_and_accepts_connections() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        assert accepts_connections("127.0.0.1", port)


def test_a_closed_port_does_not_accept_connections() -> None:
    assert not accepts_connections("127.0.0.1", free_port())


def test_free_ports_are_outside_the_range_outgoing_connections_take_theirs_from() -> None:
    # A listening port inside that range can be taken, while its server restarts, by any
    # outgoing connection (or a client's connection to itself): `up` then cannot start again.
    low, high = ephemeral_port_range()
    ports = [free_port() for _ in range(50)]
    assert [port for port in ports if low <= port <= high] == []


def test_free_port_never_hands_out_the_same_port_twice_in_a_process() -> None:
    # Callers take several ports before binding any (the broker's, then PostgreSQL's, …).
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_the_ephemeral_range_is_read_from_the_kernel_setting(tmp_path: Path) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("40000\t50000\n", encoding="ascii")
    assert ephemeral_port_range(setting) == (40000, 50000)
    assert ephemeral_port_range(tmp_path / "absent") == EPHEMERAL_RANGE_ELSEWHERE


def test_listening_candidates_leave_out_the_ephemeral_range_and_well_known_ports() -> None:
    candidates = listening_port_candidates((40000, 50000))
    assert min(candidates) == LISTENING_PORT_LOWEST
    assert 39999 in candidates and 50001 in candidates and 65535 in candidates
    assert not [port for port in candidates if 40000 <= port <= 50000]


def _system(data_dir: Path) -> LocalSystem:
    return LocalSystem(RuntimeSettings(data_dir=data_dir, local_defaults_allowed=True), replicas=2)


def test_a_further_replica_gets_its_port_back_when_up_starts_again_on_the_same_data(
    tmp_path: Path,
) -> None:
    first = _system(tmp_path)._replica_port("gateway-2")
    # A new `up` (after Ctrl-C or kill -9) on the same data folder, and one on another.
    assert _system(tmp_path)._replica_port("gateway-2") == first
    assert _system(tmp_path / "other")._replica_port("gateway-2") != first


def test_a_further_replica_whose_old_port_is_taken_gets_a_free_one(tmp_path: Path) -> None:
    first = _system(tmp_path)._replica_port("ledger-2")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        second = _system(tmp_path)._replica_port("ledger-2")
        assert second != first
        assert port_is_free("127.0.0.1", second)
    assert _system(tmp_path)._replica_port("ledger-2") == second
