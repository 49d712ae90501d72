"""Unit tests for the port helpers."""

import socket

from singlepot.local.ports import accepts_connections, free_port, port_is_free


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
