"""A completed batch's verification sample is drawn and announced a part at a time, on the real
PostgreSQL: each EvidenceSampled part is queued before the next part is read from the draw
(so a large sample is never held whole), the parts come in the order of the claims' rows, and
together they are exactly the claims the draw marked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from contracts.outcomes import EvidenceSampled
from services.outcomes import db
from services.runtime.outbox import Outbox, OutboxRow
from tests.integration.outcomes.outcomes_support import (
    claim,
    csv_file,
    evidence,
    file_commands,
    funded,
    harness,
    person,
    register,
)

pytestmark = pytest.mark.integration

PART_SIZE = 4
SAMPLE = {"verification_sample_share": 0.5, "event_sampled_claims_max": PART_SIZE}


def a_file(rows: int) -> bytes:
    """Good rows only: every claim is accepted, and two metrics share participants."""
    metrics = ("JOB", "SUSTAINED")
    return csv_file(
        [
            f"person-{n // 2},{metrics[n % 2]},2026-05-01,payroll/{n},2026-01-10,easy"
            for n in range(rows)
        ]
    )


async def test_a_sample_larger_than_a_part_is_announced_in_parts_in_row_order(
    database_url,
) -> None:
    async with harness(database_url, **SAMPLE) as outcomes:
        await outcomes.send(register(), *funded())
        await outcomes.send(*file_commands(a_file(21), "F-1", chunk_size=6))
        parts = await outcomes.emitted(EvidenceSampled)
        marked = await outcomes.rows(
            "SELECT participant_hash, metric_id, row_number FROM claims "
            "WHERE batch_id = 'F-1' AND sampled"
        )

    assert [part.part_index for part in parts] == [0, 1, 2]
    assert [len(part.claims) for part in parts] == [4, 4, 3]
    assert {(p.sample_size, p.accepted_count, p.sample_seed) for p in parts} == {
        (11, 21, parts[0].sample_seed)
    }
    claims = [sampled for part in parts for sampled in part.claims]
    row_numbers = [sampled.row_number for sampled in claims]
    assert row_numbers == sorted(row_numbers)
    assert {(c.participant_hash, c.metric_id, c.row_number) for c in claims} == {
        (row["participant_hash"], row["metric_id"], row["row_number"]) for row in marked
    }
    assert len(marked) == 11


async def test_claims_without_row_numbers_are_announced_by_participant_then_metric(
    database_url,
) -> None:
    metrics = ("SUSTAINED", "JOB")
    claims = [claim(number, metric) for number in range(5) for metric in metrics]
    async with harness(
        database_url, verification_sample_share=1.0, event_sampled_claims_max=PART_SIZE
    ) as outcomes:
        await outcomes.send(register(), *funded())
        await outcomes.send(evidence("B-1", *claims))
        parts = await outcomes.emitted(EvidenceSampled)

    announced = [(c.participant_hash, c.metric_id) for part in parts for c in part.claims]
    assert announced == sorted(
        (person(number), metric) for number in range(5) for metric in metrics
    )
    assert [len(part.claims) for part in parts] == [4, 4, 2]


async def test_each_part_is_queued_before_the_next_part_is_read(
    database_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts_read = 0
    parts_read_when_queued: list[int] = []
    draw_sample = db.draw_sample

    async def counting_draw(*arguments: Any) -> AsyncIterator[list[asyncpg.Record]]:
        nonlocal parts_read
        async for part in draw_sample(*arguments):
            parts_read += 1
            yield part

    queue = Outbox._queue

    async def recording_queue(self: Outbox, row: OutboxRow) -> None:
        if row.event_type == EvidenceSampled.event_type:
            parts_read_when_queued.append(parts_read)
        await queue(self, row)

    monkeypatch.setattr(db, "draw_sample", counting_draw)
    monkeypatch.setattr(Outbox, "_queue", recording_queue)
    async with harness(database_url, **SAMPLE) as outcomes:
        await outcomes.send(register(), *funded())
        await outcomes.send(*file_commands(a_file(21), "F-1", chunk_size=6))
        parts = await outcomes.emitted(EvidenceSampled)

    assert len(parts) == 3
    # Part n is queued when n parts have been read, not once the whole sample has.
    assert parts_read_when_queued == [1, 2, 3]
