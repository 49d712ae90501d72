"""The envelope's one fast encoder (`caused_by` + `encode_caused`, and `encode_payload` for a
single event) writes exactly the bytes of `encode(wrap(...))`, whatever the event, its cause,
its trace and its time, given the event as a model or as its JSON-ready payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import (
    Envelope,
    Event,
    RecordSettlement,
    ReservationRequested,
    SpendRecorded,
    decode,
    encode,
    unwrap,
    wrap,
)
from contracts.envelope import caused_by, encode_caused, encode_payload

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
OWN_SPAN = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01"
MOMENTS = [
    datetime(2026, 12, 8, 0, 4, 9, 123456, tzinfo=UTC),
    datetime(2026, 12, 8, 0, 4, 9, tzinfo=UTC),
    datetime(2026, 6, 1, 8, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
]
EVENT_ID = UUID("6f1c0b0e-2d7a-4c1e-9d3b-5a8e7f6c4b21")


def _causes(event: Event) -> list[Envelope | None]:
    """No cause, a cause without a trace, and a cause carrying one."""
    cause = wrap(event, producer="gateway", event_id=UUID(int=7))
    return [None, cause, cause.model_copy(update={"traceparent": TRACEPARENT})]


def _events(settlement: RecordSettlement, spend: SpendRecorded) -> list[Event]:
    tricky = 'naïve “quotes”, £ and a\ttab\nnewline \\ " \u0001 \u007f \u2028 😀'
    reservation = ReservationRequested(
        place_id="GM", allocation_id="A-1", financial_year="2026-27", amount_pence=1, purpose=tricky
    )
    return [settlement, spend, reservation]


def test_encode_payload_writes_the_bytes_of_wrap_then_encode(
    settlement: RecordSettlement, spend: SpendRecorded
) -> None:
    compared = 0
    for event in _events(settlement, spend):
        payload = event.model_dump(mode="json")
        for causation in _causes(event):
            for traceparent in (None, OWN_SPAN):
                for occurred_at in MOMENTS:
                    expected = encode(
                        wrap(
                            event,
                            producer="ledger",
                            event_id=EVENT_ID,
                            causation=causation,
                            traceparent=traceparent,
                            occurred_at=occurred_at,
                        )
                    )
                    for given_as in (event, payload):  # the model, or its payload
                        fast = encode_payload(
                            type(event),
                            given_as,
                            producer="ledger",
                            event_id=EVENT_ID,
                            causation=causation,
                            traceparent=traceparent,
                            occurred_at=occurred_at,
                        )
                        assert fast == expected
                        compared += 1
    assert compared == 3 * 3 * 2 * 3 * 2


def test_events_caused_by_one_message_share_its_fields_encoded_once(
    settlement: RecordSettlement, spend: SpendRecorded
) -> None:
    cause = _causes(spend)[2]
    assert cause is not None
    shared = caused_by(cause, producer="ledger", occurred_at=MOMENTS[0])
    for number, event in enumerate(_events(settlement, spend)):
        event_id = UUID(int=number + 100)
        expected = encode(
            wrap(
                event, producer="ledger", event_id=event_id, causation=cause, occurred_at=MOMENTS[0]
            )
        )
        assert encode_caused(type(event), event, event_id=str(event_id), shared=shared) == expected
        assert unwrap(decode(expected)) == event


def test_an_event_without_a_cause_needs_its_own_id_for_its_correlation(
    spend: SpendRecorded,
) -> None:
    with pytest.raises(AssertionError, match="correlation"):
        caused_by(None, producer="ledger")


@given(
    producer=st.text(min_size=1, max_size=20),
    place_id=st.text(min_size=1, max_size=20),
    purpose=st.text(min_size=1, max_size=40),
    microsecond=st.integers(min_value=0, max_value=999_999),
)
def test_encode_payload_matches_wrap_for_any_text(
    producer: str, place_id: str, purpose: str, microsecond: int
) -> None:
    event = ReservationRequested(
        place_id=place_id,
        allocation_id="A-1",
        financial_year="2026-27",
        amount_pence=5,
        purpose=purpose,
    )
    occurred_at = MOMENTS[0].replace(microsecond=microsecond)
    cause = wrap(event, producer="gateway", event_id=UUID(int=3), traceparent=TRACEPARENT)
    for causation in (None, cause):
        expected = encode(
            wrap(
                event,
                producer=producer,
                event_id=EVENT_ID,
                causation=causation,
                occurred_at=occurred_at,
            )
        )
        fast = encode_payload(
            ReservationRequested,
            event.model_dump(mode="json"),
            producer=producer,
            event_id=EVENT_ID,
            causation=causation,
            occurred_at=occurred_at,
        )
        assert fast == expected
