"""The outcomes service: consumes contracts, evidence and ledger results; requests payments."""

from pathlib import Path

from contracts import topics
from services.outcomes.handlers import HANDLERS
from services.runtime.host import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="outcomes",
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(topics.OUTCOMES_COMMANDS, topics.LEDGER_RESULTS),
    handlers=HANDLERS,
)
