"""The outcomes service: consumes contracts, evidence, allocation news and ledger results;
requests payments and recoveries."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from contracts import topics
from services.outcomes.handlers import HANDLERS
from services.outcomes.settings import OutcomesSettings
from services.runtime.host import ServiceDefinition


def definition(settings: OutcomesSettings | None = None) -> ServiceDefinition:
    """The service with the given settings (tests pass their own); the environment is read
    only when none are given, never at import."""
    outcomes_settings = settings or OutcomesSettings()
    return ServiceDefinition(
        name="outcomes",
        migrations=Path(__file__).parent / "migrations",
        subscriptions=(
            topics.OUTCOMES_COMMANDS,
            topics.ALLOCATIONS_LIFECYCLE,
            topics.LEDGER_RESULTS,
        ),
        handlers={kind: partial(handler, outcomes_settings) for kind, handler in HANDLERS.items()},
    )


build_definition = definition
"""The name earlier callers (tests, the benchmark) use."""


def __getattr__(name: str) -> ServiceDefinition:
    # `DEFINITION` is built on first use rather than at import, so importing this module never
    # reads the environment.
    if name == "DEFINITION":
        return definition()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
