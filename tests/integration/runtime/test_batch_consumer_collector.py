"""A throughput consumer does not run the cyclic collector while it handles a fetch (every
object of a batch lives until the batch ends, so a collection during it walks them all and
frees nothing), and collects as before once the fetch is done; a consumer sharing its loop
with HTTP requests collects as usual throughout."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import asyncpg
import pytest

from contracts import Event, RecordSettlement
from contracts.envelope import Envelope
from services.runtime.batch_consumer import BatchConsumer, collector_paused
from services.runtime.consumer import EventConsumer
from services.runtime.db import create_pool
from tests.integration.runtime.test_batch_consumer_fetches import RecordingConsumer, a_fetch

pytestmark = pytest.mark.integration


class NotesTheCollector:
    """Notes, for each batch, whether the collector was on while it was handled."""

    def __init__(self) -> None:
        self.collector_on: list[bool] = []

    async def __call__(
        self, connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        await connection.fetchval("SELECT 1")
        self.collector_on.append(gc.isenabled())


async def handle_a_fetch(database_url: str, *, collect_less_often: bool) -> list[bool]:
    pool = await create_pool(database_url, "ledger", 2)
    handler = NotesTheCollector()
    batches = BatchConsumer(
        name="test",
        pool=pool,
        handler=handler,
        event_types=frozenset({RecordSettlement}),
        fallback=EventConsumer("test", pool, {}, attempts_max=1, retry_backoff_s=0),
        consumer=RecordingConsumer(),
        batch_size_max=1000,
        infrastructure_retry_backoff_s=0,
        collect_less_often=collect_less_often,
    )
    try:
        await batches.process_fetch(a_fetch())
    finally:
        await pool.close()
    assert gc.isenabled(), "the collector is on again after the fetch"
    return handler.collector_on


async def test_a_throughput_consumer_handles_a_fetch_without_collecting(database_url) -> None:
    assert await handle_a_fetch(database_url, collect_less_often=True) == [False, False]


async def test_a_consumer_sharing_its_loop_with_requests_collects_throughout(
    database_url,
) -> None:
    assert await handle_a_fetch(database_url, collect_less_often=False) == [True, True]


def test_the_collector_is_on_again_after_a_block_that_failed() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a batch failed")
    assert gc.isenabled()


def test_a_block_inside_one_leaves_the_collector_off_until_the_outer_one_ends() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
