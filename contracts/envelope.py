"""The envelope every message travels in, and the functions that wrap, encode and read it."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import pydantic_core
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.base import Event, event_class
from contracts.errors import InvalidEnvelope, InvalidPayload
from contracts.upcasting import read_as_current

TRACEPARENT_PATTERN = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"

Traceparent = Annotated[str, Field(pattern=TRACEPARENT_PATTERN)]
"""A W3C Trace Context traceparent header value, version 00."""


class Envelope(BaseModel):
    """One message: the event's payload plus what is needed to route, deduplicate and trace it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The idempotency key end to end: consumers skip ids they have already processed.
    event_id: UUID
    event_type: str = Field(min_length=1)
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1)
    causation_id: UUID | None
    correlation_id: UUID
    traceparent: Traceparent | None
    payload: dict[str, Any]


def wrap(
    event: Event,
    *,
    producer: str,
    event_id: UUID | None = None,
    causation: Envelope | None = None,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Put an event in an envelope; pass the message that caused it to carry the trace along."""
    event_id = event_id or uuid4()
    return Envelope(
        event_id=event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        causation_id=causation.event_id if causation else None,
        correlation_id=causation.correlation_id if causation else event_id,
        traceparent=traceparent or (causation.traceparent if causation else None),
        payload=event.model_dump(mode="json"),
    )


def encode_wrapped(
    event: Event,
    *,
    producer: str,
    event_id: UUID,
    causation: Envelope,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """`encode(wrap(event, ...))` in one pass, for a service's hot path: the same bytes.

    The envelope's fields are laid out in `Envelope`'s order and pydantic-core serialises the
    event straight into `payload`, instead of dumping it to a dict, validating an `Envelope`
    around that dict and serialising it again. Every part is already valid: the event is a
    validated model and `causation` a decoded envelope. tests/unit/ledger checks the bytes
    against `encode(wrap(...))`.
    """
    return pydantic_core.to_json(
        {
            "event_id": event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "occurred_at": occurred_at or datetime.now(UTC),
            "producer": producer,
            "causation_id": causation.event_id,
            "correlation_id": causation.correlation_id,
            "traceparent": traceparent or causation.traceparent,
            "payload": event,
        }
    )


def encode_payload(
    event_class: type[Event],
    payload: Mapping[str, Any],
    *,
    producer: str,
    event_id: UUID,
    causation: Envelope | None = None,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """`encode(wrap(event, ...))` for an event given as its payload, not as a model: the same
    bytes, for a hot path that would otherwise build thousands of nested models only to dump
    them again (outcomes' per-claim results of a chunk).

    `payload` must be what `event.model_dump(mode="json")` gives, field order included, with
    values pydantic-core serialises the same way (a `date` may stay a `date`); the caller
    builds it from values already validated, and a test compares the bytes with the model's.
    """
    return pydantic_core.to_json(
        {
            "event_id": event_id,
            "event_type": event_class.event_type,
            "schema_version": event_class.schema_version,
            "occurred_at": occurred_at or datetime.now(UTC),
            "producer": producer,
            "causation_id": causation.event_id if causation else None,
            "correlation_id": causation.correlation_id if causation else event_id,
            "traceparent": traceparent or (causation.traceparent if causation else None),
            "payload": payload,
        }
    )


def caused_by(
    causation: Envelope,
    *,
    producer: str,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """The envelope fields every event caused by one message shares (`occurred_at` to
    `traceparent`, in `Envelope`'s order), encoded once, for `encode_caused`."""
    shared = pydantic_core.to_json(
        {
            "occurred_at": occurred_at or datetime.now(UTC),
            "producer": producer,
            "causation_id": causation.event_id,
            "correlation_id": causation.correlation_id,
            "traceparent": traceparent or causation.traceparent,
        }
    )
    return shared[1:-1]


def encode_caused(
    event_class: type[Event], payload: Mapping[str, Any], *, event_id: str, shared: bytes
) -> bytes:
    """`encode_payload` for one of several events caused by one message, given their shared
    fields (`caused_by`): the same bytes, with the shared part encoded once per message
    rather than once per event (the ledger answers each request with two or three). The
    envelope is laid out around the parts pydantic-core encodes; what is written as it is,
    the event id (a UUID's text) and the type (a class name), needs no JSON escaping.
    tests/unit/ledger checks the bytes against `encode(wrap(...))`."""
    return b'{"event_id":"%s","event_type":"%s","schema_version":%d,%s,"payload":%s}' % (
        event_id.encode(),
        event_class.event_type.encode(),
        event_class.schema_version,
        shared,
        pydantic_core.to_json(payload),
    )


def unwrap(envelope: Envelope) -> Event:
    """Return the event inside an envelope, upcast to the version this code knows (and read as
    the type that replaced it, when its type was renamed)."""
    event_type, payload = read_as_current(
        envelope.event_type, envelope.schema_version, envelope.payload
    )
    try:
        return event_class(event_type).model_validate(payload)
    except ValidationError as error:
        raise InvalidPayload(f"invalid {envelope.event_type} payload: {error}") from error


def encode(envelope: Envelope) -> bytes:
    """Serialise an envelope as compact UTF-8 JSON, ready to publish."""
    return envelope.model_dump_json().encode("utf-8")


def decode(raw: bytes) -> Envelope:
    """Parse a published message back into an envelope, or raise InvalidEnvelope."""
    try:
        return Envelope.model_validate_json(raw)
    except ValidationError as error:
        raise InvalidEnvelope(f"not a valid envelope: {error}") from error
