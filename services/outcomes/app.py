"""The outcomes service: consumes contracts, evidence, allocation news and ledger results;
requests payments and recoveries."""

from pathlib import Path

from contracts import topics
from services.outcomes.handlers import handlers
from services.outcomes.settings import OutcomesSettings
from services.runtime.host import ServiceDefinition


def build_definition(settings: OutcomesSettings) -> ServiceDefinition:
    """The service with the given settings (tests pass their own; the default reads the env)."""
    return ServiceDefinition(
        name="outcomes",
        migrations=Path(__file__).parent / "migrations",
        subscriptions=(
            topics.OUTCOMES_COMMANDS,
            topics.ALLOCATIONS_LIFECYCLE,
            topics.LEDGER_RESULTS,
        ),
        handlers=handlers(settings),
    )


DEFINITION = build_definition(OutcomesSettings())
