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


def caused_by(
    causation: Envelope | None,
    *,
    producer: str,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
    event_id: UUID | None = None,
) -> bytes:
    """The envelope fields from `occurred_at` to `traceparent` (in `Envelope`'s order), encoded
    for `encode_caused`: what every event caused by one message shares, so a service answering
    with several events encodes them once per message (the ledger). As in `wrap`, the trace
    continues from `traceparent` or else the cause's; an event with no cause starts its own
    correlation, so then its `event_id` is needed."""
    if causation is None:
        assert event_id is not None, "an event with no cause is its own correlation"
        causation_id, correlation_id = None, event_id
    else:
        causation_id, correlation_id = causation.event_id, causation.correlation_id
        traceparent = traceparent or causation.traceparent
    if occurred_at is None:  # an instant of its own: written with the rest, in one call
        shared = pydantic_core.to_json(
            {
                "occurred_at": datetime.now(UTC),
                "producer": producer,
                "causation_id": causation_id,
                "correlation_id": correlation_id,
                "traceparent": traceparent,
            }
        )
        return shared[1:-1]
    shared = pydantic_core.to_json(
        {
            "producer": producer,
            "causation_id": causation_id,
            "correlation_id": correlation_id,
            "traceparent": traceparent,
        }
    )
    return b'"occurred_at":%s,%s' % (_instant_json(occurred_at), shared[1:-1])


_last_instant: tuple[datetime | None, bytes] = (None, b"")


def _instant_json(instant: datetime) -> bytes:
    """`pydantic_core.to_json(instant)`, kept for the instant given last: a service answering
    a batch gives every answer the batch's instant, and writing a datetime cost pydantic-core
    more than the rest of the shared fields together (bench/NOTES.md, "Seventh pass")."""
    global _last_instant
    last, encoded = _last_instant
    if instant is not last:  # the same object: datetimes are immutable
        encoded = pydantic_core.to_json(instant)
        _last_instant = (instant, encoded)
    return encoded


def encode_caused(
    event_class: type[Event],
    payload: Event | Mapping[str, Any],
    *,
    event_id: str,
    shared: bytes,
) -> bytes:
    """`encode(wrap(event, ...))` in one pass, for a hot path: the same bytes. The one fast
    encoder of an envelope; `encode_payload` is it for a single event.

    `payload` is the validated event itself, or what its `model_dump(mode="json")` gives
    (field order included; a `date` may stay a `date`), built from values the caller has
    checked, so that no model is built only to be dumped again (the ledger's answers,
    outcomes' per-claim results). `shared` is the envelope's fields from `caused_by`. The
    envelope is laid out around the parts pydantic-core encodes; what is written as it is, the
    event id (a UUID's text) and the type (a class name), needs no JSON escaping. Tests
    compare the bytes with `encode(wrap(...))` for every kind of ledger answer
    (tests/unit/ledger) and of envelope (tests/unit/contracts)."""
    return b'{"event_id":"%s","event_type":"%s","schema_version":%d,%s,"payload":%s}' % (
        event_id.encode(),
        event_class.event_type.encode(),
        event_class.schema_version,
        shared,
        pydantic_core.to_json(payload),
    )


def encode_payload(
    event_class: type[Event],
    payload: Event | Mapping[str, Any],
    *,
    producer: str,
    event_id: UUID,
    causation: Envelope | None = None,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
) -> bytes:
    """`encode_caused` for one event, its envelope's fields given as `wrap` takes them."""
    shared = caused_by(
        causation,
        producer=producer,
        traceparent=traceparent,
        occurred_at=occurred_at,
        event_id=event_id,
    )
    # pydantic-core writes a UUID's text in a fraction of the time `str()` takes.
    event_id_text = pydantic_core.to_json(event_id)[1:-1].decode()
    return encode_caused(event_class, payload, event_id=event_id_text, shared=shared)


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
