"""The ledger service: consumes requests to the ledger in batches, answers with results,
posted transfers and spend events."""

from pathlib import Path

from contracts import topics
from services.ledger.handlers import HANDLERS, handle_batch
from services.ledger.reports import add_report_routes
from services.runtime.host import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="ledger",
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(topics.LEDGER_REQUESTS,),
    handlers=HANDLERS,
    batch_handler=handle_batch,
    extend_http=add_report_routes,
)
