"""The committed schema snapshot: build it, write it, and check changes against it.

Run `python -m contracts.snapshot` after an additive change to refresh
contracts/schema_snapshot.json; it refuses a breaking change unless --allow-breaking is given.
Each event type is listed with its version, its `topic` (or, for the one type published on
several, its `topics`) and its schema; `renamed` lists the former event types still read as
another (`contracts.upcasting.RENAMED`), so that dropping one of them is caught too.
"""

import json
import sys
from pathlib import Path
from typing import Any

from contracts.base import EVENT_TYPES
from contracts.compatibility import breaking_changes
from contracts.envelope import Envelope
from contracts.upcasting import RENAMED

__all__ = ["SNAPSHOT_PATH", "breaking_changes", "current_snapshot", "load_snapshot", "main"]

SNAPSHOT_PATH = Path(__file__).with_name("schema_snapshot.json")


def current_snapshot() -> dict[str, Any]:
    """The schemas as the code defines them now, in the snapshot's JSON shape."""
    snapshot = {
        "envelope": {"schema": Envelope.model_json_schema()},
        "events": {
            event_type: {
                "schema_version": cls.schema_version,
                **_topics(cls.topics),
                "schema": cls.model_json_schema(),
            }
            for event_type, cls in sorted(EVENT_TYPES.items())
        },
        "renamed": {
            former: {"read_as": renamed.read_as, "last_version": renamed.last_version}
            for former, renamed in sorted(RENAMED.items())
        },
    }
    # A JSON round trip, so the result compares equal to what load_snapshot() reads back.
    loaded: dict[str, Any] = json.loads(_render(snapshot))
    return loaded


def _topics(topics: tuple[str, ...]) -> dict[str, Any]:
    return {"topic": topics[0]} if len(topics) == 1 else {"topics": sorted(topics)}


def load_snapshot(path: Path = SNAPSHOT_PATH) -> dict[str, Any]:
    """The committed snapshot."""
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _render(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the snapshot from the code, unless that would hide a breaking change."""
    arguments = sys.argv[1:] if argv is None else argv
    new = current_snapshot()
    problems = breaking_changes(load_snapshot(), new) if SNAPSHOT_PATH.exists() else []
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    if problems and "--allow-breaking" not in arguments:
        print(
            "Not written. Bump the event's schema_version and register an upcaster, or use a "
            "new topic version; pass --allow-breaking only if no old messages exist.",
            file=sys.stderr,
        )
        return 1
    SNAPSHOT_PATH.write_text(_render(new), encoding="utf-8")
    print(f"wrote {SNAPSHOT_PATH} ({len(new['events'])} event types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
