"""The allocations service's clock: every so often it asks itself, per place, to do what has
fallen due (grant instalments, expiries, overdue Right to Serve claims).

The command goes through the outbox and Kafka like any other, so it is handled in order with
the place's other commands. Its event id is derived from the place and the date, so however
often the clock ticks in a day, and however many replicas tick, a place gets one command a day.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import asyncpg

from contracts.allocations import ProcessDueWork
from services.allocations import db
from services.runtime.host import ServiceHost
from services.runtime.outbox import Outbox

log = logging.getLogger(__name__)

DUE_WORK_NAMESPACE = UUID("0e4b8f7c-58a4-4a55-a0f6-3b9d7a2e51c4")
# Money falls due on UK dates, whatever zone the servers run in.
UK = ZoneInfo("Europe/London")


async def send_due_work_daily(host: ServiceHost) -> None:
    """Loop until cancelled: queue today's due-work command for every place."""
    while True:
        try:
            assert host.pool is not None
            queued = await queue_due_work(host.pool, datetime.now(UK).date())
            log.info("queued due work for %d place(s)", queued)
        except (OSError, asyncpg.PostgresError):
            log.exception("could not queue due work; trying again at the next tick")
        await asyncio.sleep(host.settings.due_work_interval_s)


async def queue_due_work(pool: asyncpg.Pool, as_of: date) -> int:
    """Queue one ProcessDueWork per place for `as_of`; a repeat the same day adds nothing."""
    async with pool.acquire() as connection, connection.transaction():
        places = await db.place_ids(connection)
        outbox = Outbox(connection, "allocations")
        for place_id in places:
            event_id = uuid5(DUE_WORK_NAMESPACE, f"{place_id}/{as_of.isoformat()}")
            await outbox.add(ProcessDueWork(place_id=place_id, as_of=as_of), event_id=event_id)
    return len(places)
