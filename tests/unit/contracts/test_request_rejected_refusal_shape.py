"""The ledger's `RequestRejected` in the one refusal shape: version 1 messages still read, and
every version reads as the same `Refusal` through `contracts.refusals`."""

from datetime import datetime
from uuid import uuid4

from contracts import Envelope, decode, encode, unwrap, wrap
from contracts.decisions import CommandRefusal
from contracts.ledger import RequestRejected
from contracts.refusals import refusal_of

V1_PAYLOAD = {
    "place_id": "GM",
    "request_event_type": "ClosePeriod",
    "request_id": "5d1a6f0e-8c1e-4a53-9a55-0f4c1d6f2b11",
    "reason": "period 2026-27 is closed",
}


def v1_envelope(moment: datetime, payload: dict[str, object]) -> Envelope:
    event_id = uuid4()
    return Envelope(
        event_id=event_id,
        event_type="RequestRejected",
        schema_version=1,
        occurred_at=moment,
        producer="ledger",
        causation_id=None,
        correlation_id=event_id,
        traceparent=None,
        payload=payload,
    )


def test_a_v1_message_without_a_rule_reads_in_the_one_shape(moment: datetime) -> None:
    event = unwrap(decode(encode(v1_envelope(moment, V1_PAYLOAD))))
    assert isinstance(event, RequestRejected) and isinstance(event, CommandRefusal)
    assert (event.command_type, event.subject_id, event.rule) == (
        "ClosePeriod",
        V1_PAYLOAD["request_id"],
        "ledger_rule",
    )
    assert event.request_event_type == "ClosePeriod"


def test_a_v1_message_keeps_its_named_rule_and_figures(moment: datetime) -> None:
    payload = {**V1_PAYLOAD, "rule": "period_open", "figures": {"year_end": 2027}}
    envelope = v1_envelope(moment, payload)
    refusal = refusal_of(envelope, unwrap(decode(encode(envelope))))
    assert refusal is not None
    assert (refusal.rule, refusal.figures, refusal.command_type) == (
        "period_open",
        {"year_end": 2027},
        "ClosePeriod",
    )
    assert refusal.subject_id == V1_PAYLOAD["request_id"]


def test_a_new_refusal_is_version_2_and_round_trips() -> None:
    event = RequestRejected(
        place_id="GM",
        command_type="VirementRequested",
        subject_id="R-1",
        request_event_type="VirementRequested",
        request_id="R-1",
        rule="virement_within_pot",
        reason="not enough left in the pot",
        figures={"available_pence": 10},
    )
    envelope = wrap(event, producer="ledger")
    assert envelope.schema_version == 2
    assert unwrap(decode(encode(envelope))) == event


def test_code_naming_only_the_request_still_builds_the_one_shape() -> None:
    event = RequestRejected(
        place_id="GM", request_event_type="RecoveryRaised", request_id="REC-1", reason="no"
    )
    assert (event.command_type, event.subject_id, event.rule) == (
        "RecoveryRaised",
        "REC-1",
        "ledger_rule",
    )
