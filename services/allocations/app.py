"""The allocations service: consumes board commands and ledger results, tracks each allocation."""

from __future__ import annotations

from pathlib import Path

from contracts import topics
from services.allocations.clock import send_due_work_daily
from services.allocations.handlers import HANDLERS
from services.allocations.settings import AllocationsSettings
from services.runtime.host import ServiceDefinition


def definition(settings: AllocationsSettings | None = None) -> ServiceDefinition:
    """The service with the given settings; the environment is read only when none are given
    (this service needs none of its own yet: the shared runtime reads its own)."""
    del settings  # accepted so that every service's definition is built the same way
    return ServiceDefinition(
        name="allocations",
        migrations=Path(__file__).parent / "migrations",
        subscriptions=(topics.ALLOCATIONS_COMMANDS, topics.LEDGER_RESULTS),
        handlers=HANDLERS,
        background_tasks=(send_due_work_daily,),
    )


def __getattr__(name: str) -> ServiceDefinition:
    # `DEFINITION` is built on first use rather than at import, so importing this module never
    # reads the environment.
    if name == "DEFINITION":
        return definition()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
