"""Recoveries (clawbacks) as negative spend in departments' feeds, on real PostgreSQL through
the gateway's own handlers: each paying department gets its shares of the recovery, negative,
split by the ledger's rule; webhook deliveries are queued once per event id, however often the
event is replayed; the department view and CSV show it; clawbacks keep their dates. Then the
real gateway on the real broker delivers a recovery to a department's webhook, signed."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import asyncpg
import pytest

from contracts import AttributionShare
from contracts.base import Event
from contracts.envelope import Envelope, unwrap, wrap
from contracts.ledger import PaymentMade, PeriodClosed, RecoveryRecorded, ReservationMade
from contracts.outcomes import ClawbackRaised, ClawbackSettled
from services.gateway.delivery import db
from services.gateway.delivery.domain import signature_is_valid
from services.gateway.projections import handlers, views
from services.gateway.web.pages.department import share_rows, spend_csv
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    client_for,
    token_for,
)
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration]

GM = "GM"
PAID_AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
RECOVERED_AT = datetime(2026, 9, 14, 10, 30, tzinfo=UTC)
# 10,000p paid as DWP 3,334 + 3,333 (two streams) and DHSC 3,333: recovering 1,000p splits
# 333.4 / 333.3 / 333.3, so the penny left over goes to the largest remainder (DWP-A).
PAID = (("DWP", "DWP-A", 3_334), ("DWP", "DWP-B", 3_333), ("DHSC", "DHSC-A", 3_333))


def shares(*triples: tuple[str, str, int]) -> tuple[AttributionShare, ...]:
    return tuple(
        AttributionShare(department_code=d, funding_stream_code=s, amount_pence=a)
        for d, s, a in triples
    )


def story(recovery_pence: int = 1_000) -> list[tuple[Event, datetime]]:
    return [
        (
            ReservationMade(
                place_id=GM,
                allocation_id="A-1",
                financial_year="2026-27",
                amount_pence=10_000,
                attribution=shares(*PAID),
                transfer_id="T-R-1",
            ),
            PAID_AT,
        ),
        (
            PaymentMade(
                place_id=GM,
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-A",
                amount_pence=10_000,
                payment_kind="outcome_payment",
                contract_id="C-1",
                claim_batch_id="B-1",
                attribution=shares(*PAID),
                transfer_id="T-P-1",
            ),
            PAID_AT,
        ),
        (recovery(recovery_pence), RECOVERED_AT),
    ]


def recovery(amount_pence: int, payment_id: str = "P-1") -> RecoveryRecorded:
    return RecoveryRecorded(
        place_id=GM,
        recovery_id="R-1",
        payment_id=payment_id,
        amount_pence=amount_pence,
        transfer_id="T-RC-1",
    )


def envelopes(events: Sequence[tuple[Event, datetime]]) -> list[Envelope]:
    return [wrap(event, producer="test", occurred_at=when) for event, when in events]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert created is not None
    try:
        yield created
    finally:
        await created.close()


async def feed(pool: asyncpg.Pool, messages: Sequence[Envelope]) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await handlers.handle_batch(connection, [(m, unwrap(m)) for m in messages])


async def feed_rows(pool: asyncpg.Pool) -> list[dict]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT department_code, spend_id, event_id, amount_pence, record::text AS record"
            " FROM department_spend ORDER BY sequence"
        )
    return [{**dict(row), "record": json.loads(row["record"])} for row in rows]


async def test_each_paying_department_gets_its_shares_of_a_recovery_as_negative_spend(
    pool: asyncpg.Pool,
) -> None:
    messages = envelopes(story())
    await feed(pool, messages)

    rows = await feed_rows(pool)
    assert [(r["department_code"], r["amount_pence"]) for r in rows] == [
        ("DHSC", -333),
        ("DWP", -667),
    ]
    assert {r["event_id"] for r in rows} == {messages[-1].event_id}
    dwp = rows[1]["record"]
    assert dwp["kind"] == "recovery"
    assert dwp["spend_id"] == "recovery/T-RC-1"
    assert dwp["amount_pence"] == -1_000
    assert dwp["department_amount_pence"] == -667
    assert dwp["attribution"] == [
        {"department_code": "DWP", "funding_stream_code": "DWP-A", "amount_pence": -334},
        {"department_code": "DWP", "funding_stream_code": "DWP-B", "amount_pence": -333},
    ]
    assert (dwp["payment_id"], dwp["allocation_id"], dwp["provider_id"]) == ("P-1", "A-1", "PROV-A")
    assert dwp["financial_year"] == "2026-27"
    assert "DHSC" not in json.dumps(dwp), "a department never sees another's shares"
    async with pool.acquire() as connection:
        recovered = await connection.fetchval(
            "SELECT recovered_pence FROM payments WHERE payment_id = 'P-1'"
        )
    assert recovered == 1_000


async def test_a_replayed_recovery_adds_no_feed_row_and_queues_no_second_delivery(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        for department, url in (("DWP", "https://dwp.example/hook"), ("DHSC", "https://d.example")):
            await db.insert_subscription(
                connection, uuid.uuid4(), department, url, "secret", "test", None
            )
    messages = envelopes(story())
    await feed(pool, messages)
    # The same event again, as after a crash before the offset commit or a rebuild: the
    # inbox is forgotten, so only the feed's (event id, department) key stops a repeat.
    async with pool.acquire() as connection:
        await connection.execute("DELETE FROM inbox")
    await feed(pool, messages[-1:])

    rows = await feed_rows(pool)
    assert [r["department_code"] for r in rows] == ["DHSC", "DWP"]
    async with pool.acquire() as connection:
        deliveries = await connection.fetch(
            "SELECT s.department_code, d.event_id FROM webhook_deliveries d"
            " JOIN webhook_subscriptions s USING (subscription_id) ORDER BY 1"
        )
    assert [(d["department_code"], d["event_id"]) for d in deliveries] == [
        ("DHSC", messages[-1].event_id),
        ("DWP", messages[-1].event_id),
    ]


async def test_the_department_view_and_csv_show_a_recovery_as_a_negative_dated_row(
    pool: asyncpg.Pool,
) -> None:
    await feed(pool, envelopes(story()))
    async with pool.acquire() as connection:
        spend = await views.department_spend(connection, GM, "DWP")

    [row] = spend
    assert row["kind"] == "recovery"
    assert row["department_amount_pence"] == -667
    assert row["spent_at"].startswith("2026-09-14T10:30")
    rows = list(csv.DictReader(io.StringIO(spend_csv(share_rows(spend, "DWP")))))
    assert [
        (r["kind"], r["funding_stream_code"], r["amount_pence"], r["amount_pounds"]) for r in rows
    ] == [("recovery", "DWP-A", "-334", "-3.34"), ("recovery", "DWP-B", "-333", "-3.33")]
    assert all(r["spent_at"] for r in rows)


async def test_a_recovery_of_a_payment_in_a_closed_year_is_shown_in_the_next_year(
    pool: asyncpg.Pool,
) -> None:
    events = story()
    closed = (PeriodClosed(place_id=GM, financial_year="2026-27"), RECOVERED_AT)
    await feed(pool, envelopes([*events[:2], closed, events[2]]))

    rows = await feed_rows(pool)
    assert {r["record"]["financial_year"] for r in rows} == {"2027-28"}


async def test_a_recovery_of_a_payment_the_gateway_never_saw_adds_nothing_to_the_feed(
    pool: asyncpg.Pool,
) -> None:
    await feed(pool, envelopes([*story()[:2], (recovery(500, "P-UNKNOWN"), RECOVERED_AT)]))

    assert await feed_rows(pool) == []


async def test_a_full_recovery_gives_back_exactly_what_each_stream_paid(
    pool: asyncpg.Pool,
) -> None:
    await feed(pool, envelopes(story(recovery_pence=10_000)))

    rows = await feed_rows(pool)
    recovered = {
        (share["department_code"], share["funding_stream_code"]): share["amount_pence"]
        for row in rows
        for share in row["record"]["attribution"]
    }
    assert recovered == {(d, s): -a for d, s, a in PAID}
    assert sum(r["amount_pence"] for r in rows) == -10_000


async def test_clawbacks_keep_when_they_were_raised_and_settled(pool: asyncpg.Pool) -> None:
    raised_at, settled_at = datetime(2026, 9, 1, tzinfo=UTC), RECOVERED_AT
    raised = ClawbackRaised(
        place_id=GM,
        contract_id="C-1",
        clawback_id="K-1",
        recovery_id="R-1",
        payment_id="P-1",
        participant_hash="c" * 64,
        metric_id="JOB-START",
        amount_pence=1_000,
        reason="the participant's job ended in week 1",
    )
    settled = ClawbackSettled(
        place_id=GM,
        contract_id="C-1",
        clawback_id="K-1",
        recovery_id="R-1",
        recovered=True,
        amount_pence=1_000,
    )
    await feed(pool, envelopes([(raised, raised_at), (settled, settled_at)]))

    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT status, recovered_pence, raised_at, settled_at FROM clawbacks"
        )
    assert dict(row) == {
        "status": "recovered",
        "recovered_pence": 1_000,
        "raised_at": raised_at,
        "settled_at": settled_at,
    }


@pytest.mark.slow
async def test_the_real_gateway_delivers_a_recovery_to_the_departments_webhook_signed(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver(failures_per_event=0)
    async with receiver.running(), client_for(settings) as client:
        created = await client.post(
            "/api/v1/departments/DWP/webhooks",
            json={"url": receiver.url},
            headers=bearer(token, "sub-recoveries"),
        )
        assert created.status_code == 201, created.text
        await publish(settings, *(event for event, _ in story()))
        await eventually(lambda: _accepted(receiver), timeout_s=30)
        feed_page = await client.get("/api/v1/departments/DWP/spend", headers=bearer(token))

    [copy] = receiver.accepted.values()
    headers = copy["headers"]
    secret = created.json()["secret"]
    timestamp = int(headers["singlepot-timestamp"])
    assert signature_is_valid(secret, timestamp, copy["body"], headers["singlepot-signature"])
    body = json.loads(copy["body"])
    assert body["spend"]["kind"] == "recovery"
    assert body["spend"]["department_amount_pence"] == -667
    assert [item["spend"]["spend_id"] for item in feed_page.json()["spend"]] == ["recovery/T-RC-1"]


async def _accepted(receiver: WebhookReceiver) -> bool:
    return len(receiver.accepted) >= 1
