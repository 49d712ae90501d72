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


async def test_a_join_step_that_fails_is_undone_and_retried_until_it_succeeds() -> None:
    """The broker may go away between a service connecting and joining its group: the join
    goes on in the background, so it must retry rather than leave the service consuming
    nothing."""
    from pathlib import Path

    from services.runtime.settings import RuntimeSettings

    attempts, undone = 0, 0

    async def start() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("the broker went away")

    async def stop() -> None:
        nonlocal undone
        undone += 1

    definition = host.ServiceDefinition("test", Path("."), subscriptions=(), handlers={})
    service = host.ServiceHost(definition, RuntimeSettings(infrastructure_retry_backoff_s=0.01))
    await service._until_done(start, undo=stop)
    assert (attempts, undone) == (3, 2)
