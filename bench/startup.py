"""Benchmark: `singlepot up` from an empty data folder to ready (cold), and again (warm).

"Ready" means `up` printed "singlepot is up": PostgreSQL and the broker run, topics exist,
migrations are applied, all four services answer /readyz, and the demo place is loaded.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, Target, publish
from singlepot.local.ports import free_port

RUNS = 3
BENCHMARK = "start-up"


def _environment(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SINGLEPOT_") and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    for name in (
        "POSTGRES_PORT",
        "BROKER_PORT",
        "GATEWAY_PORT",
        "LEDGER_HEALTH_PORT",
        "ALLOCATIONS_HEALTH_PORT",
        "OUTCOMES_HEALTH_PORT",
    ):
        env[f"SINGLEPOT_{name}"] = str(free_port())
    env["SINGLEPOT_DATA_DIR"] = str(data_dir)
    return env


def time_to_ready(
    env: dict[str, str],
    log: Path,
    command: list[str] | None = None,
    cwd: Path | None = None,
) -> float:
    """Seconds from launching `singlepot up` (or `command`) to its "singlepot is up" line; then
    Ctrl-C."""
    started = time.monotonic()
    process = subprocess.Popen(
        command or [sys.executable, "-m", "singlepot", "up"],
        cwd=cwd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        # `make run` is stopped as a terminal stops it: Ctrl-C reaches its whole process group.
        start_new_session=command is not None,
    )
    try:
        while "singlepot is up" not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited:\n{log.read_text()}")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        if command is None:
            process.send_signal(signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)


def main() -> list[Figure]:
    cold, warm = [], []
    for run in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            env = _environment(Path(folder) / "data")
            cold.append(time_to_ready(env, Path(folder) / f"cold-{run}.log"))
            warm.append(time_to_ready(env, Path(folder) / f"warm-{run}.log"))

    def runs(values: list[float]) -> str:
        return f"median of {RUNS}: {', '.join(f'{value:.2f}' for value in values)}"

    figures = [
        Figure(
            BENCHMARK,
            "cold `singlepot up` to ready, empty data folder",
            statistics.median(cold),
            "s",
            detail=runs(cold),
        ),
        Figure(
            BENCHMARK,
            "warm restart to ready, existing data folder",
            statistics.median(warm),
            "s",
            Target("<=", 15, "issue 2"),
            detail=runs(warm),
        ),
    ]
    publish(figures)
    return figures


if __name__ == "__main__":
    main()
