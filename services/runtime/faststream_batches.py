"""Consumes a service's topics in batches through FastStream's Kafka batch subscriber.

The ledger, the outcomes service and the gateway's projector consume here (`host.py` builds it
for a definition with a `batch_handler`); allocations uses FastStream's one-message subscriber,
so every service consumes through FastStream (issue 13). FastStream runs the loop: it fetches up
to `consumer_batch_size_max` records (`batch=True`) and hands them over. What is done with them
is `BatchConsumer.process_fetch`, unchanged: one transaction per topic per fetch, the
one-by-one fallback with its inbox and dead letters, offsets committed only after the handling,
and on an infrastructure failure the topics done committed and the rest fetched again.

The ack policy is explicitly `MANUAL`: `process_fetch` commits each partition's position itself
(so that the topics done before a database outage stay done, and a commit refused after a
rebalance is a warning, as it always was). Anything else escaping it nacks the fetch: FastStream
rewinds every partition to its first record, so nothing is passed over; the inbox makes the
repeats harmless.

Measured against the hand-written aiokafka loop it replaces (`BatchConsumer.run`, kept as the
reference of `python -m bench.consumer_ab`): see bench/NOTES.md, "FastStream's batch subscriber
against `BatchConsumer`".
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import defaultdict
from typing import Any, cast

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage

from services.runtime.batch_consumer import BatchConsumer, BatchHandler, _tune_collector
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
    """A broker with one batch subscriber over `subscriptions`, feeding each fetch to `handler`."""
    batches = BatchConsumer(
        name=name,
        pool=pool,
        handler=handler,
        event_types=frozenset(fallback.handlers),
        fallback=fallback,
        # The subscriber's own client, which FastStream builds when the broker starts; set
        # from each fetch's message below.
        consumer=cast(AIOKafkaConsumer, None),
        batch_size_max=settings.consumer_batch_size_max,
        infrastructure_retry_backoff_s=settings.infrastructure_retry_backoff_s,
    )
    broker = KafkaBroker(
        settings.effective_bootstrap_servers(),
        client_id=f"{name}-batches",
        enable_idempotence=False,
        log_level=logging.DEBUG,
    )
    subscriber = broker.subscriber(
        *[settings.topic(topic) for topic in subscriptions],
        group_id=settings.consumer_group(name),
        batch=True,
        max_records=settings.consumer_batch_size_max,
        max_poll_records=settings.consumer_batch_size_max,
        # After an empty poll FastStream sleeps this long before the next one, so a message
        # arriving then waits up to this much more: kept to the fetch wait, which an idle
        # partition already costs (bench/NOTES.md, "Latency at moderate load").
        batch_timeout_ms=settings.consumer_fetch_max_wait_ms,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        decoder=whole_message,
    )

    @subscriber
    async def on_batch(fetched: Any) -> None:
        message: KafkaMessage = fetched  # the decoder's output, not validated (`Any`)
        records = message.raw_message
        assert isinstance(records, tuple), "a batch subscriber gets a tuple of records"
        assert isinstance(message.consumer, AIOKafkaConsumer)
        batches.consumer = message.consumer
        try:
            await batches.process_fetch(_by_partition(records))
        except Exception:
            # Not the database (`process_fetch` retries that itself): something unforeseen,
            # after which no offset may move past an unhandled message. FastStream logs it.
            await message.nack()
            await asyncio.sleep(settings.infrastructure_retry_backoff_s)
            raise

    return broker


def _by_partition(
    records: tuple[ConsumerRecord, ...],
) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The fetch as `getmany` returns it: each partition's records, in their order."""
    fetched: dict[TopicPartition, list[ConsumerRecord]] = defaultdict(list)
    for record in records:
        fetched[TopicPartition(record.topic, record.partition)].append(record)
    return dict(fetched)


async def whole_message(message: KafkaMessage) -> KafkaMessage:
    """The handler's one argument: FastStream's message itself (its records, its consumer), as
    the decoder gives it. A parameter annotated to take it from FastStream's context instead
    (`faststream.kafka.annotations.KafkaMessage`) is solved by fast_depends on a worker thread,
    a thread hop for every message (bench/NOTES.md)."""
    return message


def tune_collector(collect_less_often: bool) -> tuple[int, int, int]:
    """Never again scan what the started service holds for good and, for a throughput
    service, collect less often (`COLLECTOR_THRESHOLDS` in batch_consumer.py, with why the
    gateway's API keeps Python's own). Returns the thresholds to restore on stop."""
    thresholds = gc.get_threshold()
    _tune_collector(collect_less_often)
    return thresholds


def restore_collector(thresholds: tuple[int, int, int]) -> None:
    """Back as it was, so that a process that goes on (a test session) collects as usual."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
