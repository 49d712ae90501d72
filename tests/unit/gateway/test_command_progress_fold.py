"""Folding a fetch's command progress into one entry per command (`status.fold_progress`), as
recording each event's progress one at a time would leave the command's row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.gateway.command_log.status import ACCEPTED, DONE, REFUSED, Progress, fold_progress

FIRST, SECOND = uuid.UUID(int=1), uuid.UUID(int=2)
AT = datetime(2026, 9, 1, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return AT + timedelta(seconds=seconds)


def test_what_each_event_made_accumulates_and_the_last_event_says_the_rest() -> None:
    folded = fold_progress(
        [
            (FIRST, Progress(ACCEPTED, "the ledger", {"allocation_id": "A-1"}), "Approved", at(0)),
            (SECOND, Progress(DONE, made={"batch_id": "B-1"}), "EvidenceSubmitted", at(1)),
            (FIRST, Progress(DONE, made={"transfer_id": "T-1"}), "AllocationFunded", at(2)),
        ]
    )

    assert folded == [
        (
            FIRST,
            DONE,
            None,
            {"allocation_id": "A-1", "transfer_id": "T-1"},
            None,
            "AllocationFunded",
            at(2),
        ),
        (SECOND, DONE, None, {"batch_id": "B-1"}, None, "EvidenceSubmitted", at(1)),
    ]


def test_a_refusal_is_final_within_the_fetch() -> None:
    refusal = {"rule": "cap", "reason": "over the cap"}
    folded = fold_progress(
        [
            (FIRST, Progress(DONE, made={"batch_id": "B-1"}), "EvidenceSubmitted", at(0)),
            (FIRST, Progress(REFUSED, refusal=refusal), "CommandRefused", at(1)),
            (FIRST, Progress(DONE, made={"payment_id": "P-1"}), "PaymentMade", at(2)),
        ]
    )

    assert folded == [(FIRST, REFUSED, None, {"batch_id": "B-1"}, refusal, "CommandRefused", at(1))]
