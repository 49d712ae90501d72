"""The outcomes service: consumes contracts, evidence, allocation news and ledger results; requests
payments and recoveries. It consumes in batches: each fetch (every partition of a topic) is handled
in one transaction (`services.runtime.batched_handlers`), one message after another, with each
changed contract's funnel and monitors run once at the end (`handlers.MonitorsOnce`)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import asyncpg

from contracts import Event, topics
from contracts.envelope import Envelope
from services.outcomes.handlers import HANDLERS, monitors_once_per_fetch
from services.outcomes.settings import OutcomesSettings
from services.runtime.batched_handlers import handle_in_one_transaction
from services.runtime.host import ServiceDefinition

SERVICE_NAME = "outcomes"


def definition(settings: OutcomesSettings | None = None) -> ServiceDefinition:
    """The service with the given settings (tests pass their own); the environment is read
    only when none are given, never at import."""
    outcomes_settings = settings or OutcomesSettings()
    handlers = {kind: partial(handler, outcomes_settings) for kind, handler in HANDLERS.items()}

    async def handle_batch(
        connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        with monitors_once_per_fetch() as monitors:
            await handle_in_one_transaction(
                SERVICE_NAME, handlers, connection, messages, finish=monitors.run
            )

    return ServiceDefinition(
        name=SERVICE_NAME,
        migrations=Path(__file__).parent / "migrations",
        subscriptions=(
            topics.OUTCOMES_COMMANDS,
            topics.ALLOCATIONS_LIFECYCLE,
            topics.LEDGER_RESULTS,
        ),
        handlers=handlers,
        batch_handler=handle_batch,
    )


build_definition = definition
"""The name earlier callers (tests, the benchmark) use."""


def __getattr__(name: str) -> ServiceDefinition:
    # `DEFINITION` is built on first use rather than at import, so importing this module never
    # reads the environment.
    if name == "DEFINITION":
        return definition()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
