"""Runs one service: its database pool, outbox relay, FastStream subscriber and health endpoints.

All four services share this host, so a reader who knows one service's lifecycle knows all.
A service supplies a `ServiceDefinition`; the host does the plumbing the same way for each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord, TopicPartition
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.runtime import telemetry
from services.runtime.batch_consumer import BatchConsumer, BatchHandler
from services.runtime.consumer import EventConsumer, Handler, IncomingMessage
from services.runtime.db import QUERIES, create_pool
from services.runtime.errors import ConfigurationError
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service itself: its name (also its schema and consumer group), its
    migrations, the topics it reads and the handler for each event type it cares about."""

    name: str
    migrations: Path
    subscriptions: tuple[str, ...]
    handlers: Mapping[type[Any], Handler]
    # Extra HTTP routes (the gateway's API); every service gets /healthz and /readyz.
    extend_http: Callable[[FastAPI, ServiceHost], None] | None = None
    # Long-running loops the service needs besides consuming (webhook delivery, clocks).
    # Each is started after the consumer and cancelled on stop; each must loop until cancelled.
    background_tasks: tuple[Callable[[ServiceHost], Awaitable[None]], ...] = ()
    # When set, the service consumes in batches (one transaction per partition fetch) through
    # this handler; `handlers` then name the event types it takes and serve the one-by-one
    # fallback for a batch that fails.
    batch_handler: BatchHandler | None = None


@dataclass
class ServiceHost:
    """The running parts of one service process."""

    definition: ServiceDefinition
    settings: RuntimeSettings
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    broker: KafkaBroker | None = None
    consumer: EventConsumer | None = None
    batch_consumer: BatchConsumer | None = None
    relay: OutboxRelay | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.definition.name

    async def start(self) -> None:
        """Connect to PostgreSQL and Kafka, then start relaying and consuming."""
        telemetry.configure(self.settings, service_name=f"singlepot-{self.name}")
        self.pool = await create_pool(
            self.settings.effective_database_url(), self.name, self.settings.database_pool_size_max
        )
        await self._check_migrated()
        self.producer = await _start_producer(self.settings, client_id=f"{self.name}-relay")
        self.relay = OutboxRelay(
            self.pool,
            self.producer,
            topic_prefix=self.settings.topic_prefix,
            batch_size_max=self.settings.outbox_batch_size_max,
            poll_interval_s=self.settings.outbox_poll_interval_s,
            service=self.name,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        if self.definition.subscriptions:
            self.consumer = EventConsumer(
                name=self.name,
                pool=self.pool,
                handlers=self.definition.handlers,
                attempts_max=self.settings.handler_attempts_max,
                retry_backoff_s=self.settings.handler_retry_backoff_s,
                infrastructure_retry_backoff_s=self.settings.infrastructure_retry_backoff_s,
            )
            if self.definition.batch_handler is not None:
                self.batch_consumer = _batch_consumer(
                    self.settings, self.definition, self.pool, self.consumer
                )
                self._tasks.append(
                    asyncio.create_task(self.batch_consumer.run(), name=f"{self.name}-batches")
                )
            else:
                self.broker = _subscribed_broker(
                    self.settings,
                    self.settings.consumer_group(self.name),
                    self.definition,
                    self.consumer,
                )
                await self.broker.start()
        for background_task in self.definition.background_tasks:
            name = f"{self.name}-{getattr(background_task, '__name__', 'background')}"
            self._tasks.append(asyncio.create_task(_as_none(background_task(self)), name=name))

    async def stop(self) -> None:
        """Stop consuming first, then relaying, then close connections."""
        if self.broker is not None:
            await self.broker.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await self.pool.close()

    async def readiness(self) -> dict[str, Any]:
        """Real checks: the database answers, the relay task lives, the consumer is connected."""
        checks: dict[str, Any] = {}
        try:
            assert self.pool is not None
            async with self.pool.acquire(timeout=2) as connection:
                checks["database"] = await connection.fetchval("SELECT 1") == 1
                checks["outbox_backlog"] = await connection.fetchval(
                    QUERIES.count_unpublished_outbox
                )
        except Exception as error:  # any failure here means "not ready", reported as such
            checks["database"] = False
            checks["database_error"] = str(error)
        checks["relay"] = bool(self._tasks) and not self._tasks[0].done()
        if self.consumer is not None:
            checks["consumer"] = (self.broker is not None and self.broker.running) or (
                self.batch_consumer is not None and self.batch_consumer.running
            )
            checks["consumed"] = vars(self.consumer.stats)
        checks["ready"] = bool(
            checks["database"] and checks["relay"] and checks.get("consumer", True)
        )
        return checks

    async def _check_migrated(self) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as connection:
            has_outbox = await connection.fetchval("SELECT to_regclass('outbox') IS NOT NULL")
        if not has_outbox:
            raise ConfigurationError(
                f"The {self.name} schema has no tables yet; run `singlepot migrate` first."
            )


async def _as_none(awaitable: Awaitable[None]) -> None:
    await awaitable


async def _start_producer(settings: RuntimeSettings, *, client_id: str) -> AIOKafkaProducer:
    # acks=all for durability; no idempotent producer (the local broker lacks it, and the
    # consumers' inboxes make redelivery harmless anyway).
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.effective_bootstrap_servers(),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
        # The relay sends hundreds of events at once: 1 MiB batches per partition instead of
        # the default 16 KiB cut the produce requests (and their round trips) by ~60x.
        max_batch_size=1_048_576,
    )
    try:
        await producer.start()
    except KafkaConnectionError:
        await producer.stop()
        raise ConfigurationError(
            f"Cannot reach Kafka at {settings.effective_bootstrap_servers()}; check "
            "KAFKA_BOOTSTRAP_SERVERS, or unset it to use the bundled broker."
        ) from None
    return producer


def _batch_consumer(
    settings: RuntimeSettings,
    definition: ServiceDefinition,
    pool: asyncpg.Pool,
    fallback: EventConsumer,
) -> BatchConsumer:
    assert definition.batch_handler is not None
    # Manual commits after each batch's transaction: at-least-once delivery, made effectively
    # once by the handler's own record of the event ids it has answered.
    consumer = AIOKafkaConsumer(
        *[settings.topic(topic) for topic in definition.subscriptions],
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(definition.name),
        client_id=f"{definition.name}-batches",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        max_poll_records=settings.consumer_batch_size_max,
    )
    return BatchConsumer(
        name=definition.name,
        pool=pool,
        handler=definition.batch_handler,
        event_types=frozenset(definition.handlers),
        fallback=fallback,
        consumer=consumer,
        batch_size_max=settings.consumer_batch_size_max,
        infrastructure_retry_backoff_s=settings.infrastructure_retry_backoff_s,
    )


def _subscribed_broker(
    settings: RuntimeSettings,
    group_id: str,
    definition: ServiceDefinition,
    consumer: EventConsumer,
) -> KafkaBroker:
    broker = KafkaBroker(
        settings.effective_bootstrap_servers(),
        client_id=group_id,
        enable_idempotence=False,
        log_level=logging.DEBUG,
    )
    # NACK_ON_ERROR: the offset is committed only after the handler returns; if it raises (the
    # database is away) the consumer seeks back and the message comes again. FastStream's
    # default would commit first (at-most-once), which loses money movements.
    subscriber = broker.subscriber(
        *[settings.topic(topic) for topic in definition.subscriptions],
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        decoder=_keep_raw_bytes,
    )

    @subscriber
    async def on_message(body: bytes, message: KafkaMessage) -> None:
        record = message.raw_message
        assert isinstance(record, ConsumerRecord), "a single-message subscriber gets one record"
        await consumer.handle(
            IncomingMessage(
                value=body,
                key=record.key,
                headers={name: value.decode(errors="replace") for name, value in record.headers},
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        )
        # The last fetch told the consumer where the partition ends; no extra request is made.
        if isinstance(message.consumer, AIOKafkaConsumer):
            partition = TopicPartition(record.topic, record.partition)
            telemetry.instruments().record_lag(
                definition.name,
                record.topic,
                record.partition,
                message.consumer.highwater(partition),
                record.offset + 1,
            )

    return broker


async def _keep_raw_bytes(message: Any) -> bytes:
    """The envelope is decoded by `contracts`, so FastStream must hand over the raw bytes."""
    return bytes(message.body)


def _is_probe(scope: Any) -> bool:
    return scope.get("path") in {"/healthz", "/readyz"}


def build_http_app(definition: ServiceDefinition, settings: RuntimeSettings) -> FastAPI:
    """The service's HTTP app: health endpoints, plus the gateway's API when it has one.
    Its lifespan starts and stops the service host."""
    host = ServiceHost(definition, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            await host.stop()

    # FastAPI traces requests natively when a tracer provider is installed; probes are left out.
    # No /docs or /redoc from FastAPI: they load Swagger UI from a CDN. The gateway serves
    # its own /docs from the installed package (services/gateway/security.py).
    app = FastAPI(
        title=f"singlepot {definition.name}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry={"exclude": _is_probe},
    )
    app.state.host = host

    @app.get("/healthz", tags=["health"])
    async def liveness() -> dict[str, str]:
        return {"status": "alive", "service": definition.name}

    @app.get("/readyz", tags=["health"])
    async def readiness() -> JSONResponse:
        checks = await host.readiness()
        return JSONResponse(checks, status_code=200 if checks["ready"] else 503)

    if definition.extend_http is not None:
        definition.extend_http(app, host)
    return app
