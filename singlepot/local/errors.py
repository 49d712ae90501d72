"""The one exception the local launchers raise, worded for the person at the terminal."""

from __future__ import annotations

from pathlib import Path


class LocalStackError(Exception):
    """A local part could not start or stop; str() is one sentence: what is wrong and the fix."""


def log_tail(path: Path | None, lines: int = 15, since: int = 0) -> str:
    """Return the last lines written to a log file after byte offset since, on one line."""
    if path is None:
        return ""
    try:
        with path.open("rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def log_size(path: Path | None) -> int:
    """Return the current size of a log file (0 when missing), to show only new lines later."""
    try:
        return path.stat().st_size if path is not None else 0
    except OSError:
        return 0
