"""The ledger service: consumes requests to the ledger, answers with results and spend events."""

from pathlib import Path

from contracts import topics
from services.ledger.handlers import HANDLERS
from services.runtime.host import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="ledger",
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(topics.LEDGER_REQUESTS,),
    handlers=HANDLERS,
)
