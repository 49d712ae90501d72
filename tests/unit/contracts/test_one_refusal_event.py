"""The one refusal event, `CommandRefused`: every service publishes it on its own topic, and the
refusal events published before it (allocations' version 1, outcomes' `OutcomesCommandRefused`,
the ledger's `RequestRejected` versions 1 and 2) still read, as it."""

from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import Envelope, UnsupportedSchemaVersion, decode, encode, topics, unwrap, wrap
from contracts.decisions import CommandRefused
from contracts.refusals import refusal_of
from services.runtime.outbox import row_for

REQUEST_ID = "5d1a6f0e-8c1e-4a53-9a55-0f4c1d6f2b11"
LEDGER_V1 = {
    "place_id": "GM",
    "request_event_type": "ClosePeriod",
    "request_id": REQUEST_ID,
    "reason": "period 2026-27 is closed",
}
LEDGER_V2 = {
    **LEDGER_V1,
    "command_type": "ClosePeriod",
    "subject_id": REQUEST_ID,
    "rule": "period_open",
    "figures": {"year_end": 2027},
}
OUTCOMES_V1 = {
    "place_id": "GM",
    "contract_id": "C-1",
    "command_type": "SubmitEvidence",
    "subject_id": "B-1",
    "rule": "evidence_batch_valid",
    "reason": "contract C-1 is held by P-1, not P-X",
    "figures": {},
}
ALLOCATIONS_V1 = {
    "place_id": "GM",
    "command_type": "ProposeAllocation",
    "subject_id": "A-2",
    "rule": "earmark_minimum_share",
    "reason": "earmark 'E-1' keeps at least 20% for 'early-intervention'",
    "figures": {"share_basis_points": 1500},
}


def old_envelope(
    moment: datetime, event_type: str, version: int, payload: dict[str, Any]
) -> Envelope:
    event_id = uuid4()
    return Envelope(
        event_id=event_id,
        event_type=event_type,
        schema_version=version,
        occurred_at=moment,
        producer="somebody",
        causation_id=None,
        correlation_id=event_id,
        traceparent=None,
        payload=payload,
    )


def read(envelope: Envelope) -> CommandRefused:
    event = unwrap(decode(encode(envelope)))
    assert isinstance(event, CommandRefused)
    return event


def test_a_ledger_request_rejected_v1_without_a_rule_reads_as_the_one_event(
    moment: datetime,
) -> None:
    event = read(old_envelope(moment, "RequestRejected", 1, LEDGER_V1))
    assert (event.decided_by, event.command_type, event.subject_id, event.rule) == (
        "ledger",
        "ClosePeriod",
        REQUEST_ID,
        "ledger_rule",
    )
    assert event.published_on() == topics.LEDGER_RESULTS


def test_a_ledger_request_rejected_v2_reads_with_its_rule_and_figures(moment: datetime) -> None:
    envelope = old_envelope(moment, "RequestRejected", 2, LEDGER_V2)
    refusal = refusal_of(envelope, read(envelope))
    assert refusal is not None
    assert (refusal.command_type, refusal.subject_id, refusal.rule, refusal.figures) == (
        "ClosePeriod",
        REQUEST_ID,
        "period_open",
        {"year_end": 2027},
    )


def test_an_outcomes_command_refused_reads_as_the_one_event_keyed_by_its_contract(
    moment: datetime,
) -> None:
    event = read(old_envelope(moment, "OutcomesCommandRefused", 1, OUTCOMES_V1))
    assert (event.decided_by, event.contract_id, event.subject_id) == ("outcomes", "C-1", "B-1")
    assert (event.published_on(), event.partition_key()) == (topics.OUTCOMES_LIFECYCLE, "C-1")


def test_an_allocations_command_refused_v1_reads_as_decided_by_allocations(
    moment: datetime,
) -> None:
    event = read(old_envelope(moment, "CommandRefused", 1, ALLOCATIONS_V1))
    assert event.decided_by == "allocations"
    assert event.figures == {"share_basis_points": 1500}
    assert (event.published_on(), event.partition_key()) == (topics.ALLOCATIONS_LIFECYCLE, "GM")


def test_a_version_of_a_former_type_newer_than_its_last_is_not_guessed(moment: datetime) -> None:
    with pytest.raises(UnsupportedSchemaVersion, match="RequestRejected schema_version 3"):
        unwrap(old_envelope(moment, "RequestRejected", 3, LEDGER_V2))


@pytest.mark.parametrize(
    ("decided_by", "topic", "key"),
    [
        ("allocations", topics.ALLOCATIONS_LIFECYCLE, "GM"),
        ("outcomes", topics.OUTCOMES_LIFECYCLE, "C-1"),
        ("ledger", topics.LEDGER_RESULTS, "GM"),
    ],
)
def test_each_service_s_refusal_goes_to_its_own_topic_as_version_2(
    decided_by: str, topic: str, key: str
) -> None:
    event = CommandRefused.model_validate(
        {**ALLOCATIONS_V1, "decided_by": decided_by, "contract_id": "C-1"}
    )
    envelope = wrap(event, producer=decided_by)
    row = row_for(envelope, event)
    assert (envelope.event_type, envelope.schema_version) == ("CommandRefused", 2)
    assert (row.topic, row.partition_key) == (topic, key)
    assert unwrap(decode(encode(envelope))) == event


def test_an_outcomes_refusal_must_name_its_contract() -> None:
    with pytest.raises(ValidationError, match="contract_id"):
        CommandRefused.model_validate({**ALLOCATIONS_V1, "decided_by": "outcomes"})
