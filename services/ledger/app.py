"""The ledger service: consumes requests to the ledger in batches, answers with results,
posted transfers and spend events."""

from pathlib import Path

from contracts import topics
from services.ledger.handlers import HANDLERS, handle_batch
from services.ledger.reports import add_report_routes
from services.ledger.settings import LedgerSettings
from services.runtime.host import ServiceDefinition


def definition(settings: LedgerSettings | None = None) -> ServiceDefinition:
    """The service, built like every service's (its report routes read their own settings)."""
    del settings  # accepted so that every service's definition is built the same way
    return ServiceDefinition(
        name="ledger",
        migrations=Path(__file__).parent / "migrations",
        subscriptions=(topics.LEDGER_REQUESTS,),
        handlers=HANDLERS,
        batch_handler=handle_batch,
        extend_http=add_report_routes,
    )


DEFINITION = definition()  # reads no environment: kept for the callers that import it
