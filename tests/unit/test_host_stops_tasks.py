"""A service's stop ends its background tasks even when one swallows a cancellation, as
Python 3.11's `asyncio.wait_for` may when what it waits for is done at that moment."""

from __future__ import annotations

import asyncio

from services.runtime import host


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again() -> None:
    cancellations = 0

    async def delivery_loop() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations == 1:
                    continue  # swallowed: the loop goes round again
                raise

    task = asyncio.create_task(delivery_loop())
    await asyncio.sleep(0)
    await host._cancel_until_done(task)
    assert task.cancelled()
    assert cancellations == 2
