"""Small helpers to find and test TCP ports on this machine.

Ports for things that listen (PostgreSQL, the broker, the services) are chosen outside the
kernel's ephemeral range, the range it takes the local port of every outgoing connection from.
A listening port inside that range can be taken while its server is down (being restarted, or
killed with -9 and not yet started again): by any program's outgoing connection, or by a
client retrying to connect to that very port, which the kernel may connect to itself (TCP's
simultaneous open). Outside the range, only a program that binds the port on purpose can.
"""

import functools
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Without that file (not Linux): Linux's default range and IANA's (macOS, BSD, Windows) together.
EPHEMERAL_RANGE_ELSEWHERE = (32768, 65535)
# Below this, ports are conventionally those of well-known servers a developer may run.
LISTENING_PORT_LOWEST = 10000
# How many random candidates free_port tries before it lets the kernel choose.
FREE_PORT_ATTEMPTS_MAX = 200

# Ports free_port handed out in this process: two calls in a row never get the same one,
# even when the first caller has not bound its port yet.
_handed_out: set[int] = set()


def port_is_free(host: str, port: int) -> bool:
    """Return True when nothing listens on host:port, judged by trying to bind it ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR as servers use it, so a port left in TIME_WAIT does not look busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def ephemeral_port_range(range_file: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The lowest and highest port the kernel gives outgoing connections (inclusive)."""
    try:
        low, high = (int(word) for word in range_file.read_text(encoding="ascii").split())
    except (OSError, ValueError):
        return EPHEMERAL_RANGE_ELSEWHERE
    return low, high


@functools.cache
def listening_port_candidates(ephemeral: tuple[int, int]) -> tuple[int, ...]:
    """The ports a listening server may be given: from LISTENING_PORT_LOWEST up, outside the
    ephemeral range."""
    low, high = ephemeral
    return tuple(port for port in range(LISTENING_PORT_LOWEST, 65536) if not low <= port <= high)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port for a server to listen on: free now (another program may still bind it
    later), outside the ephemeral range, and not handed out before by this process."""
    candidates = listening_port_candidates(ephemeral_port_range())
    for port in random.sample(candidates, min(FREE_PORT_ATTEMPTS_MAX, len(candidates))):
        if port not in _handed_out and port_is_free(host, port):
            _handed_out.add(port)
            return port
    return _port_the_kernel_chooses(host)


def _port_the_kernel_chooses(host: str) -> int:
    """A free port from the kernel (inside the ephemeral range): only when the machine leaves
    no room outside it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port


def accepts_connections(host: str, port: int, timeout_s: float = 0.2) -> bool:
    """Return True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
