"""Reads named SQL queries ("-- name: ..." blocks) from a service's queries.sql file."""

from __future__ import annotations

import re
from pathlib import Path

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class NamedQueries(dict[str, str]):
    """Query text by name; a missing name is a programmer error, so it raises KeyError loudly."""

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r}") from None


def load_queries(path: Path) -> NamedQueries:
    """Parse every `-- name: x` block of `path`; text up to the next name line is the query."""
    text = path.read_text(encoding="utf-8")
    parts = _NAME_LINE.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    queries = NamedQueries()
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"{path}: query {name!r} is defined twice")
        queries[name] = body.strip()
    return queries
