"""The ledger service on real PostgreSQL and the real broker: every operation, idempotent
answers, verification that catches tampering, and exactly-once posting across a rebalance."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts import (
    ClosePeriod,
    CommandRefused,
    Envelope,
    Event,
    FinancialYearAmount,
    PaymentMade,
    PaymentRejected,
    PaymentRequested,
    PeriodClosed,
    ReceiptRecorded,
    RecordReceipt,
    RecordSettlement,
    RecoveryRaised,
    RecoveryRecorded,
    ReservationReleased,
    ReservationReleaseRequested,
    ReservationRequested,
    SpendRecorded,
    VirementRecorded,
    VirementRequested,
    encode,
    topics,
    wrap,
)
from services.ledger import db
from services.ledger.app import DEFINITION as LEDGER
from services.ledger.verification import verify_place
from services.runtime.db import create_pool
from tests.support.kafka import TopicReader, eventually, running

pytestmark = pytest.mark.integration

YEAR, NEXT_YEAR = "2026-27", "2027-28"


def settlement(place: str, settlement_id: str, department: str, stream: str, *amounts: int):
    years = (YEAR, NEXT_YEAR)
    return RecordSettlement(
        place_id=place,
        settlement_id=settlement_id,
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=tuple(
            FinancialYearAmount(financial_year=year, amount_pence=amount)
            for year, amount in zip(years, amounts, strict=False)
        ),
    )


def reservation(place: str, allocation_id: str, amount_pence: int) -> ReservationRequested:
    return ReservationRequested(
        place_id=place,
        allocation_id=allocation_id,
        financial_year=YEAR,
        amount_pence=amount_pence,
        purpose="family hubs",
    )


def payment(place: str, payment_id: str, allocation_id: str, amount_pence: int):
    return PaymentRequested(
        place_id=place,
        payment_id=payment_id,
        allocation_id=allocation_id,
        provider_id="PROV-1",
        amount_pence=amount_pence,
        payment_kind="grant_instalment",
        purpose="first instalment",
    )


async def send(settings, envelopes: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(), enable_idempotence=False
    )
    await producer.start()
    try:
        sends = [
            await producer.send(
                settings.topic(topics.LEDGER_REQUESTS),
                encode(envelope),
                key=envelope.payload["place_id"].encode(),
            )
            for envelope in envelopes
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def envelopes(*requests: Event) -> list[Envelope]:
    return [wrap(request, producer="test") for request in requests]


async def found(reader: TopicReader, event_type: type, count: int = 1) -> list:
    events = reader.events(event_type)
    return events if len(events) >= count else []


async def test_every_operation_posts_once_and_answers_with_reasons(settings) -> None:
    async with (
        TopicReader(settings, topics.LEDGER_RESULTS, topics.LEDGER_SPEND) as reader,
        running(LEDGER, settings) as ledger,
    ):
        await send(
            settings,
            envelopes(
                settlement("GM", "S-1", "DWP", "WORK", 100_000_00, 50_000_00),
                settlement("GM", "S-2", "DHSC", "HEALTH", 100_000_00),
                RecordReceipt(
                    place_id="GM",
                    receipt_id="R-1",
                    settlement_id="S-1",
                    department_code="DWP",
                    funding_stream_code="WORK",
                    financial_year=YEAR,
                    amount_pence=40_000_00,
                ),
                reservation("GM", "A-1", 60_000_00),
                ReservationReleaseRequested(
                    place_id="GM", allocation_id="A-1", amount_pence=10_000_00, reason="varied_down"
                ),
                payment("GM", "PAY-1", "A-1", 20_000_00),
                VirementRequested(
                    place_id="GM",
                    virement_id="V-1",
                    financial_year=YEAR,
                    from_funding_stream_code="HEALTH",
                    to_funding_stream_code="WORK",
                    amount_pence=5_000_00,
                    approval_reference="PSRB-2026-14",
                ),
                payment("GM", "PAY-2", "A-1", 30_000_01),  # one penny more than is left
            ),
        )
        [spend] = await eventually(lambda: found(reader, SpendRecorded))
        [too_much] = await eventually(lambda: found(reader, PaymentRejected))
        await eventually(lambda: found(reader, VirementRecorded))
        await send(
            settings,
            envelopes(
                RecoveryRaised(
                    place_id="GM",
                    recovery_id="REC-1",
                    payment_id="PAY-1",
                    allocation_id="A-1",
                    provider_id="PROV-1",
                    amount_pence=2_000_00,
                    reason="two outcomes were not evidenced",
                ),
                ClosePeriod(place_id="GM", financial_year=YEAR),
                payment("GM", "PAY-3", "A-1", 1_00),  # into the closed year
            ),
        )
        [recovered] = await eventually(lambda: found(reader, RecoveryRecorded))
        await eventually(lambda: found(reader, PeriodClosed))
        rejections = await eventually(lambda: found(reader, PaymentRejected, 2))
        assert ledger.pool is not None
        async with ledger.pool.acquire() as connection:
            verification = await verify_place(connection, "GM")
            summary = {
                (row["department_code"], row["funding_stream_code"]): row
                for row in await db.stream_summary(connection, "GM")
                if row["financial_year"] == YEAR
            }

    assert len(reader.events(ReceiptRecorded)) == 1 and len(reader.events(ReservationReleased)) == 1
    assert spend.amount_pence == 20_000_00
    assert sum(share.amount_pence for share in spend.attribution) == 20_000_00
    assert too_much.reason == (
        "payment of £30,000.01 for allocation A-1 exceeds its remaining reservation of £30,000.00"
    )
    assert recovered.amount_pence == 2_000_00
    # Back to the streams that paid, split as the payment was, in the payment's (open) year.
    assert recovered.financial_year == YEAR
    assert {(s.department_code, s.funding_stream_code) for s in recovered.attribution or ()} == {
        (s.department_code, s.funding_stream_code) for s in spend.attribution
    }
    assert sum(share.amount_pence for share in recovered.attribution or ()) == 2_000_00
    assert rejections[1].reason.startswith("financial year 2026-27 is closed for GM")
    assert verification.intact, verification.summary()
    # 200k settled for the year; 60k reserved, 10k released, 20k paid of which 2k recovered.
    unreserved = sum(row["unreserved_pence"] or 0 for row in summary.values())
    reserved = sum(row["reserved_pence"] or 0 for row in summary.values())
    assert (unreserved, reserved) == (200_000_00 - 60_000_00 + 10_000_00 + 2_000_00, 30_000_00)
    assert summary[("DWP", "WORK")]["received_pence"] == 40_000_00


async def test_a_repeat_gets_the_original_answer_and_a_reused_id_is_refused(settings) -> None:
    original = wrap(settlement("GM", "S-1", "DWP", "WORK", 10_00), producer="test")
    reused = wrap(
        settlement("GM", "S-9", "DWP", "WORK", 99_00), producer="test", event_id=original.event_id
    )
    async with (
        TopicReader(settings, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings) as ledger,
    ):
        await send(settings, [original])
        first = await eventually(lambda: _answers_to(reader, original.event_id, 1))
        await send(settings, [original, reused])
        [refusal] = await eventually(lambda: found(reader, CommandRefused))
        answers = await eventually(lambda: _answers_to(reader, original.event_id, 3))
        assert ledger.pool is not None
        async with ledger.pool.acquire() as connection:
            transfers = await db.transfers_for_place(connection, "GM")
            conflicts = await connection.fetchval("SELECT count(*) FROM conflicting_requests")

    # The resend brought back the very same SettlementRecorded (same event id), not a new one.
    resent = {envelope.event_id for envelope in answers if envelope.event_type != "CommandRefused"}
    assert resent == {envelope.event_id for envelope in first}
    assert "already used for a different request" in refusal.reason
    assert len(transfers) == 1 and conflicts == 1


async def _answers_to(reader: TopicReader, request_id: uuid.UUID, count: int) -> list[Envelope]:
    answers = [envelope for envelope in reader.envelopes() if envelope.causation_id == request_id]
    return answers if len(answers) >= count else []


async def test_tampering_with_one_stored_transfer_is_detected_by_verification(
    settings, database_url
) -> None:
    async with TopicReader(settings, topics.LEDGER_RESULTS) as reader, running(LEDGER, settings):
        await send(
            settings,
            envelopes(
                settlement("GM", "S-1", "DWP", "WORK", 100_000_00),
                reservation("GM", "A-1", 10_000_00),
                payment("GM", "PAY-1", "A-1", 5_000_00),
            ),
        )
        await eventually(lambda: found(reader, PaymentMade))

    pool = await create_pool(database_url, "ledger", 2)
    try:
        async with pool.acquire() as connection:
            assert (await verify_place(connection, "GM")).intact
            # Someone with database rights rewrites the payment's amount and the balances.
            await connection.execute("ALTER TABLE transfers DISABLE TRIGGER USER")
            await connection.execute(
                "UPDATE transfers SET legs = replace(legs::text, '500000', '50000')::jsonb "
                "WHERE sequence = 3"
            )
            await connection.execute("ALTER TABLE transfers ENABLE TRIGGER USER")
            tampered = await verify_place(connection, "GM")
    finally:
        await pool.close()
    assert tampered.broken_link is not None and tampered.broken_link.sequence == 3
    assert "content does not match its chain_hash" in tampered.broken_link.problem

    # The command an auditor runs says the same and fails.
    command = [str(Path(sys.executable).parent / "singlepot"), "ledger", "verify"]
    process = await asyncio.create_subprocess_exec(
        *command,
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1, output.decode()
    assert "first broken link at sequence 3" in output.decode()


@pytest.mark.slow
async def test_two_consumers_and_a_rebalance_post_every_transfer_exactly_once(settings) -> None:
    places = [f"P{number}" for number in range(6)]
    setup = [settlement(place, "S-1", "DWP", "WORK", 10_000_000_00) for place in places]
    work = [
        reservation(place, f"A-{number}", 1_00 + number)
        for number in range(300)
        for place in places[number % 6 : number % 6 + 1]
    ]
    parts = envelopes(*setup, *work[:100]), envelopes(*work[100:200]), envelopes(*work[200:])
    async with running(LEDGER, settings) as first:
        await send(settings, parts[0])
        async with running(LEDGER, settings) as second:
            # The second member joins while the first is busy: the group rebalances, and the
            # second takes partitions over (with messages the first may have half done). It
            # joins in the background; once it has, the next part is there for both.
            await eventually(lambda: _joined(second), timeout_s=30)
            await send(settings, parts[1])
            await eventually(lambda: _has_processed(second), timeout_s=30)
            await send(settings, parts[2])
        # The second member leaves mid-stream: the first takes every partition back.
        assert first.pool is not None
        await eventually(lambda: _transfer_count(first.pool, len(setup) + len(work)), timeout_s=60)
        async with first.pool.acquire() as connection:
            per_request = await connection.fetch(
                "SELECT request_event_id, count(*) AS n FROM transfers GROUP BY 1"
            )
            results = [await verify_place(connection, place) for place in places]
            answered = await connection.fetchval("SELECT count(*) FROM answered_requests")

    sent = sum(len(part) for part in parts)
    assert len(per_request) == sent
    assert all(row["n"] == 1 for row in per_request)
    assert answered == sent
    assert all(result.intact for result in results), [r.summary() for r in results]


async def _joined(host) -> bool:
    return (await host.readiness())["consumer"]


async def _has_processed(host) -> bool:
    return host.consumer.stats.processed > 0


async def _transfer_count(pool: asyncpg.Pool, expected: int) -> bool:
    async with pool.acquire() as connection:
        return await connection.fetchval("SELECT count(*) FROM transfers") >= expected
