"""The allocations clock queues one due-work command per place per day, however often it ticks."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import decode, unwrap
from contracts.allocations import ProcessDueWork
from services.allocations.clock import queue_due_work
from services.runtime.db import create_pool

pytestmark = pytest.mark.integration


async def test_the_clock_queues_one_due_work_command_per_place_per_day(database_url) -> None:
    pool = await create_pool(database_url, "allocations", 2)
    try:
        async with pool.acquire() as connection:
            await connection.execute("INSERT INTO places VALUES ('GM'), ('WMCA')")
        assert await queue_due_work(pool, date(2026, 11, 23)) == 2
        await queue_due_work(pool, date(2026, 11, 23))  # a second tick the same day
        await queue_due_work(pool, date(2026, 11, 24))
        async with pool.acquire() as connection:
            rows = await connection.fetch("SELECT value FROM outbox ORDER BY id")
    finally:
        await pool.close()

    commands = [unwrap(decode(bytes(row["value"]))) for row in rows]
    assert all(isinstance(command, ProcessDueWork) for command in commands)
    assert sorted((c.place_id, c.as_of.isoformat()) for c in commands) == [  # type: ignore[attr-defined]
        ("GM", "2026-11-23"),
        ("GM", "2026-11-24"),
        ("WMCA", "2026-11-23"),
        ("WMCA", "2026-11-24"),
    ]
