"""One trace end to end: a decision posted to the gateway's HTTP API is followed through the
allocations service, the ledger's reservation and back to allocations and outcomes, every span
of it under the request's trace id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from contracts import FinancialYearAmount, RecordSettlement, topics
from contracts.allocations import AllocationFunded, AllocationProposed, ProposeAllocation
from services.runtime.telemetry import PLACE_ATTRIBUTE, SERVICE_ATTRIBUTE
from singlepot.system import service_definition
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETTLEMENT = RecordSettlement(
    place_id="GM",
    settlement_id="S-DWP",
    department_code="DWP",
    funding_stream_code="WORK",
    spending_review_period="SR2025",
    profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=200_000_00),),
)
PROPOSAL = ProposeAllocation(
    place_id="GM",
    allocation_id="A-1",
    allocation_type="outcomes_contract",
    recipient_id="PROV-A",
    purpose="Supported employment",
    mission_id="M-GOOD-JOBS",
    start_date=date(2026, 4, 1),
    end_date=date(2028, 3, 31),
    value_pence=30_000_00,
    financial_year="2026-27",
    proposed_by="officer",
)


def services_in(trace_spans: Sequence[ReadableSpan]) -> set[str]:
    return {str((span.attributes or {}).get(SERVICE_ATTRIBUTE)) for span in trace_spans}


def in_trace(spans: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.context and s.context.trace_id == trace_id]


async def test_one_request_is_one_trace_across_gateway_allocations_ledger_and_outcomes(
    settings, database_url, spans: InMemorySpanExporter
) -> None:
    token = await token_for(database_url, "officer-1", "accounting_officer@GM")
    reader = TopicReader(settings, topics.ALLOCATIONS_LIFECYCLE)
    async with (
        reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        running(service_definition("outcomes"), settings),
        client_for(settings) as client,
    ):
        await publish(settings, SETTLEMENT, PROPOSAL)
        await eventually(lambda: _seen(reader, AllocationProposed))
        response = await client.post(
            "/api/v1/places/GM/allocations/A-1/decision",
            json={"decision": "approved"},
            headers=bearer(token, "decide-A-1"),
        )
        assert response.status_code == 202, response.text
        await eventually(lambda: _seen(reader, AllocationFunded))
        [request] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
        assert (request.attributes or {}).get(SERVICE_ATTRIBUTE) == "gateway"
        assert request.context is not None
        trace_id = request.context.trace_id

        async def outcomes_saw_funding() -> bool:
            return "outcomes" in services_in(in_trace(spans, trace_id))

        await eventually(outcomes_saw_funding)

    trace_spans = in_trace(spans, trace_id)
    assert services_in(trace_spans) >= {"gateway", "allocations", "ledger", "outcomes"}
    ledger_postings = [
        s
        for s in trace_spans
        if (s.attributes or {}).get(SERVICE_ATTRIBUTE) == "ledger" and s.kind is SpanKind.CONSUMER
    ]
    assert ledger_postings, "the ledger's handling of the reservation is in the request's trace"
    assert all((s.attributes or {}).get(PLACE_ATTRIBUTE) == "GM" for s in ledger_postings)
    assert any(s.kind is SpanKind.PRODUCER for s in trace_spans), "the relay's publish is traced"
    [posting] = [s for s in trace_spans if s.name == "ledger decide"]
    assert (posting.attributes or {}).get("singlepot.transfers") == 1
    # What the ledger answered continues from its decision: allocations' handling of the
    # ReservationMade descends from the ledger's decide span.
    parents = {s.context.span_id: s.parent.span_id for s in trace_spans if s.parent is not None}

    def descends_from_posting(span_id: int) -> bool:
        while span_id in parents:
            span_id = parents[span_id]
            if span_id == posting.context.span_id:
                return True
        return False

    assert any(
        descends_from_posting(s.context.span_id)
        for s in trace_spans
        if (s.attributes or {}).get(SERVICE_ATTRIBUTE) == "allocations"
    ), "allocations handled the ledger's answer inside the ledger's branch of the trace"
    # Every span of the trace hangs from the request: none starts a trace of its own.
    assert [s for s in trace_spans if s.parent is None] == [request]


async def _seen(reader: TopicReader, event_type: type) -> bool:
    return bool(reader.events(event_type))
