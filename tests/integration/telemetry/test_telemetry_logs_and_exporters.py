"""JSON log lines carry the current trace and span ids; the exporter settings choose off,
console or OTLP, and anything else is refused naming the setting."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError

from services.runtime import telemetry
from services.runtime.settings import RuntimeSettings


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("singlepot.test", logging.WARNING, __file__, 1, message, (), None)


def test_a_json_log_line_outside_a_span_has_the_fields_and_no_trace() -> None:
    line = json.loads(telemetry.JsonFormatter().format(record("pot low")))
    assert line["level"] == "WARNING"
    assert line["logger"] == "singlepot.test"
    assert line["message"] == "pot low"
    assert line["time"].endswith("+00:00")
    assert line["trace_id"] is None and line["span_id"] is None


def test_a_json_log_line_inside_a_span_carries_its_trace_and_span_ids(
    spans: InMemorySpanExporter,
) -> None:
    with telemetry.span("work", "ledger") as current:
        assert current is not None
        line = json.loads(telemetry.JsonFormatter().format(record("posting")))
        context = current.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_the_current_traceparent_names_the_running_span(spans: InMemorySpanExporter) -> None:
    with telemetry.span("work", "gateway") as current:
        assert current is not None
        traceparent = telemetry.current_traceparent()
    context = current.get_span_context()
    flags = f"{context.trace_flags:02x}"
    assert traceparent == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"


def test_with_tracing_off_no_span_is_made_and_no_traceparent_is_invented() -> None:
    with telemetry.span("work", "gateway") as current:
        assert current is None
        assert telemetry.current_traceparent() is None


def test_a_child_span_continues_the_trace_named_by_a_traceparent(
    spans: InMemorySpanExporter,
) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with telemetry.span("handle", "ledger", traceparent=parent):
        pass
    [finished] = spans.get_finished_spans()
    assert finished.context is not None and finished.parent is not None
    assert f"{finished.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{finished.parent.span_id:016x}" == "b7ad6b7169203331"


def test_exporters_are_off_by_default_and_console_or_otlp_when_chosen() -> None:
    assert RuntimeSettings().traces_exporter == "none"
    assert telemetry.span_exporter_for("none") is None
    assert isinstance(telemetry.span_exporter_for("console"), ConsoleSpanExporter)
    assert isinstance(telemetry.span_exporter_for("otlp"), OTLPSpanExporter)
    assert telemetry.metric_exporter_for("none") is None


def test_an_unknown_exporter_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SINGLEPOT_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValidationError, match="traces_exporter"):
        RuntimeSettings()


def test_json_logs_replace_the_root_handlers_format(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = logging.StreamHandler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    telemetry.use_json_logs()
    assert isinstance(handler.formatter, telemetry.JsonFormatter)
