"""Tracing, metrics and JSON logs for every singlepot process: set up once, free when off.

One trace follows a request end to end: the gateway's HTTP span → the command's envelope
(`traceparent`) → the outbox row and its Kafka header → each consumer's span (its parent taken
from the envelope) → the events it emits (which carry the current span's `traceparent`) → the
ledger's posting → the spend event → the webhook delivery. Every span carries the attribute
`singlepot.service`, so one process running several services still tells them apart.

With `SINGLEPOT_TRACES_EXPORTER=none` (the default) no tracer provider is installed and every
helper here returns before creating anything; with `console` spans are printed; with `otlp`
they go to the collector named by the standard `OTEL_EXPORTER_OTLP_*` variables.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from services.runtime.settings import RuntimeSettings

SERVICE_ATTRIBUTE = "singlepot.service"
PLACE_ATTRIBUTE = "singlepot.place_id"
EVENT_TYPE_ATTRIBUTE = "singlepot.event_type"
EVENT_ID_ATTRIBUTE = "singlepot.event_id"
# How many consumed events' trace contexts a process remembers, so that later work caused by an
# event (a webhook delivery of a spend event) can join its trace without a database column.
REMEMBERED_TRACES_MAX = 10_000

_PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_configured = False
_tracing = False
_installed = False
_remembered: OrderedDict[UUID, str] = OrderedDict()

log = logging.getLogger(__name__)


# --- Set-up -----------------------------------------------------------------------------------


def configure(settings: RuntimeSettings, *, service_name: str = "singlepot") -> None:
    """Set up logs, traces and metrics for this process as `settings` say; later calls do
    nothing, so every service in one process may call it."""
    global _configured
    with _lock:
        if _configured:
            return
        _configured = True
    if settings.log_format == "json":
        use_json_logs()
    span_exporter = span_exporter_for(settings.traces_exporter)
    resource = Resource.create({"service.name": service_name})
    if span_exporter is not None:
        provider = TracerProvider(resource=resource)
        processor = (
            SimpleSpanProcessor(span_exporter)
            if isinstance(span_exporter, ConsoleSpanExporter)
            else BatchSpanProcessor(span_exporter)
        )
        provider.add_span_processor(processor)
        use_tracer_provider(provider)
    metric_exporter = metric_exporter_for(settings.metrics_exporter)
    if metric_exporter is not None:
        reader = PeriodicExportingMetricReader(
            metric_exporter, export_interval_millis=int(settings.metrics_interval_s * 1000)
        )
        use_meter_provider(SdkMeterProvider(resource=resource, metric_readers=[reader]))


def span_exporter_for(kind: str) -> SpanExporter | None:
    """The span exporter for `SINGLEPOT_TRACES_EXPORTER`; None means tracing is off."""
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def metric_exporter_for(kind: str) -> MetricExporter | None:
    """The metric exporter for `SINGLEPOT_METRICS_EXPORTER`; None means metrics are off."""
    if kind == "console":
        return ConsoleMetricExporter()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    return None


def use_tracer_provider(provider: trace.TracerProvider) -> None:
    """Install `provider` as the process's tracer provider and switch tracing on. OpenTelemetry
    allows one global provider per process: a second call only switches tracing back on."""
    global _tracing, _installed
    if not _installed:
        trace.set_tracer_provider(provider)
        _installed = True
    _tracing = True


def stop_tracing() -> None:
    """Stop recording spans (tests that installed an in-memory exporter call this after)."""
    global _tracing
    _tracing = False


def use_meter_provider(provider: MeterProvider) -> None:
    """Record this process's metrics through `provider` from now on (tests pass their own)."""
    global _metrics
    _metrics = Metrics(provider.get_meter("singlepot"))


def tracing() -> bool:
    """Whether spans are recorded at all; when not, the helpers below cost nothing."""
    return _tracing


# --- Spans ------------------------------------------------------------------------------------


def _tracer() -> trace.Tracer:
    return trace.get_tracer("singlepot")


def context_from(traceparent: str | None) -> Context | None:
    """The parent context a W3C `traceparent` names, or None when there is none."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def current_traceparent() -> str | None:
    """The `traceparent` of the span running now, to carry in the envelopes it causes."""
    if not _tracing:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span(
    name: str,
    service: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    traceparent: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[Link] = (),
) -> Iterator[Span | None]:
    """A span made current for the block, child of `traceparent` when given (else of the
    current span); yields None, and does nothing, when tracing is off."""
    if not _tracing:
        yield None
        return
    with _tracer().start_as_current_span(
        name,
        context=context_from(traceparent),
        kind=kind,
        attributes={SERVICE_ATTRIBUTE: service, **(attributes or {})},
        links=links,
    ) as current:
        yield current


def start_span(
    name: str,
    service: str,
    *,
    kind: SpanKind,
    traceparent: str | None,
    attributes: Mapping[str, Any] | None = None,
) -> Span | None:
    """A span not made current (several run side by side: the messages of one batch, the rows
    of one relay batch); the caller ends it. None when tracing is off."""
    if not _tracing:
        return None
    return _tracer().start_span(
        name,
        context=context_from(traceparent),
        kind=kind,
        attributes={SERVICE_ATTRIBUTE: service, **(attributes or {})},
    )


def remember_trace(event_id: UUID, traceparent: str | None) -> None:
    """Keep the trace a consumed event belongs to, for later work it causes in this process."""
    if not _tracing or not traceparent:
        return
    with _lock:
        _remembered[event_id] = traceparent
        _remembered.move_to_end(event_id)
        while len(_remembered) > REMEMBERED_TRACES_MAX:
            _remembered.popitem(last=False)


def remembered_trace(event_id: UUID) -> str | None:
    """The traceparent of an event this process consumed recently, if it remembers one."""
    with _lock:
        return _remembered.get(event_id)


class ServiceSpanMiddleware:
    """Names the service on each HTTP request's server span. FastAPI itself (0.165+) starts
    that span, honouring a caller's `traceparent`, with the global tracer provider; the commands
    a request writes carry its trace because `Outbox.add` takes the current span's."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if _tracing and scope["type"] == "http":
            trace.get_current_span().set_attribute(SERVICE_ATTRIBUTE, self.service)
        await self.app(scope, receive, send)


# --- Metrics ----------------------------------------------------------------------------------


class Metrics:
    """The instruments every service records into; gauges read values the services keep."""

    def __init__(self, meter: Meter) -> None:
        self.dead_letters = meter.create_counter(
            "singlepot.consumer.dead_letters", description="Messages sent to the dead-letter topic"
        )
        self.unapplied_messages = meter.create_counter(
            "singlepot.consumer.unapplied",
            description="Messages handled but not applied (late or out of order), with the reason",
        )
        self.broker_losses = meter.create_counter(
            "singlepot.broker.losses",
            description="Times a service found the broker had lost what it published, and replayed",
        )
        self.reservations = meter.create_counter(
            "singlepot.ledger.reservations", description="Reservations the ledger made, by place"
        )
        self.payments = meter.create_counter(
            "singlepot.ledger.payments", description="Payments the ledger made, by place"
        )
        # Written by `singlepot reconcile`; an alert fires on any increase.
        self.reconciliation_differences = meter.create_counter(
            "singlepot.reconcile.differences",
            description="Figures where a gateway read model disagrees with the ledger, by place",
        )
        self.reconciliation_runs = meter.create_counter(
            "singlepot.reconcile.runs",
            description="Reconciliations of the read models with the ledger, by outcome",
        )
        self.outbox_backlog: dict[str, int] = {}
        self.consumer_lag: dict[tuple[str, str, int], int] = {}
        meter.create_observable_gauge(
            "singlepot.outbox.backlog",
            callbacks=[self._observe_backlog],
            description="Outbox rows waiting to be published",
        )
        meter.create_observable_gauge(
            "singlepot.consumer.lag",
            callbacks=[self._observe_lag],
            description="Messages behind the partition's end, per consumer group and partition",
        )

    def record_lag(
        self, group: str, topic: str, partition: int, highwater: int | None, position: int
    ) -> None:
        """Note how far `group` is behind a partition's end, as the last fetch reported it."""
        if highwater is not None:
            self.consumer_lag[(group, topic, partition)] = max(highwater - position, 0)

    def _observe_backlog(self, _: CallbackOptions) -> list[Observation]:
        return [
            Observation(rows, {SERVICE_ATTRIBUTE: service})
            for service, rows in list(self.outbox_backlog.items())
        ]

    def _observe_lag(self, _: CallbackOptions) -> list[Observation]:
        return [
            Observation(lag, {SERVICE_ATTRIBUTE: group, "topic": topic, "partition": partition})
            for (group, topic, partition), lag in list(self.consumer_lag.items())
        ]


# Bound to the global meter provider, which is a no-op until one is installed.
_metrics = Metrics(metrics.get_meter("singlepot"))


def instruments() -> Metrics:
    """The instruments in use now."""
    return _metrics


def count_money_moved(place_id: str, event_type: str, count: int = 1) -> None:
    """Count reservations or payments the ledger posted, by place."""
    counter = {"ReservationMade": _metrics.reservations, "PaymentMade": _metrics.payments}.get(
        event_type
    )
    if counter is not None:
        counter.add(count, {PLACE_ATTRIBUTE: place_id})


# --- Logs -------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the trace and span ids of the span current at the time."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        document["trace_id"] = f"{context.trace_id:032x}" if context.is_valid else None
        document["span_id"] = f"{context.span_id:016x}" if context.is_valid else None
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def use_json_logs() -> None:
    """Format every root handler's records as JSON lines (adding a stderr handler if none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
