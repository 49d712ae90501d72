"""Outcomes publishes a chunk's per-claim results from JSON-ready payloads, encoded in one pass
(`announcements.chunk_result_payloads`, `contracts.envelope.encode_payload`): claim for claim,
part for part and byte for byte, they are the ClaimResultsRecorded models `chunk_results`
builds, wrapped and encoded as any event is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast
from uuid import UUID

import asyncpg

from contracts.envelope import decode, encode, encode_payload, unwrap, wrap
from contracts.outcomes import ClaimResultsRecorded, EvidenceClaim, SubmitEvidence
from services.outcomes import announcements, domain
from services.runtime.batched_handlers import BufferedOutbox
from services.runtime.outbox import EVENT_ID_HEADER, OutboxRow

RECEIVED = date(2026, 12, 1)
CAUSE = wrap(
    SubmitEvidence(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        provider_id="P-1",
        claims=(
            EvidenceClaim(
                participant_hash="f" * 64,
                metric_id="employed",
                achieved_on=date(2026, 5, 1),
                evidence_reference="e",
            ),
        ),
    ),
    producer="gateway",
    traceparent="00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
)


def a_contract() -> domain.Contract:
    """Two metrics, and a cap that stops the last accepted claims."""
    return domain.Contract(
        contract_id="C-1",
        place_id="GM",
        allocation_id="A-1",
        provider_id="P-1",
        cap_pence=1_000_00,
        metrics={
            metric_id: domain.Metric(metric_id, (domain.MetricVersion(1, None, price),), None)
            for metric_id, price in (("employed", 100_00), ("housed", 40_00))
        },
    )


def a_command() -> SubmitEvidence:
    """A chunk with every kind of result (accepted, a resubmission after failing
    verification, a duplicate, an unpriced metric, a date after receipt, over the cap), read
    back from its bytes as the service reads it."""
    claims = []
    for row in range(2, 40):
        participant = f"{row // 2:064x}"
        metric = ("employed", "housed", "unpriced")[row % 7 % 3]
        achieved = date(2027, 1, 1) if row % 11 == 0 else date(2026, 5, row % 27 + 1)
        claims.append(
            EvidenceClaim(
                participant_hash=participant,
                metric_id=metric,
                achieved_on=achieved,
                evidence_reference=f"payroll/{row}",
                row_number=row if row % 5 else None,
            )
        )
    command = SubmitEvidence(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-2",
        provider_id="P-1",
        claims=tuple(claims),
        chunk_index=3,
        chunk_count=None,
    )
    event = unwrap(decode(encode(wrap(command, producer="gateway"))))
    assert isinstance(event, SubmitEvidence)
    return event


def an_assessment(command: SubmitEvidence) -> domain.Assessment:
    first = next(claim for claim in command.claims if claim.metric_id == "employed")
    failed_before = domain.EarlierClaim(
        "C-1", "B-1", 3, status=domain.FAILED_VERIFICATION, evidence_reference="old"
    )
    earlier = {(first.participant_hash, first.metric_id): failed_before}
    return domain.assess(
        a_contract(), command.claims, earlier, batch_id="B-2", received_on=RECEIVED
    )


def test_the_payloads_encode_to_the_bytes_of_the_result_events_part_for_part() -> None:
    command = a_command()
    assessment = an_assessment(command)
    rules = {rejected.rule for rejected in assessment.rejected}
    assert rules == set(domain.CLAIM_RULES), "the chunk has a result of every kind"
    assert any(priced.resubmits for priced in assessment.accepted)

    events = announcements.chunk_results(a_contract(), command, assessment, 7)
    payloads = announcements.chunk_result_payloads(a_contract(), command, assessment, 7)

    assert len(payloads) == len(events) == 6
    occurred_at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    for number, (event, payload) in enumerate(zip(events, payloads, strict=True)):
        event_id = UUID(int=number + 1)
        expected = encode(
            wrap(
                event,
                producer="outcomes",
                event_id=event_id,
                causation=CAUSE,
                occurred_at=occurred_at,
            )
        )
        encoded = encode_payload(
            ClaimResultsRecorded,
            payload,
            producer="outcomes",
            event_id=event_id,
            causation=CAUSE,
            occurred_at=occurred_at,
        )
        assert encoded == expected
        assert unwrap(decode(encoded)) == event


def test_every_claim_has_one_result_in_the_order_submitted() -> None:
    command = a_command()
    payloads = announcements.chunk_result_payloads(
        a_contract(), command, an_assessment(command), 2000
    )
    (payload,) = payloads
    assert [
        (result["participant_hash"], result["metric_id"], result["row_number"])
        for result in payload["results"]
    ] == [(claim.participant_hash, claim.metric_id, claim.row_number) for claim in command.claims]


async def test_the_outbox_row_of_a_payload_is_the_row_of_its_event() -> None:
    command = a_command()
    assessment = an_assessment(command)
    (event,) = announcements.chunk_results(a_contract(), command, assessment, 2000)
    (payload,) = announcements.chunk_result_payloads(a_contract(), command, assessment, 2000)
    rows: list[OutboxRow] = []
    # A buffered outbox keeps its rows in `rows` and never touches the connection.
    outbox = BufferedOutbox(cast(asyncpg.Connection, None), "outcomes", CAUSE, rows)

    await outbox.add(event)
    event_id = await outbox.add_payload(ClaimResultsRecorded, payload, "C-1")

    from_event, from_payload = rows
    assert from_payload.event_id == event_id != from_event.event_id
    for row in rows:  # the ids and times differ; everything else is the same
        assert row.headers[EVENT_ID_HEADER] == str(row.event_id)
    same = ("topic", "partition_key", "event_type")
    assert [getattr(from_payload, name) for name in same] == [
        getattr(from_event, name) for name in same
    ]
    assert {**from_payload.headers, EVENT_ID_HEADER: ""} == {
        **from_event.headers,
        EVENT_ID_HEADER: "",
    }
    read_from_event, read_from_payload = (decode(row.value) for row in rows)
    assert read_from_payload.model_dump(exclude={"event_id", "occurred_at"}) == (
        read_from_event.model_dump(exclude={"event_id", "occurred_at"})
    )
    assert unwrap(read_from_payload) == event
