"""The outbox and inbox stay bounded: published rows and old inbox rows go after their
retention, unpublished rows never, and the inbox must outlive the outbox's replay window."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from services.runtime.db import create_pool
from services.runtime.outbox import prune
from services.runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration

DAY_S = 24 * 3600.0


async def test_published_outbox_rows_and_old_inbox_rows_are_pruned_after_their_retention(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, "allocations", 2)
    try:
        async with pool.acquire() as connection:
            for published_days_ago in (None, 1, 8, 9):  # None: not yet published
                await connection.execute(
                    "INSERT INTO outbox (event_id, topic, partition_key, event_type, value, "
                    "published_at) VALUES ($1, 't', 'GM', 'E', '\\x00', "
                    "now() - make_interval(days => $2))",
                    uuid.uuid4(),
                    published_days_ago,
                )
            for processed_days_ago in (1, 13, 15):
                await connection.execute(
                    "INSERT INTO inbox (consumer, event_id, event_type, outcome, processed_at) "
                    "VALUES ('allocations', $1, 'E', 'processed', "
                    "now() - make_interval(days => $2))",
                    uuid.uuid4(),
                    processed_days_ago,
                )
        pruned = await prune(
            pool, outbox_retention_s=7 * DAY_S, inbox_retention_s=14 * DAY_S, batch_max=100
        )
        async with pool.acquire() as connection:
            outbox_left = await connection.fetch(
                "SELECT extract(day FROM now() - published_at)::int AS days FROM outbox "
                "ORDER BY published_at NULLS FIRST"
            )
            inbox_left = await connection.fetchval("SELECT count(*) FROM inbox")
    finally:
        await pool.close()
    assert (pruned.outbox_rows, pruned.inbox_rows) == (2, 1)
    assert [row["days"] for row in outbox_left] == [None, 1]
    assert inbox_left == 2


def test_an_inbox_kept_shorter_than_the_outbox_is_refused() -> None:
    with pytest.raises(ValidationError, match="SINGLEPOT_INBOX_RETENTION_S"):
        RuntimeSettings(outbox_retention_s=7 * DAY_S, inbox_retention_s=DAY_S)
