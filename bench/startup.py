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

from singlepot.local.ports import free_port

RUNS = 3


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


def time_to_ready(env: dict[str, str], log: Path) -> float:
    """Seconds from launching `singlepot up` to its "singlepot is up" line; then Ctrl-C."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "singlepot", "up"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        while "singlepot is up" not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(f"singlepot up exited:\n{log.read_text()}")
            time.sleep(0.05)
        return time.monotonic() - started
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def main() -> dict[str, float]:
    cold, warm = [], []
    for run in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            env = _environment(Path(folder) / "data")
            cold.append(time_to_ready(env, Path(folder) / f"cold-{run}.log"))
            warm.append(time_to_ready(env, Path(folder) / f"warm-{run}.log"))
    figures = {
        "cold_up_to_ready_s": statistics.median(cold),
        "warm_restart_to_ready_s": statistics.median(warm),
    }
    for name, value in figures.items():
        print(
            f"{name}: {value:.2f} (median of {RUNS}; all: "
            f"{', '.join(f'{v:.2f}' for v in (cold if 'cold' in name else warm))})"
        )
    return figures


if __name__ == "__main__":
    main()
