"""A spend event's webhook delivery is a span in the trace the spend event carries."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts import AttributionShare, SpendRecorded
from contracts.envelope import encode, wrap
from services.runtime.telemetry import SERVICE_ATTRIBUTE
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    client_for,
    token_for,
)
from tests.support.kafka import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
SPEND = SpendRecorded(
    place_id="GM",
    spend_id="SP-1",
    payment_id="P-1",
    allocation_id="A-1",
    provider_id="PROV-A",
    contract_id="C-1",
    amount_pence=1_000,
    payment_kind="outcome_payment",
    purpose="job outcomes",
    financial_year="2026-27",
    attribution=(
        AttributionShare(department_code="DWP", funding_stream_code="WORK", amount_pence=1_000),
    ),
    transfer_id="T-1",
)


async def test_the_webhook_delivery_of_a_spend_event_is_in_the_spend_events_trace(
    settings, database_url, spans: InMemorySpanExporter
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver()
    async with receiver.running(), client_for(settings) as client:
        response = await client.post(
            "/api/v1/departments/DWP/webhooks",
            json={"url": receiver.url},
            headers=bearer(token, "sub-1"),
        )
        assert response.status_code == 201, response.text
        await _publish_traced(settings)

        async def delivered() -> bool:
            return bool(receiver.accepted)

        await eventually(delivered)

        async def delivery_spans() -> list:
            return [s for s in spans.get_finished_spans() if s.name == "gateway webhook deliver"]

        [delivery] = await eventually(delivery_spans)

    assert delivery.context is not None
    assert f"{delivery.context.trace_id:032x}" == TRACE_ID
    assert (delivery.attributes or {})[SERVICE_ATTRIBUTE] == "gateway"
    assert (delivery.attributes or {})["http.response.status_code"] == 200


async def _publish_traced(settings) -> None:
    envelope = wrap(SPEND, producer="ledger", traceparent=TRACEPARENT)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(SPEND.topic), encode(envelope), key=SPEND.partition_key().encode()
        )
    finally:
        await producer.stop()
