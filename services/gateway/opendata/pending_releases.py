"""The projector's periodic task that keeps the OCDS releases still waiting once they are due:
a fetch marks each contracting process it changed and keeps a release at most once per interval
(history_handlers.py), so the last change of a burst is kept here when no later fetch keeps it.

Safe with several projectors: each due process is claimed with `FOR UPDATE SKIP LOCKED` in its
own transaction, so two tasks (or a task and a fetch marking the process) never keep the same
waiting release twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from services.gateway.opendata import history_db
from services.gateway.settings import GatewaySettings
from services.runtime.host import ServiceHost

log = logging.getLogger(__name__)

# How often the task looks for due releases: a waiting release is kept at most this long after
# it falls due. The look is one indexed query.
POLL_S = 1.0
# The most processes one look keeps releases of, so a look ends; the rest wait for the next.
PROCESSES_PER_LOOK_MAX = 100
# After a failure (the database away), the task tries again this much later.
RETRY_AFTER_FAILURE_S = 5.0


async def keep_due(
    connection: asyncpg.Connection,
    interval: timedelta,
    now: datetime | None = None,
    processes_max: int = PROCESSES_PER_LOOK_MAX,
) -> int:
    """Keep the release of each process whose waiting change is due `now`, one process per
    transaction; returns how many processes were released."""
    released = 0
    while released < processes_max:
        async with connection.transaction():
            change = await history_db.claim_due_release(connection, now or datetime.now(UTC))
            if change is None:
                return released
            await history_db.keep_waiting(connection, change, datetime.now(UTC) + interval)
        released += 1
    return released


async def keep_all_waiting(connection: asyncpg.Connection) -> int:
    """Keep every waiting release now, due or not (a drain: benchmarks and tests)."""
    far_ahead = datetime.now(UTC) + timedelta(days=365)
    return await keep_due(connection, timedelta(0), now=far_ahead)


def waiting_releases_loop(settings: GatewaySettings) -> Callable[[ServiceHost], Awaitable[None]]:
    """The background task, in the projector role, that keeps waiting releases once due."""
    interval = timedelta(seconds=settings.opendata_release_interval_s)

    async def keep_waiting_releases(host: ServiceHost) -> None:
        assert host.pool is not None
        while True:
            try:
                async with host.pool.acquire() as connection:
                    await keep_due(connection, interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is away: the marks stay, and are kept when it is back.
                log.exception("keeping waiting OCDS releases failed; retrying")
                await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                continue
            await asyncio.sleep(POLL_S)

    return keep_waiting_releases
