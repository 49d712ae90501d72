"""A webhook delivery continues the spend event's trace from the trace context stored with the
department's spend, so a gateway that restarted between consuming the spend and delivering it
still delivers inside the spend event's trace."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.envelope import wrap
from contracts.ledger import SpendRecorded
from contracts.values import AttributionShare
from services.gateway import app as handlers
from services.gateway.delivery import db, webhooks
from services.runtime import telemetry
from tests.integration.gateway.gateway_support import WebhookReceiver, gateway_settings
from tests.integration.telemetry.conftest import _EXPORTER, _PROVIDER

pytestmark = [pytest.mark.integration]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
SPEND = SpendRecorded(
    place_id="GM",
    spend_id="SP-T",
    payment_id="P-T",
    allocation_id="A-1",
    provider_id="PROV-A",
    contract_id=None,
    amount_pence=700,
    payment_kind="grant_instalment",
    purpose="hubs",
    financial_year="2026-27",
    attribution=(
        AttributionShare(department_code="DWP", funding_stream_code="WORK", amount_pence=700),
    ),
    transfer_id="T-T",
)


@pytest.fixture
def recorded_spans() -> Iterator[InMemorySpanExporter]:
    """The telemetry tests' in-memory exporter (one tracer provider per process)."""
    _EXPORTER.clear()
    telemetry.use_tracer_provider(_PROVIDER)
    try:
        yield _EXPORTER
    finally:
        telemetry.stop_tracing()
        _EXPORTER.clear()


async def test_a_delivery_after_a_restart_continues_the_stored_trace(
    database_url, recorded_spans: InMemorySpanExporter
) -> None:
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert pool is not None
    receiver = WebhookReceiver()
    envelope = wrap(SPEND, producer="ledger", traceparent=TRACEPARENT)
    try:
        async with pool.acquire() as connection, connection.transaction():
            await db.insert_subscription(
                connection, uuid.uuid4(), "DWP", receiver.url, "secret", "dwp-feed", None
            )
            await handlers.handle_batch(connection, [(envelope, SPEND)])
        async with pool.acquire() as connection:
            stored = await connection.fetchval(
                "SELECT traceparent FROM department_spend WHERE event_id = $1", envelope.event_id
            )
        # What a restart does to the process's memory of traces.
        telemetry._remembered.clear()
        assert telemetry.remembered_trace(envelope.event_id) is None
        settings = gateway_settings()
        async with receiver.running(), webhooks.guarded_client(settings) as client:
            tried = await webhooks.deliver_due(pool, client, settings)
    finally:
        await pool.close()

    assert stored == TRACEPARENT
    assert tried == 1
    assert list(receiver.accepted) == [str(envelope.event_id)]
    [delivery] = [s for s in recorded_spans.get_finished_spans() if "webhook" in s.name]
    assert delivery.context is not None
    assert f"{delivery.context.trace_id:032x}" == TRACE_ID
