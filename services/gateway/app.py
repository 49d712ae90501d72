"""The gateway service: HTTP commands and queries for people, read models from public events."""

from pathlib import Path

from contracts import topics
from services.gateway.api import extend_http
from services.gateway.handlers import HANDLERS
from services.runtime.host import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="gateway",
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(topics.LEDGER_RESULTS, topics.LEDGER_SPEND),
    handlers=HANDLERS,
    extend_http=extend_http,
)
