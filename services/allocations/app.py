"""The allocations service: consumes board commands and ledger results, tracks each allocation."""

from pathlib import Path

from contracts import topics
from services.allocations.clock import send_due_work_daily
from services.allocations.handlers import HANDLERS
from services.runtime.host import ServiceDefinition

DEFINITION = ServiceDefinition(
    name="allocations",
    migrations=Path(__file__).parent / "migrations",
    subscriptions=(topics.ALLOCATIONS_COMMANDS, topics.LEDGER_RESULTS),
    handlers=HANDLERS,
    background_tasks=(send_due_work_daily,),
)
