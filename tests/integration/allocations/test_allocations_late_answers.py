"""A ledger answer the allocation can no longer take (late, out of order, or about an
allocation this service does not know) is never dropped silently: it is applied when it still
means something, else recorded with its reason (dead-letter topic, WARNING, metric)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from contracts import ReservationRejected, topics
from contracts.allocations import AllocationCancelled, AllocationFunded, CancelAllocation
from services.runtime import telemetry
from services.runtime.db import create_pool
from tests.integration.allocations.test_allocations_handlers import (
    PLACE,
    Allocations,
    funded,
    reserved,
)
from tests.integration.telemetry.test_telemetry_metrics import points

pytestmark = pytest.mark.integration


@pytest.fixture
async def allocations(database_url: str) -> AsyncIterator[Allocations]:
    pool = await create_pool(database_url, "allocations", 2)
    try:
        yield Allocations(pool)
    finally:
        await pool.close()


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        yield reader
    finally:
        telemetry.use_meter_provider(metrics.get_meter_provider())


def rejected(allocation_id: str) -> ReservationRejected:
    return ReservationRejected(
        place_id=PLACE,
        allocation_id=allocation_id,
        amount_pence=50_000_00,
        reason="not enough unreserved money",
        unreserved_pence=0,
    )


async def dead_letter_reasons(allocations: Allocations) -> list[str]:
    async with allocations.pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT headers::text AS headers FROM outbox WHERE topic = $1 ORDER BY id",
            topics.DEAD_LETTER,
        )
    return [json.loads(row["headers"])["dead_letter_error"] for row in rows]


async def test_a_rejection_arriving_after_the_allocation_was_funded_is_recorded_not_dropped(
    allocations: Allocations, metric_reader: InMemoryMetricReader, caplog
) -> None:
    await funded(allocations)
    with caplog.at_level(logging.WARNING):
        await allocations.send(rejected("A-1"))
    # The allocation stays funded; the contradicting answer is on record with its reason.
    assert len(await allocations.events(AllocationFunded)) == 1
    reasons = await dead_letter_reasons(allocations)
    assert reasons == ["Unapplied: allocation A-1 is funded and awaits no such answer"]
    assert any("did not apply ReservationRejected" in r.message for r in caplog.records)
    counted = points(metric_reader, "singlepot.consumer.unapplied")
    assert [
        (attributes[telemetry.EVENT_TYPE_ATTRIBUTE], value) for attributes, value in counted
    ] == [("ReservationRejected", 1)]


async def test_an_answer_about_an_unknown_allocation_is_recorded_with_the_reason(
    allocations: Allocations,
) -> None:
    await allocations.send(reserved("A-NOBODY", 10_00))
    assert await dead_letter_reasons(allocations) == ["Unapplied: no allocation A-NOBODY in GM"]


async def test_a_reservation_arriving_after_cancellation_is_still_applied_by_releasing_it(
    allocations: Allocations,
) -> None:
    await funded(allocations)
    await allocations.send(
        CancelAllocation(
            place_id=PLACE, allocation_id="A-1", cancelled_by="ao", reason="provider withdrew"
        )
    )
    assert len(await allocations.events(AllocationCancelled)) == 1
    # A late second reservation still means something: money to give back. No dead letter.
    await allocations.send(reserved("A-1", 5_00))
    assert await dead_letter_reasons(allocations) == []
