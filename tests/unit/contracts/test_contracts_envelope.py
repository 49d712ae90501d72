"""Tests of the envelope: wrapping, tracing ids, encoding, and clear errors on bad messages."""

import json
from datetime import datetime
from uuid import UUID, uuid4

import pytest

from contracts import (
    Envelope,
    InvalidEnvelope,
    InvalidPayload,
    SpendRecorded,
    UnknownEventType,
    UnsupportedSchemaVersion,
    decode,
    encode,
    unwrap,
    wrap,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_an_envelope_survives_encode_and_decode_unchanged(
    spend: SpendRecorded, moment: datetime
) -> None:
    envelope = wrap(spend, producer="ledger", traceparent=TRACEPARENT, occurred_at=moment)
    assert decode(encode(envelope)) == envelope
    assert unwrap(decode(encode(envelope))) == spend


def test_encode_writes_compact_utf8_json(spend: SpendRecorded) -> None:
    raw = encode(wrap(spend, producer="ledger"))
    assert b": " not in raw and b", " not in raw
    assert json.loads(raw.decode("utf-8"))["event_type"] == "SpendRecorded"


def test_wrap_records_type_version_and_json_payload(spend: SpendRecorded) -> None:
    envelope = wrap(spend, producer="ledger")
    assert (envelope.event_type, envelope.schema_version) == ("SpendRecorded", 1)
    assert envelope.payload["attribution"][0]["amount_pence"] == 600


def test_a_first_message_correlates_with_itself(spend: SpendRecorded) -> None:
    event_id = uuid4()
    envelope = wrap(spend, producer="ledger", event_id=event_id)
    assert envelope.event_id == event_id
    assert envelope.correlation_id == event_id
    assert envelope.causation_id is None


def test_a_caused_message_carries_the_correlation_and_trace_along(spend: SpendRecorded) -> None:
    cause = wrap(spend, producer="ledger", traceparent=TRACEPARENT)
    effect = wrap(spend, producer="gateway", causation=cause)
    assert effect.causation_id == cause.event_id
    assert effect.correlation_id == cause.correlation_id
    assert effect.traceparent == TRACEPARENT
    assert effect.event_id != cause.event_id


def test_a_caused_message_can_start_a_new_span(spend: SpendRecorded) -> None:
    cause = wrap(spend, producer="ledger", traceparent=TRACEPARENT)
    own = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
    assert wrap(spend, producer="gateway", causation=cause, traceparent=own).traceparent == own


def test_wrap_stamps_a_timezone_aware_time_by_default(spend: SpendRecorded) -> None:
    assert wrap(spend, producer="ledger").occurred_at.tzinfo is not None


def test_an_envelope_refuses_a_naive_time(spend: SpendRecorded) -> None:
    with pytest.raises(ValueError, match="timezone"):
        wrap(spend, producer="ledger", occurred_at=datetime(2026, 5, 1, 9, 30))


def test_an_envelope_refuses_a_malformed_traceparent(spend: SpendRecorded) -> None:
    with pytest.raises(ValueError, match="traceparent"):
        wrap(spend, producer="ledger", traceparent="not-a-trace")


def test_unwrap_names_an_unknown_event_type(spend: SpendRecorded) -> None:
    envelope = wrap(spend, producer="ledger").model_copy(update={"event_type": "Mystery"})
    with pytest.raises(UnknownEventType, match="Mystery"):
        unwrap(envelope)


def test_unwrap_refuses_a_schema_version_newer_than_the_code(spend: SpendRecorded) -> None:
    envelope = wrap(spend, producer="ledger").model_copy(update={"schema_version": 7})
    with pytest.raises(UnsupportedSchemaVersion, match="SpendRecorded schema_version 7 is newer"):
        unwrap(envelope)


def test_unwrap_names_the_event_type_of_an_invalid_payload(spend: SpendRecorded) -> None:
    envelope = wrap(spend, producer="ledger")
    broken = envelope.model_copy(update={"payload": {**envelope.payload, "amount_pence": 1.5}})
    with pytest.raises(InvalidPayload, match="invalid SpendRecorded payload"):
        unwrap(broken)


def test_decode_refuses_bytes_that_are_not_json() -> None:
    with pytest.raises(InvalidEnvelope, match="not a valid envelope"):
        decode(b"{not json")


def test_decode_refuses_an_envelope_missing_its_event_id(spend: SpendRecorded) -> None:
    fields = json.loads(encode(wrap(spend, producer="ledger")))
    del fields["event_id"]
    with pytest.raises(InvalidEnvelope, match="event_id"):
        decode(json.dumps(fields).encode())


def test_decode_refuses_a_schema_version_of_zero(spend: SpendRecorded) -> None:
    fields = json.loads(encode(wrap(spend, producer="ledger")))
    fields["schema_version"] = 0
    with pytest.raises(InvalidEnvelope, match="schema_version"):
        decode(json.dumps(fields).encode())


def test_the_envelope_is_frozen(spend: SpendRecorded) -> None:
    envelope = wrap(spend, producer="ledger")
    with pytest.raises(ValueError, match="frozen"):
        envelope.event_id = UUID(int=0)  # type: ignore[misc]


def test_envelope_is_the_type_wrap_returns(spend: SpendRecorded) -> None:
    assert isinstance(wrap(spend, producer="ledger"), Envelope)
