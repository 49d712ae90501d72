"""Outcomes announces a drawn sample a part at a time, each part a JSON-ready payload
(`announcements.evidence_sampled_part`, encoded by `contracts.envelope.encode_payload`): part
for part and byte for byte, they are the EvidenceSampled models `evidence_sampled` builds,
wrapped and encoded as any event is."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from contracts.envelope import decode, encode, encode_payload, unwrap, wrap
from contracts.outcomes import EvidenceClaim, EvidenceSampled, SubmitEvidence
from services.outcomes import announcements, domain

# The message that completed the batch, whose id seeds the draw.
CAUSE = wrap(
    SubmitEvidence(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        provider_id="P-1",
        claims=(
            EvidenceClaim(
                participant_hash="f" * 64,
                metric_id="JOB-START",
                achieved_on=date(2026, 5, 1),
                evidence_reference="e",
            ),
        ),
    ),
    producer="gateway",
    traceparent="00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
)
DRAW = {
    "sample_seed": "5e1f" * 8,
    "sample_share": 0.05,
    "sample_size": 11,
    "accepted_count": 220,
}


def a_contract() -> domain.Contract:
    return domain.Contract(
        contract_id="C-1",
        place_id="GM",
        allocation_id="A-1",
        provider_id="P-1",
        cap_pence=1_000_00,
        metrics={},
    )


def a_drawn_sample() -> list[dict[str, Any]]:
    """Eleven claims as the draw returns them: from a file (with row numbers) and from the API
    (without)."""
    return [
        {
            "participant_hash": f"{number:064x}",
            "metric_id": ("JOB-START", "SUSTAINED-13-WEEKS")[number % 2],
            "evidence_reference": f"payroll/{number}",
            "row_number": number * 3 if number % 4 else None,
        }
        for number in range(1, 12)
    ]


def test_each_part_encodes_to_the_bytes_of_its_sampled_event() -> None:
    drawn = a_drawn_sample()
    events = announcements.evidence_sampled(a_contract(), "B-1", DRAW, drawn, 4)
    payloads = [
        announcements.evidence_sampled_part(
            a_contract(), "B-1", DRAW, part_index, drawn[start : start + 4]
        )
        for part_index, start in enumerate(range(0, len(drawn), 4))
    ]

    assert [len(event.claims) for event in events] == [4, 4, 3]
    occurred_at = datetime(2026, 12, 8, 0, 30, tzinfo=UTC)
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
            EvidenceSampled,
            payload,
            producer="outcomes",
            event_id=event_id,
            causation=CAUSE,
            occurred_at=occurred_at,
        )
        assert encoded == expected
        assert unwrap(decode(encoded)) == event


def test_a_part_lists_its_claims_in_the_order_drawn_with_the_draw_in_every_part() -> None:
    drawn = a_drawn_sample()
    payload = announcements.evidence_sampled_part(a_contract(), "B-1", DRAW, 2, drawn[8:])

    assert payload["part_index"] == 2
    assert {name: payload[name] for name in DRAW} == DRAW
    assert [claim["evidence_reference"] for claim in payload["claims"]] == [
        "payroll/9",
        "payroll/10",
        "payroll/11",
    ]
    assert [claim["row_number"] for claim in payload["claims"]] == [27, 30, 33]
