"""The spend topic's own consumer group (`gateway-spend`), on the real broker and PostgreSQL: a
spend is projected and reaches the department's webhook while the consumer of the other topics
is held up in a fetch; each place's spends keep their order in the feed; and a group new to the
spend topic starts where the gateway's own group was, so nothing is replayed."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import Event, SpendRecorded, topics
from contracts.envelope import Envelope
from services.gateway.app import SPEND_GROUP, Role, definition, handle_batch
from services.runtime.consumer_groups import hand_over_offsets
from services.runtime.host import build_http_app
from services.runtime.settings import RuntimeSettings
from tests.integration.gateway.gateway_support import (
    WebhookReceiver,
    bearer,
    gateway_settings,
    token_for,
)
from tests.integration.gateway.test_gateway_read_models import settled
from tests.integration.gateway.test_gateway_subscriptions import spend
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DWP = "/api/v1/departments/DWP"


class HeldOtherTopics:
    """The gateway's batch handler, except that a fetch of any topic but the spend topic waits
    until released: the other consumer is stuck mid-fetch, its transaction open."""

    def __init__(self) -> None:
        self.holding = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(
        self, connection: asyncpg.Connection, messages: Sequence[tuple[Envelope, Event]]
    ) -> None:
        if not all(isinstance(event, SpendRecorded) for _, event in messages):
            self.holding.set()
            await self.released.wait()
        await handle_batch(connection, messages)


@asynccontextmanager
async def gateway(
    settings: RuntimeSettings, handler: HeldOtherTopics | None = None, role: Role = Role.ALL
) -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway in this process, its batch handler replaced by `handler` if given."""
    made = definition(gateway_settings(), role)
    if handler is not None:
        made = dataclasses.replace(made, batch_handler=handler)
    app = build_http_app(made, settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


async def feed(database_url: str, department: str) -> list[str]:
    """The department's feed: spend ids in feed order."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        rows = await connection.fetch(
            "SELECT spend_id FROM department_spend WHERE department_code = $1 ORDER BY sequence",
            department,
        )
    finally:
        await connection.close()
    return [row["spend_id"] for row in rows]


async def settled_streams(database_url: str) -> int:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        return int(
            await connection.fetchval("SELECT coalesce(sum(settled_pence), 0) FROM pot_streams")
        )
    finally:
        await connection.close()


async def test_a_spend_reaches_the_webhook_while_the_other_topics_consumer_is_held_up(
    settings, database_url
) -> None:
    token = await token_for(database_url, "dwp-feed", "department:DWP")
    receiver = WebhookReceiver()
    held = HeldOtherTopics()
    async with receiver.running(), gateway(settings, held) as client:
        try:
            subscribed = await client.post(
                f"{DWP}/webhooks", json={"url": receiver.url}, headers=bearer(token, "sub-1")
            )
            assert subscribed.status_code == 201, subscribed.text
            await publish(settings, settled("DWP", 5_000_000))
            await asyncio.wait_for(held.holding.wait(), 30)
            spends = [spend(number, ("DWP", 1_000 + number)) for number in range(1, 6)]
            await publish(settings, *spends)
            await eventually(lambda: _accepted(receiver, 5), timeout_s=30)
            settled_while_held = await settled_streams(database_url)
            feed_while_held = await feed(database_url, "DWP")
        finally:
            held.released.set()
        await eventually(lambda: settled_streams(database_url), timeout_s=30)
        ready = await client.get("/readyz")

    assert settled_while_held == 0  # the other consumer was still held in its fetch
    # Each place's spends in their order, each once.
    assert feed_while_held == [f"SP-{number}" for number in range(1, 6)]
    assert len(receiver.accepted) == 5 and receiver.accepted_twice == []
    assert ready.json()["consumer"] is True


async def test_the_projector_role_consumes_spends_in_their_own_group_too(
    settings, database_url
) -> None:
    held = HeldOtherTopics()
    async with gateway(settings, held, Role.PROJECTOR):
        try:
            await publish(settings, settled("DWP", 5_000_000))
            await asyncio.wait_for(held.holding.wait(), 30)
            await publish(settings, spend(1, ("DWP", 1_000)))
            projected = await eventually(lambda: feed(database_url, "DWP"), timeout_s=30)
        finally:
            held.released.set()

    assert projected == ["SP-1"]


async def _committed(settings: RuntimeSettings, group: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(group),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        topic = settings.topic(topics.LEDGER_SPEND)
        return {
            partition: await consumer.committed(TopicPartition(topic, partition))
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        }
    finally:
        await consumer.stop()


async def _commit_at_end(settings: RuntimeSettings, group: str) -> dict[int, int]:
    """Commit the spend topic's end for `group`, as a gateway that consumed it all would have."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(group),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        topic = settings.topic(topics.LEDGER_SPEND)
        partitions = [
            TopicPartition(topic, partition)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(ends)
        return {partition.partition: offset for partition, offset in ends.items()}
    finally:
        await consumer.stop()


async def test_a_new_spend_group_starts_where_the_gateways_own_group_was(
    settings, database_url
) -> None:
    # Spend 1 was consumed by a gateway that read every topic in its one group, before the
    # spend topic had a group of its own.
    await publish(settings, spend(1, ("DWP", 1_000)))
    ends = await _commit_at_end(settings, "gateway")
    async with gateway(settings):
        await publish(settings, spend(2, ("DWP", 2_000)))
        projected = await eventually(lambda: feed(database_url, "DWP"), timeout_s=30)

        async def moved_past_spend_2() -> bool:
            handed = await _committed(settings, SPEND_GROUP.name("gateway"))
            # The handed-over positions, plus spend 2's one message on its partition.
            return sum(offset or 0 for offset in handed.values()) == sum(ends.values()) + 1

        await eventually(moved_past_spend_2, timeout_s=30)

    assert projected == ["SP-2"]  # spend 1 was not replayed


async def test_handing_over_keeps_a_groups_own_positions(settings) -> None:
    await publish(settings, spend(1, ("DWP", 1_000)), spend(2, ("DWP", 1_000)))
    ends = await _commit_at_end(settings, "gateway")
    first = await hand_over_offsets(settings, "gateway", "gateway-spend", (topics.LEDGER_SPEND,))
    await publish(settings, spend(3, ("DWP", 1_000)))
    await _commit_at_end(settings, "gateway")
    again = await hand_over_offsets(settings, "gateway", "gateway-spend", (topics.LEDGER_SPEND,))

    assert first == len(ends) and again == 0
    assert await _committed(settings, "gateway-spend") == ends  # not moved by the second


async def _accepted(receiver: WebhookReceiver, count: int) -> bool:
    return len(receiver.accepted) >= count
