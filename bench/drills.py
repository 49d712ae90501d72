"""Fault drills with two replicas of every service under `singlepot up --replicas 2`: a stream
of settlements across three places while (a) one replica of each service is killed with -9,
(b) the broker is killed, (c) PostgreSQL is stopped, (d) `up` itself is killed with -9 and
started again. Nothing is typed to recover: `up` restarts what died and the services replay
what the broker lost.

After each fault the drill waits until every accepted command took effect, then checks that
each took effect once (one transfer per settlement in the ledger), that each place's
transfers follow the order its commands were accepted in, that `singlepot ledger verify`
passes and that the gateway's read model of each pot equals the ledger's transfers.
`tests/drills/` runs it and asserts; `make bench` runs it and writes the figures (commands
offered, applied, duplicates, time to recover) to BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from services.runtime.settings import LOCAL_POSTGRES_PASSWORD_FILE
from singlepot.local.ports import free_port

PLACES = ("GM", "WMCA", "LCR")
BENCHMARK = "fault drills"
RECOVERY_TIMEOUT_S = 90.0
START_TIMEOUT_S = 240.0
PENCE_PER_COMMAND = 100
# A fast stop ends every session at once, but its closing checkpoint writes what the stream
# dirtied, with fsync on (`up`'s cluster is not a throwaway one): on a loaded machine the stop
# once took longer than pg_ctl's usual 30 s, and the drill ended with "did not stop".
POSTGRES_STOP_TIMEOUT_S = 120


@dataclass
class DrillResult:
    """What one fault did to the stream of commands."""

    fault: str
    offered: int
    accepted: int
    applied: int
    duplicates: int
    out_of_order: int
    recovery_s: float
    ledger_verified: bool
    read_models_match: bool

    @property
    def clean(self) -> bool:
        return (
            self.applied == self.accepted
            and self.duplicates == 0
            and self.out_of_order == 0
            and self.ledger_verified
            and self.read_models_match
        )


def environment(data_dir: Path) -> dict[str, str]:
    """A clean environment on free ports, so the drill never meets a running system."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SINGLEPOT_") and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    ports = (
        "POSTGRES_PORT",
        "BROKER_PORT",
        "GATEWAY_PORT",
        "LEDGER_HEALTH_PORT",
        "ALLOCATIONS_HEALTH_PORT",
        "OUTCOMES_HEALTH_PORT",
    )
    return {
        **clean,
        **{f"SINGLEPOT_{name}": str(free_port()) for name in ports},
        "SINGLEPOT_DATA_DIR": str(data_dir),
        "SINGLEPOT_BROKER_CHECK_INTERVAL_S": "1",
        "SINGLEPOT_CONSUMER_SESSION_TIMEOUT_MS": "4000",
        "SINGLEPOT_CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
        "COLUMNS": "200",
    }


@dataclass
class SupervisedSystem:
    """`singlepot up --no-demo --replicas 2` in a folder of its own."""

    workdir: Path
    env: dict[str, str] = field(init=False)
    up: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.env = environment(self.workdir / "data")

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def database_url(self) -> str:
        # The embedded cluster's superuser proves a generated password (kept beside the cluster).
        password_file = self.data_dir / "postgres" / LOCAL_POSTGRES_PASSWORD_FILE
        password = password_file.read_text(encoding="utf-8").strip()
        port = self.env["SINGLEPOT_POSTGRES_PORT"]
        return f"postgresql://postgres:{password}@127.0.0.1:{port}/singlepot"

    def start(self) -> None:
        self.starts += 1
        log = self.workdir / f"up-{self.starts}.log"
        self.up = subprocess.Popen(
            [sys.executable, "-m", "singlepot", "up", "--no-demo", "--replicas", "2"],
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while "singlepot is up" not in log.read_text(errors="replace"):
            if self.up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"singlepot up did not start:\n{log.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGINT)
            self.up.wait(timeout=60)

    def state(self) -> dict:
        return json.loads((self.data_dir / "supervisor.json").read_text())

    def gateway_urls(self) -> list[str]:
        ports = [p["port"] for p in self.state()["services"] if p["service"] == "gateway"]
        return [f"http://127.0.0.1:{port}" for port in ports]

    def cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "singlepot", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


class CommandStream(threading.Thread):
    """Offers settlements to the places in turn, one at a time, each retried with its own
    Idempotency-Key (on either gateway replica) until accepted, as a careful client does."""

    def __init__(self, system: SupervisedSystem, token: str) -> None:
        super().__init__(daemon=True)
        self.system = system
        self.headers = {"Authorization": f"Bearer {token}"}
        self.offered = 0
        self.accepted: dict[str, list[int]] = {place: [] for place in PLACES}
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.flowing = threading.Event()
        self.flowing.set()
        self.idle = threading.Event()

    def pause(self) -> None:
        """Stop offering after the command in flight, so that figures can be compared."""
        self.flowing.clear()
        self.idle.wait()

    def resume(self) -> None:
        self.idle.clear()
        self.flowing.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            if not self.flowing.is_set():
                self.idle.set()
                self.flowing.wait()
                continue
            number = self.offered + 1
            place = PLACES[number % len(PLACES)]
            self.offered = number
            if self._offer_until_accepted(place, number):
                with self.lock:
                    self.accepted[place].append(number)
            time.sleep(0.05)

    def accepted_count(self) -> int:
        with self.lock:
            return sum(len(numbers) for numbers in self.accepted.values())

    def _offer_until_accepted(self, place: str, number: int) -> bool:
        body = {
            "settlement_id": f"DRILL-{number}",
            "department_code": "DWP",
            "funding_stream_code": f"S{number:06d}",
            "spending_review_period": "SR2025",
            "profile": [{"financial_year": "2026-27", "amount_pence": number * PENCE_PER_COMMAND}],
        }
        headers = {**self.headers, "Idempotency-Key": f"drill-{number}"}
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        attempt = 0
        while time.monotonic() < deadline:
            urls = self._gateways()
            url = urls[attempt % len(urls)] if urls else None
            attempt += 1
            if url is not None:
                try:
                    answer = httpx.post(
                        f"{url}/api/v1/places/{place}/settlements",
                        json=body,
                        headers=headers,
                        timeout=5,
                    )
                    if answer.status_code in (200, 202):
                        return True
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        return False

    def _gateways(self) -> list[str]:
        try:
            return self.system.gateway_urls()
        except (OSError, ValueError, KeyError):
            return []


async def ledger_transfers(database_url: str) -> dict[str, list[int]]:
    """Each place's drill settlements in the ledger, in the order the ledger posted them."""
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT place_id, funding_stream_code FROM ledger.transfers "
            "WHERE funding_stream_code LIKE 'S%' ORDER BY place_id, sequence"
        )
    finally:
        await connection.close()
    posted: dict[str, list[int]] = {place: [] for place in PLACES}
    for row in rows:
        posted.setdefault(row["place_id"], []).append(int(row["funding_stream_code"][1:]))
    return posted


def read_model_settled(system: SupervisedSystem, token: str) -> dict[str, int]:
    """The gateway's read model of each pot: settled pence of the drill's year."""
    settled = {}
    for place in PLACES:
        answer = httpx.get(
            f"{system.gateway_urls()[0]}/api/v1/places/{place}/pot",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        settled[place] = int(answer.json()["totals"]["settled_pence"]) if answer.is_success else -1
    return settled


def _applied_everything(system: SupervisedSystem, stream: CommandStream) -> bool:
    try:
        posted = asyncio.run(ledger_transfers(system.database_url))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    with stream.lock:
        wanted = {place: set(numbers) for place, numbers in stream.accepted.items()}
    return all(wanted[place] <= set(posted.get(place, [])) for place in PLACES)


def measure(
    system: SupervisedSystem, stream: CommandStream, token: str, fault: str, began: float
) -> DrillResult:
    """Wait until every accepted command took effect, then judge what the fault did (the
    stream paused, so that the ledger and the read models hold still while compared)."""
    stream.pause()
    recovered = False
    while time.monotonic() - began < RECOVERY_TIMEOUT_S:
        if _applied_everything(system, stream):
            recovered = True
            break
        time.sleep(0.5)
    recovery_s = time.monotonic() - began if recovered else float("inf")
    posted = asyncio.run(ledger_transfers(system.database_url))
    with stream.lock:
        accepted = {place: list(numbers) for place, numbers in stream.accepted.items()}
    applied = sum(len(set(numbers) & set(posted[p])) for p, numbers in accepted.items())
    duplicates = sum(len(numbers) - len(set(numbers)) for numbers in posted.values())
    out_of_order = sum(
        sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if a > b)
        for numbers in posted.values()
    )
    verified = system.cli("ledger", "verify").returncode == 0
    expected = {p: sum(n * PENCE_PER_COMMAND for n in set(posted[p])) for p in PLACES}
    read_models_match = _eventually(lambda: read_model_settled(system, token) == expected, 30)
    stream.resume()
    return DrillResult(
        fault,
        stream.offered,
        sum(len(numbers) for numbers in accepted.values()),
        applied,
        duplicates,
        out_of_order,
        recovery_s,
        verified,
        read_models_match,
    )


def _eventually(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except (httpx.HTTPError, IndexError, KeyError, ValueError, OSError):
            pass
        time.sleep(0.5)
    return False


def kill_one_replica_of_each(system: SupervisedSystem) -> None:
    for process in system.state()["services"]:
        if process["replica"] == 1 and process["pid"]:
            os.kill(process["pid"], signal.SIGKILL)


def kill_broker(system: SupervisedSystem) -> None:
    os.kill(system.state()["broker"]["pid"], signal.SIGKILL)


def stop_postgres(system: SupervisedSystem) -> None:
    from singlepot.local.postgres import EmbeddedPostgres

    port = int(system.env["SINGLEPOT_POSTGRES_PORT"])
    postgres = EmbeddedPostgres(data_dir=system.data_dir / "postgres", port=port)
    # A fast shutdown (SIGINT to the postmaster), then wait for that process to end. Not
    # `pg_ctl stop -w`: it waits for postmaster.pid to go, and `up` starts a new server (a new
    # postmaster.pid) within a tenth of a second, so pg_ctl waited out its whole timeout.
    pid = postgres._server_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + POSTGRES_STOP_TIMEOUT_S
    while _alive(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL (process {pid}) did not stop within the drill's limit")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_and_restart_up(system: SupervisedSystem) -> None:
    assert system.up is not None
    system.up.kill()
    system.up.wait()
    system.start()


FAULTS: tuple[tuple[str, Callable[[SupervisedSystem], None]], ...] = (
    ("one replica of each service killed with -9", kill_one_replica_of_each),
    ("broker killed with -9", kill_broker),
    ("PostgreSQL stopped", stop_postgres),
    ("`singlepot up` killed with -9 and started again", kill_and_restart_up),
)


def run_drills(workdir: Path, settle_s: float = 3.0) -> list[DrillResult]:
    """Every fault in turn on one supervised system, under one stream of commands."""
    system = SupervisedSystem(workdir)
    system.start()
    results = []
    try:
        places = " ".join(f"--grant finance@{place}" for place in PLACES)
        system.cli("users", "add", "drill-finance", *places.split(), "--grant", "auditor@*")
        token = system.cli("users", "token", "drill-finance").stdout.strip().splitlines()[-1]
        stream = CommandStream(system, token)
        stream.start()
        for fault, inflict in FAULTS:
            time.sleep(settle_s)  # commands flow before the fault
            began = time.monotonic()
            inflict(system)
            time.sleep(settle_s)  # and during the recovery
            results.append(measure(system, stream, token, fault, began))
        stream.stopping.set()
        stream.flowing.set()
        stream.join(timeout=RECOVERY_TIMEOUT_S)
    finally:
        system.stop()
    return results


def main() -> None:
    import tempfile

    from bench.report import Figure, Target, publish

    with tempfile.TemporaryDirectory(prefix="singlepot-drills-") as workdir:
        results = run_drills(Path(workdir))
    figures = []
    for result in results:
        detail = (
            f"{result.fault}: offered {result.offered}, accepted {result.accepted}, "
            f"applied {result.applied}, duplicates {result.duplicates}, out of order "
            f"{result.out_of_order}, ledger verified {result.ledger_verified}, read models "
            f"match {result.read_models_match}"
        )
        figures.append(
            Figure(
                BENCHMARK,
                f"recovery after {result.fault}",
                result.recovery_s,
                "s",
                Target("<=", 30, "issue 15"),
                detail,
            )
        )
        figures.append(
            Figure(BENCHMARK, f"duplicates after {result.fault}", result.duplicates, "commands")
        )
    publish(figures)


if __name__ == "__main__":
    main()
