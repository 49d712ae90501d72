"""OCDS releases at a flat cost per fetch: in the projector's batch path a process's release is
kept at most once per interval; the change a fetch left waiting is kept later, by the
projector's periodic task or by a request for the place's releases, dated and caused by its
event, and the release then shows every payment. A process's first release is kept at once. Two
tasks never keep the same waiting release twice, and a fetch's release work reads the same rows
however many payments the place holds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from contracts import Event, EvidenceSubmitted, EvidenceVerified, PaymentMade
from contracts.envelope import Envelope, wrap
from contracts.outcomes import RemittanceAdvised, RemittanceLine
from services.gateway.app import projector_batch_handler
from services.gateway.opendata import history_db, pending_releases
from services.gateway.opendata.publishing import datetime_text
from services.gateway.settings import GatewaySettings
from services.runtime.batch_consumer import BatchHandler
from tests.integration.gateway.gateway_support import client_for, gateway_settings
from tests.integration.opendata.test_opendata_exports_live import (
    EVENTS,
    PUBLISHERS,
    register_organisations,
    shares,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOUR_S = 3600.0
INTERVAL = timedelta(seconds=HOUR_S)
PRICE_PENCE = 1_200_00
# The allocation approved, reserved and funded, and its outcomes contract registered.
CONTRACT_SETUP = EVENTS[:5]


def contract_setup(allocation_id: str, contract_id: str) -> list[Event]:
    """The fixture's outcomes contract under other ids: another contracting process."""
    ids = {"allocation_id": allocation_id, "contract_id": contract_id}
    return [
        event.model_copy(update={k: v for k, v in ids.items() if k in type(event).model_fields})
        for event in CONTRACT_SETUP
    ]


def paid_batch(number: int, allocation_id: str = "A-1", contract_id: str = "C-1") -> list[Event]:
    """An evidence batch of the contract: submitted, verified, paid and remitted."""
    batch_id, payment_id = f"B-{contract_id}-{number}", f"PAY-{contract_id}-{number}"
    common = {"place_id": "GM", "contract_id": contract_id}
    return [
        EvidenceSubmitted(
            **common,
            batch_id=batch_id,
            provider_id="PROV-WORKWELL",
            claim_count=1,
            accepted_count=1,
            rejected_count=0,
        ),
        EvidenceVerified(**common, batch_id=batch_id, verified_count=1, amount_pence=PRICE_PENCE),
        PaymentMade(
            **common,
            payment_id=payment_id,
            allocation_id=allocation_id,
            provider_id="PROV-WORKWELL",
            amount_pence=PRICE_PENCE,
            payment_kind="outcome_payment",
            claim_batch_id=batch_id,
            attribution=shares(PRICE_PENCE),
            transfer_id=f"T-{payment_id}",
        ),
        RemittanceAdvised(
            **common,
            batch_id=batch_id,
            payment_id=payment_id,
            provider_id="PROV-WORKWELL",
            amount_pence=PRICE_PENCE,
            lines=(
                RemittanceLine(
                    claim_period_id="Q2",
                    metric_id="JOB-START",
                    metric_version=1,
                    outcome_count=1,
                    amount_pence=PRICE_PENCE,
                ),
            ),
            transfer_id=f"T-{payment_id}",
        ),
    ]


def messages(events: Sequence[Event]) -> list[tuple[Envelope, Event]]:
    return [(wrap(event, producer="test"), event) for event in events]


async def in_fetches(
    connection: asyncpg.Connection,
    handle: BatchHandler,
    fetched: list[tuple[Envelope, Event]],
    events_per_fetch: int,
) -> None:
    """The messages through the projector's batch handler, a transaction per fetch."""
    for start in range(0, len(fetched), events_per_fetch):
        async with connection.transaction():
            await handle(connection, fetched[start : start + events_per_fetch])


async def connect(database_url: str, **options: Any) -> asyncpg.Connection:
    return await asyncpg.connect(
        database_url, server_settings={"search_path": "gateway"}, **options
    )


async def releases(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT allocation_id, sequence, released_at, caused_by, release::text AS release "
        "FROM ocds_releases ORDER BY allocation_id, sequence"
    )


async def waiting(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT allocation_id, pending_event_id FROM ocds_release_marks "
        "WHERE pending_event_id IS NOT NULL ORDER BY allocation_id"
    )


def payments_shown(release_text: str) -> set[str]:
    release = json.loads(release_text)
    transactions = release["contracts"][0].get("implementation", {}).get("transactions", [])
    return {t["id"] for t in transactions}


PAID = 12


def throttled() -> GatewaySettings:
    """The gateway publishing GM's open data, keeping a release at most once an hour."""
    return gateway_settings(
        opendata_publishers=PUBLISHERS, opendata_demo=False, opendata_release_interval_s=HOUR_S
    )


async def released_once_then_paid(connection: asyncpg.Connection) -> list[tuple[Envelope, Event]]:
    """The contract set up (its first release kept at once), then `PAID` batches paid in
    fetches of eight events within the interval; returns the paid batches' messages."""
    handle = projector_batch_handler(throttled())
    await in_fetches(connection, handle, messages(CONTRACT_SETUP), 100)
    paid = messages([event for number in range(1, PAID + 1) for event in paid_batch(number)])
    await in_fetches(connection, handle, paid, 8)
    return paid


async def test_the_release_kept_once_the_projector_caught_up_shows_every_payment(
    settings, database_url
) -> None:
    async with client_for(settings, throttled()) as client:
        await register_organisations(client, database_url)
        connection = await connect(database_url)
        try:
            paid = await released_once_then_paid(connection)
            before, left_waiting = await releases(connection), await waiting(connection)
            later = datetime.now(UTC) + 2 * INTERVAL
            released = await pending_releases.keep_due(connection, INTERVAL, now=later)
            caught_up, still_waiting = await releases(connection), await waiting(connection)
        finally:
            await connection.close()
        record_package = (await client.get("/open-data/places/GM/ocds-records.json")).json()

    last, _ = paid[-1]
    [first] = before  # six fetches changed the process; none was due a release
    assert payments_shown(first["release"]) == set()
    assert [row["pending_event_id"] for row in left_waiting] == [last.event_id]
    assert released == 1 and still_waiting == []
    assert len(caught_up) == 2
    latest = caught_up[-1]
    assert (latest["caused_by"], latest["released_at"]) == (last.event_id, last.occurred_at)
    every_payment = {f"PAY-C-1-{number}" for number in range(1, PAID + 1)}
    assert payments_shown(latest["release"]) == every_payment
    [record] = record_package["records"]
    assert len(record["releases"]) == 2  # publishing kept nothing more
    compiled = record["compiledRelease"]["contracts"][0]
    assert {t["id"] for t in compiled["implementation"]["transactions"]} == every_payment
    claims = [m for m in compiled["milestones"] if m["type"] == "delivery"]
    assert len(claims) == PAID and {m["status"] for m in claims} == {"met"}


async def test_a_request_for_the_releases_keeps_the_waiting_one_dated_by_its_event(
    settings, database_url
) -> None:
    async with client_for(settings, throttled()) as client:
        await register_organisations(client, database_url)
        connection = await connect(database_url)
        try:
            paid = await released_once_then_paid(connection)
            first = await client.get("/open-data/places/GM/ocds.json")
            again = await client.get("/open-data/places/GM/ocds.json")
            kept, still_waiting = await releases(connection), await waiting(connection)
        finally:
            await connection.close()

    last, _ = paid[-1]
    published = first.json()["releases"]
    assert len(published) == len(kept) == 2
    assert published[-1]["date"] == datetime_text(last.occurred_at)  # its event's, not now
    assert kept[-1]["caused_by"] == last.event_id and still_waiting == []
    transactions = published[-1]["contracts"][0]["implementation"]["transactions"]
    assert len(transactions) == PAID
    assert again.headers["etag"] == first.headers["etag"]  # nothing more kept


async def test_a_process_keeps_its_first_release_in_the_fetch_that_funds_it(database_url) -> None:
    handle = projector_batch_handler(throttled())
    connection = await connect(database_url)
    try:
        # Proposed and approved in one fetch: nothing to release yet (not funded).
        await in_fetches(connection, handle, messages(CONTRACT_SETUP[:2]), 100)
        before_funding = await releases(connection)
        # Reserved and funded in the next, well within the interval.
        funding = messages(CONTRACT_SETUP[2:4])
        await in_fetches(connection, handle, funding, 100)
        kept = await releases(connection)
    finally:
        await connection.close()

    assert before_funding == []
    [first] = kept  # the award, at once: a change that kept nothing does not start the interval
    assert first["caused_by"] == funding[-1][0].event_id


async def test_two_projectors_never_keep_the_same_waiting_release_twice(database_url) -> None:
    handle = projector_batch_handler(throttled())
    processes = [(f"A-{n}", f"C-{n}") for n in (1, 2, 3)]
    first, second = await connect(database_url), await connect(database_url)
    later = datetime.now(UTC) + 2 * INTERVAL
    try:
        for allocation_id, contract_id in processes:
            await in_fetches(
                first, handle, messages(contract_setup(allocation_id, contract_id)), 100
            )
        changed = messages([e for process in processes for e in paid_batch(1, *process)])
        await in_fetches(first, handle, changed, 100)
        marked = await waiting(first)
        # One task holds a claim while the other looks: the other keeps the rest, not that one.
        async with first.transaction():
            held = await history_db.claim_due_release(first, later)
            assert held is not None
            kept_by_second = await pending_releases.keep_due(second, INTERVAL, now=later)
            await history_db.keep_waiting(first, held, later + INTERVAL)
        after_claims = await waiting(first)
        # Then both look at once, after each process changed again.
        changed_again = messages([e for process in processes for e in paid_batch(2, *process)])
        await in_fetches(first, handle, changed_again, 100)
        at_once = await asyncio.gather(
            pending_releases.keep_due(first, INTERVAL, now=later + 2 * INTERVAL),
            pending_releases.keep_due(second, INTERVAL, now=later + 2 * INTERVAL),
        )
        kept, left = await releases(first), await waiting(first)
    finally:
        await first.close()
        await second.close()

    assert len(marked) == 3 and after_claims == []
    assert kept_by_second == 2
    assert sum(at_once) == 3 and left == []
    for allocation_id, contract_id in processes:
        history = [row for row in kept if row["allocation_id"] == allocation_id]
        assert [row["sequence"] for row in history] == [1, 2, 3]
        assert payments_shown(history[-1]["release"]) == {
            f"PAY-{contract_id}-1",
            f"PAY-{contract_id}-2",
        }
    assert len({row["caused_by"] for row in kept}) == len(kept)


class CountingConnection(asyncpg.Connection):
    """A connection that counts the rows its queries return."""

    rows_read = 0

    async def fetch(self, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await super().fetch(*args, **kwargs)
        self.rows_read += len(rows)
        return rows

    async def fetchrow(self, *args: Any, **kwargs: Any) -> asyncpg.Record | None:
        row = await super().fetchrow(*args, **kwargs)
        self.rows_read += row is not None
        return row

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        self.rows_read += 1
        return await super().fetchval(*args, **kwargs)


async def rows_read_by(
    connection: CountingConnection, handle: BatchHandler, events: list[Event]
) -> int:
    """The rows one fetch of `events` reads (handlers and release work), in one transaction."""
    connection.rows_read = 0
    await in_fetches(connection, handle, messages(events), len(events))
    return connection.rows_read


async def test_a_fetchs_release_work_reads_the_same_rows_however_many_payments_the_place_has(
    database_url,
) -> None:
    once_an_hour = projector_batch_handler(throttled())
    every_fetch = projector_batch_handler(gateway_settings(opendata_release_interval_s=0))
    connection = await connect(database_url, connection_class=CountingConnection)
    try:
        await in_fetches(connection, once_an_hour, messages(CONTRACT_SETUP), 100)
        for process in (("A-2", "C-2"), ("A-3", "C-3")):
            await in_fetches(connection, every_fetch, messages(contract_setup(*process)), 100)
        for number in range(1, 4):
            await in_fetches(connection, once_an_hour, messages(paid_batch(number)), 100)
        # A-1 has three payments: a fetch that changes it (not due), and one that releases A-2.
        waiting_few = await rows_read_by(connection, once_an_hour, paid_batch(4))
        released_few = await rows_read_by(connection, every_fetch, paid_batch(1, "A-2", "C-2"))
        for number in range(5, 45):
            await in_fetches(connection, once_an_hour, messages(paid_batch(number)), 100)
        # A-1 has 44 payments and A-2 one: the same fetches again, of A-1 and of A-3.
        waiting_many = await rows_read_by(connection, once_an_hour, paid_batch(45))
        released_many = await rows_read_by(connection, every_fetch, paid_batch(1, "A-3", "C-3"))
        kept = await releases(connection)
    finally:
        await connection.close()

    assert waiting_many == waiting_few
    assert released_many == released_few
    # What was measured did keep releases: A-2's and A-3's second, not A-1's (throttled).
    assert [(row["allocation_id"], row["sequence"]) for row in kept] == [
        ("A-1", 1),
        ("A-2", 1),
        ("A-2", 2),
        ("A-3", 1),
        ("A-3", 2),
    ]
