"""A service says it is not ready when its schema is behind the code's migrations, when the
broker is away or its relay is stuck; and when the broker comes back empty, what the service
published is replayed from its outbox with nobody typing `singlepot republish`."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from contracts import FinancialYearAmount, RecordSettlement, SettlementRecorded, topics
from services.ledger.app import DEFINITION as LEDGER
from services.runtime.broker_watch import BrokerWatch
from services.runtime.outbox import Outbox, unpublished_count
from singlepot.local.broker import LocalBroker
from singlepot.local.ports import free_port
from singlepot.system import create_all_topics
from tests.conftest import Stack
from tests.conftest import test_settings as settings_for
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = pytest.mark.integration


def settlement(number: int) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=f"S-{number}",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=1_000_00),),
    )


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of this test's own, since the test stops and restarts it."""
    broker = LocalBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def fast_watch_settings(stack: Stack, database_url: str, broker: LocalBroker, **overrides):
    values = {
        "kafka_bootstrap_servers": broker.bootstrap_servers,
        "broker_check_interval_s": 0.3,
        "broker_check_timeout_s": 2.0,
        "relay_standby_interval_s": 0.2,
    }
    return settings_for(stack, database_url, **(values | overrides))


async def test_a_schema_behind_the_codes_migrations_is_not_ready_and_says_which(
    settings, tmp_path: Path
) -> None:
    newer_code = tmp_path / "ledger" / "migrations"
    shutil.copytree(LEDGER.migrations, newer_code)
    (newer_code / "999_newer_release.sql").write_text("SELECT 1;\n")
    async with running(replace(LEDGER, migrations=newer_code), settings) as host:
        checks = await host.readiness()
    assert checks["ready"] is False
    assert checks["migration_problems"] == [
        "migration ledger/999_newer_release.sql not applied; run `singlepot migrate`"
    ]


async def test_a_migration_edited_after_it_was_applied_is_not_ready(settings) -> None:
    async with running(LEDGER, settings) as host:
        await eventually(lambda: _ready(host))
        assert host.pool is not None
        async with host.pool.acquire() as connection:
            first = await connection.fetchval(
                "SELECT name FROM schema_migrations WHERE name LIKE 'ledger/%' ORDER BY name"
            )
            await connection.execute(
                "UPDATE schema_migrations SET checksum = 'edited' WHERE name = $1", first
            )
        checks = await host.readiness()
    assert checks["ready"] is False
    assert checks["migration_problems"] == [f"migration {first} changed since it was applied"]


async def test_a_broker_that_went_away_and_a_stuck_relay_make_the_service_not_ready(
    stack: Stack, database_url: str, own_broker: LocalBroker
) -> None:
    settings = fast_watch_settings(stack, database_url, own_broker, relay_stuck_after_s=0.5)
    await create_all_topics(settings)
    async with running(LEDGER, settings) as host:
        await eventually(lambda: _ready(host))
        own_broker.stop()
        assert host.pool is not None
        async with host.pool.acquire() as connection, connection.transaction():
            await Outbox(connection, producer="test").add(settlement(1))
        checks = await eventually(lambda: _not_ready_because(host, "broker", "relay_stuck"))
        assert checks["broker"] is False and checks["broker_error"]
        assert checks["relay_active"] is True and checks["relay_stuck"] is True
        own_broker.start()  # so that the service stops promptly, as it would in production
        await create_all_topics(settings)
        await eventually(lambda: _ready(host))


async def test_after_the_broker_lost_its_data_the_outbox_is_replayed_without_a_command(
    stack: Stack, database_url: str, own_broker: LocalBroker
) -> None:
    settings = fast_watch_settings(stack, database_url, own_broker)
    await create_all_topics(settings)
    async with running(LEDGER, settings) as host:
        async with TopicReader(settings, topics.LEDGER_RESULTS) as before:
            await publish(settings, settlement(1), settlement(2))
            await eventually(lambda: _count(before, SettlementRecorded, 2))
        # The bundled broker keeps nothing across a restart: topics, messages, offsets.
        own_broker.stop()
        own_broker.start()
        await eventually(lambda: _topics_back(settings))
        async with TopicReader(settings, topics.LEDGER_RESULTS) as after:
            await eventually(lambda: _count(after, SettlementRecorded, 2))
        assert host.broker_watch is not None and host.relay is not None
        assert host.broker_watch.losses_detected >= 1
        assert host.relay.replayed_total >= 2
        await eventually(lambda: _ready(host))
    assert {e.settlement_id for e in after.events(SettlementRecorded)} == {"S-1", "S-2"}


async def test_a_relay_taking_over_after_the_broker_came_back_empty_replays_before_anything_new(
    stack: Stack, database_url: str, own_broker: LocalBroker
) -> None:
    """As when `singlepot up` is killed with -9 and started again: every process, the broker
    included, is new, and an accepted command waits in an outbox. The rows the lost broker held
    go out again before that newer row, so a consumer meets each place's events in order. (The
    watch's periodic check is an hour away here: the relay checks the broker itself.)"""
    settings = fast_watch_settings(stack, database_url, own_broker, broker_check_interval_s=3600)
    await create_all_topics(settings)
    async with running(LEDGER, settings) as host:
        async with TopicReader(settings, topics.LEDGER_RESULTS) as before:
            await publish(settings, settlement(1), settlement(2))
            await eventually(lambda: _count(before, SettlementRecorded, 2))
        # Published and marked so (a relay stopped between sending and marking would simply
        # send them again, in order: not the case this test is about).
        assert host.pool is not None
        await eventually(lambda: _all_published(host.pool))
    own_broker.stop()
    own_broker.start()
    await create_all_topics(settings)  # as `up` does before it starts the services
    newer = SettlementRecorded(
        place_id="GM",
        settlement_id="S-3",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=settlement(3).profile,
        transfer_id="T-3",
    )
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        async with connection.transaction():
            await Outbox(connection, producer="test").add(newer)
    finally:
        await connection.close()
    async with TopicReader(settings, topics.LEDGER_RESULTS) as after:
        async with running(LEDGER, settings) as host:
            await eventually(lambda: _count(after, SettlementRecorded, 3))
            assert host.broker_watch is not None and host.broker_watch.losses_detected == 1
    first_seen = list(dict.fromkeys(e.settlement_id for e in after.events(SettlementRecorded)))
    assert first_seen == ["S-1", "S-2", "S-3"]


async def _all_published(pool) -> bool:
    return await unpublished_count(pool) == 0


async def test_a_start_does_not_wait_for_the_first_broker_check(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a warm `up` the first check finds the fresh broker empty and asks for a replay, which
    takes a second or more: the service serves HTTP meanwhile (the relay checks the broker
    itself before it publishes, and /readyz says "broker" once a check has succeeded)."""
    released = asyncio.Event()
    checked: list[bool] = []
    check = BrokerWatch.check

    async def held_check(watch: BrokerWatch) -> None:
        await released.wait()
        await check(watch)
        checked.append(True)

    monkeypatch.setattr(BrokerWatch, "check", held_check)
    async with asyncio.timeout(60):  # a start that waited for the check would never return
        async with running(LEDGER, settings) as host:
            assert checked == []
            released.set()

            async def first_check_done() -> bool:
                return checked == [True]

            await eventually(first_check_done)
            await eventually(lambda: _ready(host))


async def _ready(host) -> bool:
    return (await host.readiness())["ready"]


async def _not_ready_because(host, *reasons: str):
    checks = await host.readiness()
    failing = {"broker": checks.get("broker") is False, "relay_stuck": checks["relay_stuck"]}
    if not checks["ready"] and all(failing[reason] for reason in reasons):
        return checks
    return None


async def _count(reader: TopicReader, kind: type, at_least: int) -> bool:
    return len({e.settlement_id for e in reader.events(kind)}) >= at_least


async def _topics_back(settings) -> bool:
    # The watch re-creates the topics it found missing: nobody else does here.
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.effective_bootstrap_servers())
    await admin.start()
    try:
        return settings.topic(topics.LEDGER_RESULTS) in set(await admin.list_topics())
    finally:
        await admin.close()
