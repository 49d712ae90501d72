"""Tests of upcasting: old payloads are brought up to the version the code knows."""

from datetime import datetime
from uuid import uuid4

import pytest

from contracts import (
    UPCASTERS,
    Envelope,
    InvalidPayload,
    RecordSettlement,
    UnsupportedSchemaVersion,
    decode,
    encode,
    unwrap,
    upcast,
    wrap,
)

V1_SETTLEMENT_PAYLOAD = {
    "place_id": "GM",
    "settlement_id": "S-1",
    "department_code": "DWP",
    "funding_stream_code": "WORK-HEALTH",
    "spending_review_period": "SR2025",
    "financial_year": "2026-27",
    "amount_pence": 25_000_000,
}


def v1_settlement_envelope(moment: datetime, payload: dict[str, object]) -> Envelope:
    event_id = uuid4()
    return Envelope(
        event_id=event_id,
        event_type="RecordSettlement",
        schema_version=1,
        occurred_at=moment,
        producer="gateway",
        causation_id=None,
        correlation_id=event_id,
        traceparent=None,
        payload=payload,
    )


def test_a_v1_record_settlement_message_reads_as_a_v2_event(moment: datetime) -> None:
    raw = encode(v1_settlement_envelope(moment, V1_SETTLEMENT_PAYLOAD))
    event = unwrap(decode(raw))
    assert isinstance(event, RecordSettlement)
    assert [(e.financial_year, e.amount_pence) for e in event.profile] == [("2026-27", 25_000_000)]
    assert event.total_pence == 25_000_000


def test_the_v1_to_v2_upcaster_leaves_its_input_untouched() -> None:
    before = dict(V1_SETTLEMENT_PAYLOAD)
    upcast("RecordSettlement", 1, V1_SETTLEMENT_PAYLOAD)
    assert before == V1_SETTLEMENT_PAYLOAD


def test_a_current_payload_passes_through_upcast_unchanged(settlement: RecordSettlement) -> None:
    payload = settlement.model_dump(mode="json")
    assert upcast("RecordSettlement", 2, payload) == payload


def test_a_v2_record_settlement_round_trips(settlement: RecordSettlement) -> None:
    envelope = wrap(settlement, producer="gateway")
    assert envelope.schema_version == 2
    assert unwrap(decode(encode(envelope))) == settlement


def test_a_v1_payload_missing_its_amount_is_reported_as_invalid(moment: datetime) -> None:
    payload = {k: v for k, v in V1_SETTLEMENT_PAYLOAD.items() if k != "amount_pence"}
    with pytest.raises(InvalidPayload, match="'amount_pence' is missing"):
        unwrap(v1_settlement_envelope(moment, payload))


def test_a_gap_in_the_upcasters_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(UPCASTERS, ("RecordSettlement", 1))
    with pytest.raises(UnsupportedSchemaVersion, match="no upcaster for RecordSettlement from"):
        upcast("RecordSettlement", 1, dict(V1_SETTLEMENT_PAYLOAD))
