"""One in-memory span exporter for the process (OpenTelemetry allows one global tracer provider),
switched on for each telemetry test and off after it, so other tests record nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.runtime import telemetry

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans finished during the test, from every service running in this process."""
    _EXPORTER.clear()
    telemetry.use_tracer_provider(_PROVIDER)
    try:
        yield _EXPORTER
    finally:
        telemetry.stop_tracing()
        _EXPORTER.clear()
