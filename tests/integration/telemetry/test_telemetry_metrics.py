"""Metrics read with an in-memory reader while the real ledger runs: reservations by place,
the outbox backlog, consumer lag per partition and dead letters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from contracts import FinancialYearAmount, RecordSettlement, topics
from contracts.ledger import ReservationMade, ReservationRequested
from services.runtime import telemetry
from singlepot.system import service_definition
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETTLEMENT = RecordSettlement(
    place_id="GM",
    settlement_id="S-DWP",
    department_code="DWP",
    funding_stream_code="WORK",
    spending_review_period="SR2025",
    profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=10_000),),
)


def reservation(allocation_id: str) -> ReservationRequested:
    return ReservationRequested(
        place_id="GM",
        allocation_id=allocation_id,
        financial_year="2026-27",
        amount_pence=1_000,
        purpose="hubs",
    )


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    metric_reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[metric_reader]))
    try:
        yield metric_reader
    finally:
        telemetry.use_meter_provider(metrics.get_meter_provider())


def points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, Any], float]]:
    data = reader.get_metrics_data()
    found = []
    for resource_metrics in data.resource_metrics if data else []:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found += [
                        (dict(p.attributes or {}), p.value)
                        for p in metric.data.data_points
                        if isinstance(p, NumberDataPoint)
                    ]
    return found


async def test_reservations_backlog_lag_and_dead_letters_are_measured(
    settings, reader: InMemoryMetricReader
) -> None:
    results = TopicReader(settings, topics.LEDGER_RESULTS)
    async with results, running(service_definition("ledger"), settings):
        await publish(settings, SETTLEMENT, reservation("A-1"), reservation("A-2"))
        await eventually(lambda: _count(results, ReservationMade, 2))
        await _send_garbage(settings)

        async def dead_lettered() -> bool:
            return bool(points(reader, "singlepot.consumer.dead_letters"))

        await eventually(dead_lettered)

        async def reservations_counted() -> list[tuple[dict[str, Any], float]]:
            return points(reader, "singlepot.ledger.reservations")

        counted = await eventually(reservations_counted)
        backlog = points(reader, "singlepot.outbox.backlog")
        lag = points(reader, "singlepot.consumer.lag")

    assert counted == [({telemetry.PLACE_ATTRIBUTE: "GM"}, 2)]
    assert ({telemetry.SERVICE_ATTRIBUTE: "ledger"}, 0) in backlog
    assert lag, "the ledger's partitions report their lag"
    assert all(a[telemetry.SERVICE_ATTRIBUTE] == "ledger" and value >= 0 for a, value in lag)
    [(attributes, dead)] = points(reader, "singlepot.consumer.dead_letters")
    assert attributes[telemetry.SERVICE_ATTRIBUTE] == "ledger" and dead == 1


async def _count(reader: TopicReader, event_type: type, expected: int) -> bool:
    return len(reader.events(event_type)) >= expected


async def test_a_single_message_consumer_reports_its_lag_too(
    settings, reader: InMemoryMetricReader
) -> None:
    # Allocations consumes one message at a time through FastStream, not in batches.
    async with running(service_definition("allocations"), settings):
        for number in range(3):
            await _send_garbage(settings, topics.ALLOCATIONS_COMMANDS, b"not json %d" % number)

        async def caught_up() -> list[tuple[dict[str, Any], float]]:
            lag = points(reader, "singlepot.consumer.lag")
            dead = points(reader, "singlepot.consumer.dead_letters")
            return lag if dead and dead[0][1] == 3 else []

        lag = await eventually(caught_up)

    commands = [
        (attributes, value)
        for attributes, value in lag
        if attributes["topic"] == settings.topic(topics.ALLOCATIONS_COMMANDS)
    ]
    assert commands, f"no lag reported for the allocations commands topic: {lag}"
    assert all(a[telemetry.SERVICE_ATTRIBUTE] == "allocations" for a, _ in commands)
    assert all(value == 0 for _, value in commands), "after the last message it is caught up"


async def _send_garbage(
    settings: Any, topic: str = topics.LEDGER_REQUESTS, garbage: bytes = b"not json"
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), garbage, key=b"GM")
    finally:
        await producer.stop()
