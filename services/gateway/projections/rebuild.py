"""Rebuilding the gateway's read models from the topics: empty them, forget which events the
gateway's consumer has seen, and move its consumer groups (its own, and the spend topic's) back
to the start of every topic they read. Run it while the gateway is stopped; on its next start
the gateway replays everything.

Every other read model (the pot, allocations and the board's votes, decisions, sign-offs and
refusals, claims, contracts, evidence and each claim's result, remittances, clawbacks with the
dates they were raised and settled, payments, and what became of each command) is emptied and
refilled from the topics, except the outcomes of commands the gateway decided itself
(returns/local_commands.py): no event tells them, so they are kept (`decided_here`).
The department spend feed (with each spend's stored trace context,
and recoveries as negative spend) and webhook deliveries are kept: feed numbers are public (SSE
event ids) and departments must not be sent their spend, or a recovery, again; a replayed event
finds its (event id, department) row and adds nothing.
The organisations register is kept too: finance staff write it through the API, not a topic.
So are the kept OCDS releases (`ocds_releases`): their ids are published, and the replay finds
each release it would keep already kept (opendata/history.py); the marks of releases still
waiting to be kept (`ocds_release_marks`) are emptied, and the replay marks its changes anew.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.gateway.projections import db
from services.runtime.consumer_groups import consumer_groups
from services.runtime.db import connect
from services.runtime.host import ServiceDefinition
from services.runtime.settings import RuntimeSettings


async def rebuild_read_models(definition: ServiceDefinition, settings: RuntimeSettings) -> int:
    """Clear the read models and rewind the consumer group; return the partitions rewound."""
    connection = await connect(settings.effective_database_url())
    try:
        await connection.execute(f"SET search_path TO {definition.name}")
        async with connection.transaction():
            await db.clear_read_models(connection, definition.name)
    finally:
        await connection.close()
    return await rewind_consumer_group(definition, settings)


async def rewind_consumer_group(definition: ServiceDefinition, settings: RuntimeSettings) -> int:
    """Commit the earliest offset of every partition the service reads, for each of its groups
    (the spend topic has a group of its own); return the partitions rewound."""
    groups = consumer_groups(definition.name, definition.subscriptions, definition.separate_groups)
    rewound = 0
    for group, topics in groups:
        rewound += await _rewind(settings, group, topics)
    return rewound


async def _rewind(settings: RuntimeSettings, group: str, topics: tuple[str, ...]) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(group),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in (settings.topic(name) for name in topics)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return 0
        consumer.assign(partitions)
        earliest = await consumer.beginning_offsets(partitions)
        await consumer.commit({partition: offset for partition, offset in earliest.items()})
        return len(partitions)
    finally:
        await consumer.stop()
