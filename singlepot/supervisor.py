"""Starts the whole system locally (`singlepot up`) and keeps it running as a platform would:
PostgreSQL, the broker, topics, migrations, N processes of each service, and demo data.

A service process that dies is restarted with exponential back-off, each restart logged with
the exit code; more than a bounded number of quick restarts stops everything with the reason
(a crash loop is a bug to read about, not to hide). A dead broker is restarted and its topics
re-created (the services notice what it lost and replay it); a dead embedded PostgreSQL is
restarted. Ctrl-C stops everything cleanly. What runs where is written to
`<data dir>/supervisor.json`, for `singlepot status` and for an `up` started after this one was
killed (which stops what that one left behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.runtime.settings import RuntimeSettings
from singlepot.local.broker import LocalBroker
from singlepot.local.errors import LocalStackError
from singlepot.local.ports import free_port, port_is_free
from singlepot.local.postgres import EmbeddedPostgres
from singlepot.system import SERVICE_NAMES, create_all_topics, migrate_all

LOCAL_WEBHOOK_HOSTS = "127.0.0.1,localhost,::1"
SERVICE_PORT_SETTINGS = {
    "gateway": "SINGLEPOT_GATEWAY_PORT",
    "ledger": "SINGLEPOT_LEDGER_HEALTH_PORT",
    "allocations": "SINGLEPOT_ALLOCATIONS_HEALTH_PORT",
    "outcomes": "SINGLEPOT_OUTCOMES_HEALTH_PORT",
}


STATE_FILE = "supervisor.json"
# How often a starting service is asked whether it is ready: each wait here is on the way to
# "singlepot is up", and a question costs the service a few small queries.
READINESS_POLL_INTERVAL_S = 0.05
# The ports further replicas listened on, kept across runs (unlike STATE_FILE) so that a
# restarted `up` gives each replica its address back.
REPLICA_PORTS_FILE = "replica-ports.json"


@dataclass
class ServiceProcess:
    """One replica of one service, and what the supervisor knows of its life."""

    service: str
    replica: int  # 1..N; replica 1 listens on the configured port, the others on free ones
    port: int
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    exit_times: list[float] = field(default_factory=list)
    last_exit_code: int | None = None
    restart_at: float | None = None

    @property
    def name(self) -> str:
        return self.service if self.replica == 1 else f"{self.service}-{self.replica}"

    @property
    def state(self) -> str:
        if self.popen is not None and self.popen.poll() is None:
            return "running"
        return "restarting" if self.restart_at is not None else "stopped"


@dataclass
class LocalSystem:
    """Everything `singlepot up` started, so that it can be kept running and stopped in order."""

    settings: RuntimeSettings
    replicas: int | None = None
    say: Callable[[str], None] = print
    postgres: EmbeddedPostgres | None = None
    broker: LocalBroker | None = None
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    broker_restarts: int = 0
    postgres_restarts: int = 0
    # The credential of the ledger's report routes for this run: the gateway calls them with it.
    report_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def __post_init__(self) -> None:
        if self.replicas is None:
            self.replicas = self.settings.replicas

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    @property
    def state_path(self) -> Path:
        return self.settings.data_dir / STATE_FILE

    @property
    def replica_ports_path(self) -> Path:
        return self.settings.data_dir / REPLICA_PORTS_FILE

    @property
    def services(self) -> dict[str, subprocess.Popen[bytes]]:
        """The running processes by name (`ledger`, `ledger-2`, …)."""
        return {name: p.popen for name, p in self.processes.items() if p.popen is not None}

    def start_infrastructure(self) -> str:
        """Start the embedded PostgreSQL and bundled broker unless others are configured."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        stop_leftovers(self.state_path)
        notes = []
        if self.settings.database_url is None:
            self.postgres = EmbeddedPostgres(
                data_dir=self.settings.data_dir / "postgres", port=self.settings.postgres_port
            )
            self.postgres.start()
            notes.append(
                f"PostgreSQL 18 on 127.0.0.1:{self.settings.postgres_port} "
                f"(run as {self.postgres.run_as})"
            )
        else:
            notes.append("PostgreSQL from DATABASE_URL")
        if self.settings.kafka_bootstrap_servers is None:
            self.broker = LocalBroker(
                port=self.settings.broker_port, log_path=self.log_dir / "broker.log"
            )
            self.broker.start()
            notes.append(f"Tansu broker on {self.broker.bootstrap_servers}")
        else:
            notes.append(f"Kafka at {self.settings.kafka_bootstrap_servers}")
        self.write_state()
        return "; ".join(notes)

    def prepare(self) -> None:
        """Create the database, apply migrations and create topics."""
        asyncio.run(
            migrate_all(
                self.settings.effective_database_url(),
                create_database=self.settings.database_url is None,
            )
        )
        asyncio.run(create_all_topics(self.settings))

    def start_service(self, name: str) -> None:
        """Start every replica of service `name`."""
        port = self.settings.health_port(name)
        if not port_is_free("127.0.0.1", port):
            raise LocalStackError(
                f"Port {port} on 127.0.0.1 is already in use by another program; free it or set "
                f"{SERVICE_PORT_SETTINGS[name]} to another port."
            )
        assert self.replicas is not None
        for replica in range(1, self.replicas + 1):
            replica_port = port if replica == 1 else self._replica_port(f"{name}-{replica}")
            process = ServiceProcess(name, replica, replica_port)
            self.processes[process.name] = process
            self._spawn(process)

    def _replica_port(self, process_name: str) -> int:
        """The port of a further replica: the one it had in the last run on this data folder
        when that is still free (so its address survives a restart of `up`, even after a
        kill -9), else a free one. Never one this run has set aside: the kernel may hand out a
        service's own port while that service has not bound it yet (services start one after
        another), and the service would then fail to start with 'address in use'."""
        settings = self.settings
        set_aside = {settings.health_port(name) for name in SERVICE_NAMES}
        set_aside |= {settings.broker_port, settings.postgres_port}
        set_aside |= {process.port for process in self.processes.values()}
        recorded = read_replica_ports(self.replica_ports_path)
        kept = recorded.get(process_name)
        if kept is not None and kept not in set_aside and port_is_free("127.0.0.1", kept):
            return kept
        while (port := free_port()) in set_aside:
            continue
        recorded[process_name] = port
        write_replica_ports(self.replica_ports_path, recorded)
        return port

    def start_all_services(self) -> None:
        """Start every service at once (each spends seconds joining its consumer group), then
        wait until all are ready."""
        self.spawn_all_services()
        self.wait_until_all_ready()

    def spawn_all_services(self) -> None:
        """Start every replica of every service, without waiting for any."""
        for name in SERVICE_NAMES:
            self.start_service(name)

    def wait_until_all_ready(self) -> None:
        """Wait until every process answers /readyz with 200 (see `wait_until_ready`)."""
        for name in list(self.processes):
            self.wait_until_ready(name)
        self.write_state()

    def wait_until_ready(self, name: str) -> None:
        """Poll the process's /readyz until it answers 200, or say why it did not."""
        self._wait_for(name, "/readyz", "ready")

    def wait_until_serving(self, name: str) -> None:
        """Poll the process's /healthz until it answers 200: its start is done (database pool,
        relay, broker connection) and it serves HTTP, though its consumer may still be joining
        its groups (which /readyz waits for)."""
        self._wait_for(name, "/healthz", "serving")

    def _wait_for(self, name: str, path: str, state: str) -> None:
        process = self.processes[name]
        url = f"http://127.0.0.1:{process.port}{path}"
        deadline = time.monotonic() + self.settings.startup_timeout_s
        # One client for the whole wait: a new one for each poll costs a TLS context of CPU.
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                assert process.popen is not None
                if process.popen.poll() is not None:
                    raise LocalStackError(
                        f"The {name} service exited with code {process.popen.returncode} while "
                        f"starting; see {self._log_path(process)}."
                    )
                try:
                    if client.get(url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(READINESS_POLL_INTERVAL_S)
        raise LocalStackError(
            f"The {name} service was not {state} after {self.settings.startup_timeout_s:.0f} s; "
            f"see {self._log_path(process)}."
        )

    def supervise(self) -> None:
        """One round of keeping things running: the database, the broker, each process."""
        now = time.monotonic()
        if self.postgres is not None and not self.postgres.is_running():
            self.say("PostgreSQL stopped; starting it again")
            self.postgres.start()
            self.postgres_restarts += 1
        if self.broker is not None and not self.broker.is_running():
            self.say("The broker stopped; starting it again and re-creating its topics")
            self.broker.stop()  # reap the dead process
            self.broker.start()
            asyncio.run(create_all_topics(self.settings))
            self.broker_restarts += 1
        for process in self.processes.values():
            self._supervise_process(process, now)
        self.write_state()

    def _supervise_process(self, process: ServiceProcess, now: float) -> None:
        assert process.popen is not None
        if process.restart_at is None and process.popen.poll() is not None:
            process.last_exit_code = process.popen.returncode
            window = self.settings.restart_window_s
            process.exit_times = [t for t in process.exit_times if now - t < window] + [now]
            quick = len(process.exit_times)
            if quick > self.settings.restarts_quick_max:
                raise LocalStackError(
                    f"The {process.name} service exited {quick} times within {window:.0f} s "
                    f"(last exit code {process.last_exit_code}); see {self._log_path(process)}."
                )
            delay = min(
                self.settings.restart_backoff_s * 2 ** (quick - 1),
                self.settings.restart_backoff_max_s,
            )
            process.restart_at = now + delay
            self.say(
                f"The {process.name} service exited with code {process.last_exit_code}; "
                f"restarting it in {delay:.1f} s (quick restart {quick} of "
                f"{self.settings.restarts_quick_max})"
            )
        elif process.restart_at is not None and now >= process.restart_at:
            process.restart_at = None
            process.restarts += 1
            self._spawn(process)

    def stop(self) -> None:
        """Stop the services (SIGTERM, then SIGKILL after 10 s), then the broker and database."""
        running = [p.popen for p in self.processes.values() if p.popen is not None]
        for popen in running:
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
        for popen in running:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        self.processes.clear()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        self.state_path.unlink(missing_ok=True)

    def write_state(self) -> None:
        """Record what runs where (read by `singlepot status` and the next `up`)."""
        state = {
            "pid": os.getpid(),
            "broker": {
                "pid": self.broker.pid if self.broker is not None else None,
                "restarts": self.broker_restarts,
            },
            "postgres": {"restarts": self.postgres_restarts},
            "services": [
                {
                    "name": p.name,
                    "service": p.service,
                    "replica": p.replica,
                    "port": p.port,
                    "pid": p.popen.pid if p.popen is not None else None,
                    "state": p.state,
                    "restarts": p.restarts,
                    "last_exit_code": p.last_exit_code,
                }
                for p in self.processes.values()
            ],
        }
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1), encoding="utf-8")
        temporary.replace(self.state_path)

    def _spawn(self, process: ServiceProcess) -> None:
        log = self._log_path(process).open("ab")
        environment = self._child_environment()
        environment[SERVICE_PORT_SETTINGS[process.service]] = str(process.port)
        process.popen = subprocess.Popen(
            [sys.executable, "-m", "singlepot.serve", process.service],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # Ctrl-C reaches us, and we stop the children in order
        )

    def _log_path(self, process: ServiceProcess) -> Path:
        return self.log_dir / f"{process.name}.log"

    def _child_environment(self) -> dict[str, str]:
        """The children get the effective addresses explicitly, whatever the parent read."""
        environment = dict(os.environ)
        environment["DATABASE_URL"] = self.settings.effective_database_url()
        environment["KAFKA_BOOTSTRAP_SERVERS"] = self.settings.effective_bootstrap_servers()
        environment["SINGLEPOT_DATA_DIR"] = str(self.settings.data_dir)
        # A local run's webhook receivers are on this machine, which the URL rule refuses
        # unless allowed; the caller's own value wins.
        environment.setdefault("SINGLEPOT_WEBHOOK_ALLOWED_HOSTS", LOCAL_WEBHOOK_HOSTS)
        # The ledger's report routes refuse callers without this run's credential.
        environment.setdefault("SINGLEPOT_LEDGER_REPORT_TOKEN", self.report_token)
        environment.setdefault(
            "SINGLEPOT_GATEWAY_LEDGER_URL", f"http://127.0.0.1:{self.settings.ledger_health_port}"
        )
        # A local run publishes its demo place's open data under placeholder identifiers,
        # marked as demonstration data; production registers real prefixes instead.
        environment.setdefault("SINGLEPOT_OPENDATA_DEMO", "true")
        # The local launcher may run with the built-in development secrets; nothing else may.
        environment.setdefault("SINGLEPOT_LOCAL_DEFAULTS_ALLOWED", "true")
        return environment


def read_replica_ports(path: Path) -> dict[str, int]:
    """The port each further replica had (`ledger-2` → port), or nothing if none was kept."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {name: port for name, port in recorded.items() if isinstance(port, int)}


def write_replica_ports(path: Path, ports: dict[str, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(ports, indent=1, sort_keys=True), encoding="utf-8")
    temporary.replace(path)


def read_state(state_path: Path) -> dict[str, Any] | None:
    """What the last `up` recorded, or None when nothing was (or the file is unreadable)."""
    try:
        state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state


def stop_leftovers(state_path: Path) -> None:
    """Stop the processes an `up` that was killed (-9) left running, so their ports are free.
    Refuses when that `up` still runs. PostgreSQL is left: the next start reuses it."""
    state = read_state(state_path)
    if state is None:
        return
    if _runs(state.get("pid"), "singlepot") and state.get("pid") != os.getpid():
        raise LocalStackError(
            f"singlepot up is already running (pid {state['pid']}); stop it with Ctrl-C or "
            f"`kill {state['pid']}` first."
        )
    pids = [(entry.get("pid"), "singlepot") for entry in state.get("services", [])]
    pids.append((state.get("broker", {}).get("pid"), "tansu"))
    for pid, command in pids:
        if _runs(pid, command):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid)
    state_path.unlink(missing_ok=True)


def _runs(pid: object, command_word: str) -> bool:
    """True when process `pid` is alive and its command line mentions `command_word` (a pid
    may have been reused by something else since it was recorded)."""
    if not isinstance(pid, int):
        return False
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return command_word.encode() in command_line


def _wait_gone(pid: int, timeout_s: float = 5.0) -> None:
    """Wait until process `pid` has exited (a zombie counts: it holds no port). A threaded
    process's main thread shows as a zombie while its other threads still exit and its sockets
    are still open, so every thread must be gone."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/stat").read_text(errors="replace")
            threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
        except OSError:
            return
        if ") Z " in status and threads <= 1:
            return
        time.sleep(0.05)


def gateway_url(settings: RuntimeSettings) -> str:
    return f"http://{settings.gateway_host}:{settings.gateway_port}"
