"""Starts the whole system locally (`singlepot up`): PostgreSQL, the broker, topics, migrations,
the four services as child processes, and demo data; stops all of it cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.runtime.settings import RuntimeSettings
from singlepot.local.broker import LocalBroker
from singlepot.local.errors import LocalStackError
from singlepot.local.ports import port_is_free
from singlepot.local.postgres import EmbeddedPostgres
from singlepot.system import SERVICE_NAMES, create_all_topics, migrate_all

LOCAL_WEBHOOK_HOSTS = "127.0.0.1,localhost,::1"
SERVICE_PORT_SETTINGS = {
    "gateway": "SINGLEPOT_GATEWAY_PORT",
    "ledger": "SINGLEPOT_LEDGER_HEALTH_PORT",
    "allocations": "SINGLEPOT_ALLOCATIONS_HEALTH_PORT",
    "outcomes": "SINGLEPOT_OUTCOMES_HEALTH_PORT",
}


@dataclass
class LocalSystem:
    """Everything `singlepot up` started, so that it can all be stopped in reverse order."""

    settings: RuntimeSettings
    postgres: EmbeddedPostgres | None = None
    broker: LocalBroker | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def start_infrastructure(self) -> str:
        """Start the embedded PostgreSQL and bundled broker unless others are configured."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
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
        port = self.settings.health_port(name)
        if not port_is_free("127.0.0.1", port):
            raise LocalStackError(
                f"Port {port} on 127.0.0.1 is already in use by another program; free it or set "
                f"{SERVICE_PORT_SETTINGS[name]} to another port."
            )
        log = (self.log_dir / f"{name}.log").open("ab")
        self.services[name] = subprocess.Popen(
            [sys.executable, "-m", "singlepot", "serve", name],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._child_environment(),
            start_new_session=True,  # Ctrl-C reaches us, and we stop the children in order
        )

    def start_all_services(self) -> None:
        """Start every service at once (each spends seconds joining its consumer group), then
        wait until all are ready."""
        for name in SERVICE_NAMES:
            self.start_service(name)
        for name in SERVICE_NAMES:
            self.wait_until_ready(name)

    def wait_until_ready(self, name: str) -> None:
        """Poll the service's /readyz until it answers 200, or say why it did not."""
        url = f"http://127.0.0.1:{self.settings.health_port(name)}/readyz"
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            process = self.services[name]
            if process.poll() is not None:
                raise LocalStackError(
                    f"The {name} service exited with code {process.returncode} while starting; "
                    f"see {self.log_dir / (name + '.log')}."
                )
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise LocalStackError(
            f"The {name} service was not ready after {self.settings.startup_timeout_s:.0f} s; "
            f"see {self.log_dir / (name + '.log')}."
        )

    def stop(self) -> None:
        """Stop the services (SIGTERM, then SIGKILL after 10 s), then the broker and database."""
        for process in self.services.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.services.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.services.clear()
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def _child_environment(self) -> dict[str, str]:
        """The children get the effective addresses explicitly, whatever the parent read."""
        environment = dict(os.environ)
        environment["DATABASE_URL"] = self.settings.effective_database_url()
        environment["KAFKA_BOOTSTRAP_SERVERS"] = self.settings.effective_bootstrap_servers()
        environment["SINGLEPOT_DATA_DIR"] = str(self.settings.data_dir)
        # A local run's webhook receivers are on this machine, which the URL rule refuses
        # unless allowed; the caller's own value wins.
        environment.setdefault("SINGLEPOT_WEBHOOK_ALLOWED_HOSTS", LOCAL_WEBHOOK_HOSTS)
        # The local launcher may run with the built-in development secrets; nothing else may.
        environment.setdefault("SINGLEPOT_LOCAL_DEFAULTS_ALLOWED", "true")
        return environment


def gateway_url(settings: RuntimeSettings) -> str:
    return f"http://{settings.gateway_host}:{settings.gateway_port}"
