"""Finding 5 of issue 14: a stream filled to the money limit on the real ledger; a settlement
beyond it is refused with a refusal event (not dead-lettered) and the next one still posts."""

from __future__ import annotations

import pytest

from contracts import PENCE_MAX, CommandRefused, SettlementRecorded, topics
from services.ledger import db
from services.ledger.app import DEFINITION as LEDGER
from tests.integration.ledger.test_ledger_service import envelopes, found, send, settlement
from tests.support.kafka import TopicReader, eventually, running

pytestmark = pytest.mark.integration


async def test_a_stream_at_the_limit_refuses_more_and_keeps_posting_within_it(settings) -> None:
    async with (
        TopicReader(settings, topics.LEDGER_RESULTS, topics.DEAD_LETTER) as reader,
        running(LEDGER, settings) as ledger,
    ):
        await send(
            settings,
            envelopes(
                settlement("GM", "S-1", "DWP", "WORK", PENCE_MAX - 10),
                settlement("GM", "S-2", "DWP", "WORK", 11),  # one penny over the limit
                settlement("GM", "S-3", "DWP", "WORK", 10),  # exactly to the limit
            ),
        )
        recorded = await eventually(lambda: found(reader, SettlementRecorded, 2))
        [refusal] = await eventually(lambda: found(reader, CommandRefused))
        assert ledger.pool is not None
        async with ledger.pool.acquire() as connection:
            summary = await db.stream_summary(connection, "GM")

    assert [event.settlement_id for event in recorded] == ["S-1", "S-3"]
    assert "S-2" in refusal.reason and str(PENCE_MAX) in refusal.reason
    assert [row["unreserved_pence"] for row in summary] == [PENCE_MAX]
    dead_letters = settings.topic(topics.DEAD_LETTER)
    assert [record for record in reader.records if record.topic == dead_letters] == []
