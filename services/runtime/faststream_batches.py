"""FastStream's Kafka batch subscriber doing what `BatchConsumer` does, so the two can be measured.

A prototype for the "one consumer stack" question (issue 13): the same per-batch work
(`BatchConsumer.process`: decode, one transaction per partition's batch, the one-by-one
fallback with its inbox and dead letters), reached through `broker.subscriber(..., batch=True)`
with the explicit ack policy instead of a hand-written `getmany` loop. Offsets are committed
after every partition of the fetch has been handled (ack); an infrastructure failure raises,
FastStream nacks, and every partition of the fetch is rewound to its first record.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.runtime import telemetry
from services.runtime.batch_consumer import BatchConsumer, BatchHandler, _incoming
from services.runtime.consumer import EventConsumer
from services.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


def batch_broker(
    settings: RuntimeSettings,
    name: str,
    subscriptions: tuple[str, ...],
    handler: BatchHandler,
    pool: asyncpg.Pool,
    fallback: EventConsumer,
) -> KafkaBroker:
    """A broker with one batch subscriber feeding each partition's records to `handler`."""
    # Only `process` is used: the FastStream subscriber replaces the consume loop, so the
    # per-batch work is byte for byte what the hand-written consumer does.
    processor = BatchConsumer(
        name=name,
        pool=pool,
        handler=handler,
        event_types=frozenset(fallback.handlers),
        fallback=fallback,
        consumer=cast(AIOKafkaConsumer, None),
        batch_size_max=settings.consumer_batch_size_max,
        infrastructure_retry_backoff_s=settings.infrastructure_retry_backoff_s,
    )
    group_id = settings.consumer_group(name)
    broker = KafkaBroker(
        settings.effective_bootstrap_servers(),
        client_id=f"{name}-batches",
        enable_idempotence=False,
        log_level=logging.DEBUG,
    )
    subscriber = broker.subscriber(
        *[settings.topic(topic) for topic in subscriptions],
        group_id=group_id,
        batch=True,
        max_records=settings.consumer_batch_size_max,
        max_poll_records=settings.consumer_batch_size_max,
        batch_timeout_ms=1000,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        decoder=_no_body,
    )

    @subscriber
    async def on_batch(body: Any, message: KafkaMessage) -> None:
        records = message.raw_message
        assert isinstance(records, tuple), "a batch subscriber gets a tuple of records"
        by_partition: dict[TopicPartition, list[ConsumerRecord]] = defaultdict(list)
        for record in records:
            by_partition[TopicPartition(record.topic, record.partition)].append(record)
        for partition, partition_records in by_partition.items():
            # Raises on infrastructure failures: FastStream then rewinds every partition.
            await processor.process([_incoming(record) for record in partition_records])
            if isinstance(message.consumer, AIOKafkaConsumer):
                telemetry.instruments().record_lag(
                    name,
                    partition.topic,
                    partition.partition,
                    message.consumer.highwater(partition),
                    partition_records[-1].offset + 1,
                )

    return broker


async def _no_body(message: Any) -> None:
    """The handler reads the raw records; FastStream need not decode anything."""
    return None
