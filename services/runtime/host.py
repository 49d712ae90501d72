"""Runs one service: its database pool, outbox relay, FastStream subscriber and health endpoints.

All four services share this host, so a reader who knows one service's lifecycle knows all.
A service supplies a `ServiceDefinition`; the host does the plumbing the same way for each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
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
from faststream.kafka.message import KafkaMessage

from services.runtime import telemetry
from services.runtime.batch_consumer import BatchHandler
from services.runtime.broker_watch import BrokerWatch
from services.runtime.consumer import EventConsumer, Handler, IncomingMessage
from services.runtime.consumer_groups import SeparateGroup, consumer_groups, hand_over_offsets
from services.runtime.db import (
    QUERIES,
    Migration,
    create_pool,
    migration_problems,
    migrations_for,
)
from services.runtime.errors import ConfigurationError
from services.runtime.faststream_batches import (
    batch_broker,
    restore_collector,
    tune_collector,
    whole_message,
)
from services.runtime.outbox import OutboxRelay, prune
from services.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

# Longest a stop waits for the pool's connections to come back before closing them anyway.
POOL_CLOSE_TIMEOUT_S = 10.0
# Longest a stop waits for a background task (relay, delivery, clocks) to end once cancelled,
# and how often it cancels again meanwhile.
TASK_STOP_TIMEOUT_S = 15.0
TASK_CANCEL_RETRY_S = 0.5
# Longest a stop waits for the consumer to leave its group and stop.
BROKER_STOP_TIMEOUT_S = 15.0


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
    # When set, the service consumes in batches (one transaction per topic per fetch) through
    # this handler; `handlers` then name the event types it takes and serve the one-by-one
    # fallback for a batch that fails.
    batch_handler: BatchHandler | None = None
    # True when the process answers requests whose latency matters on the consumer's event
    # loop (the gateway's API): the batch consumer then keeps the garbage collector's short
    # pauses rather than trading them for throughput (see `batch_consumer`).
    serves_latency_sensitive_requests: bool = False
    # Subscriptions consumed by a consumer group of their own, each by its own subscriber
    # beside the service's (so that their messages never wait behind another topic's fetch;
    # `consumer_groups`). Only with a `batch_handler`.
    separate_groups: tuple[SeparateGroup, ...] = ()


@dataclass
class ServiceHost:
    """The running parts of one service process."""

    definition: ServiceDefinition
    settings: RuntimeSettings
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    broker: KafkaBroker | None = None
    # The subscribers of the definition's separate groups, each with its own broker.
    separate_brokers: list[KafkaBroker] = field(default_factory=list)
    consumer: EventConsumer | None = None
    relay: OutboxRelay | None = None
    broker_watch: BrokerWatch | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _migrations: list[Migration] = field(default_factory=list)
    # The collector's thresholds before a batch consumer tuned them, to restore on stop.
    _collector_thresholds: tuple[int, int, int] | None = None
    _joining: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    async def start(self) -> None:
        """Connect to PostgreSQL and Kafka, then start relaying and consuming."""
        began = time.monotonic()
        telemetry.configure(self.settings, service_name=f"singlepot-{self.name}")
        self.pool = await create_pool(
            self.settings.effective_database_url(), self.name, self.settings.database_pool_size_max
        )
        await self._check_migrated()
        log.info("%s: database pool open after %.2f s", self.name, time.monotonic() - began)
        self._migrations = migrations_for(self.definition.migrations)
        self.producer = await _start_producer(self.settings, client_id=f"{self.name}-relay")
        self.relay = OutboxRelay(
            self.pool,
            self.producer,
            topic_prefix=self.settings.topic_prefix,
            batch_size_max=self.settings.outbox_batch_size_max,
            poll_interval_s=self.settings.outbox_poll_interval_s,
            service=self.name,
            standby_interval_s=self.settings.relay_standby_interval_s,
            replay_window_s=self.settings.outbox_retention_s,
        )
        self.broker_watch = BrokerWatch(self.settings, self.pool, self.relay, self.name)
        self.relay.verify_broker = self.broker_watch.verify_before_publishing
        self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        # The first check runs while the consumer connects and joins its group, and while the
        # service starts serving HTTP: on a warm `singlepot up` the fresh broker is empty, and
        # the check spends a second or more finding that out and asking for the replay, which
        # the join's own wait (about session_timeout_ms / 2) covers. /readyz says "broker" only
        # once a check has succeeded, so a start does not wait for it. Not when a subscribed
        # topic is missing: the check re-creates it first, as a consumer must never subscribe to
        # a missing topic.
        first_check = asyncio.create_task(self.broker_watch.check())
        if await self.broker_watch.missing_topics(self.definition.subscriptions):
            await first_check
        try:
            await self._start_consuming()
        except BaseException:
            await first_check
            raise
        log.info("%s: started after %.2f s", self.name, time.monotonic() - began)
        self._tasks.append(
            asyncio.create_task(self._watch_broker(first_check), name=f"{self.name}-broker-watch")
        )
        self._tasks.append(asyncio.create_task(self._prune_forever(), name=f"{self.name}-prune"))
        for background_task in self.definition.background_tasks:
            name = f"{self.name}-{getattr(background_task, '__name__', 'background')}"
            self._tasks.append(asyncio.create_task(_as_none(background_task(self)), name=name))

    async def _watch_broker(self, first_check: asyncio.Task[None]) -> None:
        """The periodic checks, from when the first one is done (cancelling this cancels it)."""
        assert self.broker_watch is not None
        await first_check
        await self.broker_watch.run()

    async def _start_consuming(self) -> None:
        """Subscribe to the definition's topics and start joining the consumer group (if it
        has any)."""
        assert self.pool is not None
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
                self._build_separate_groups(self.definition.batch_handler)
                own_topics = dict(self._consumer_groups()).get(self.name)
                assert own_topics, f"{self.name}: its own group must read a topic"
                self.broker = batch_broker(
                    self.settings,
                    self.name,
                    own_topics,
                    self.definition.batch_handler,
                    self.pool,
                    self.consumer,
                )
            else:
                assert not self.definition.separate_groups, "separate groups consume in batches"
                self.broker = _subscribed_broker(
                    self.settings,
                    self.settings.consumer_group(self.name),
                    self.definition,
                    self.consumer,
                )
            # Connecting proves the broker answers (a start fails as before when it does not);
            # joining the consumer group waits for the group's rebalance (half the session
            # timeout on the local broker), which the HTTP API and the relay need not wait for:
            # /readyz says "consumer" only once it has joined.
            await self.broker.connect()
            self._joining = asyncio.create_task(self._join(), name=f"{self.name}-join")

    async def _join(self) -> None:
        """Start the subscribers, every group at once (a separate group first given its
        starting positions), then tune the collector for the long run. At once, because each
        join waits out its group's rebalance (half the session timeout on the local broker):
        one after the other, the gateway's two groups took twice that (bench/NOTES.md,
        "Start-up wall clock")."""
        assert self.broker is not None
        began = time.monotonic()
        joins = [
            self._join_separate_group(group, broker)
            for group, broker in zip(
                self.definition.separate_groups, self.separate_brokers, strict=True
            )
        ]
        joins.append(self._until_done(self.broker.start, undo=self.broker.stop))
        await asyncio.gather(*joins)
        log.info("%s: joined its consumer groups in %.2f s", self.name, time.monotonic() - began)
        if self.definition.batch_handler is not None:
            self._collector_thresholds = tune_collector(
                collect_less_often=not self.definition.serves_latency_sensitive_requests
            )

    async def _join_separate_group(self, group: SeparateGroup, broker: KafkaBroker) -> None:
        """Give a separate group the positions the service's own group reached on its topics
        (if it has none), then join it. The own group, joining meanwhile, no longer reads those
        topics, so the positions handed over do not move under it."""
        await self._until_done(
            functools.partial(
                hand_over_offsets, self.settings, self.name, group.name(self.name), group.topics
            )
        )
        await self._until_done(broker.start, undo=broker.stop)

    async def _until_done(
        self,
        step: Callable[[], Awaitable[object]],
        undo: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Run one step of joining until it succeeds: the broker may go away between
        connecting and joining, and a join nobody retried would leave the service consuming
        nothing for good (undoing a half-done start first)."""
        while True:
            try:
                await step()
                return
            except Exception:
                log.exception("%s: the consumer could not join its group; retrying", self.name)
                if undo is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(undo(), BROKER_STOP_TIMEOUT_S)
                await asyncio.sleep(self.settings.infrastructure_retry_backoff_s)

    def _consumer_groups(self) -> list[tuple[str, tuple[str, ...]]]:
        return consumer_groups(
            self.name, self.definition.subscriptions, self.definition.separate_groups
        )

    def _build_separate_groups(self, handler: BatchHandler) -> None:
        """A batch subscriber per separate group, through the same handler, inbox and fallback;
        `_join` starts each where the service's own group was on its topics (if new to them)."""
        assert self.pool is not None and self.consumer is not None
        for group in self.definition.separate_groups:
            broker = batch_broker(
                self.settings,
                group.name(self.name),
                group.topics,
                handler,
                self.pool,
                self.consumer,
            )
            self.separate_brokers.append(broker)

    async def stop(self) -> None:
        """Stop consuming first, then relaying, then close connections."""
        if self._joining is not None:
            await _cancel_until_done(self._joining)
            self._joining = None
        for broker in [self.broker, *self.separate_brokers]:
            if broker is None:
                continue
            try:
                # aiokafka's stop leaves the group and may wait on a broker that went away;
                # bounded, so a stop never hangs (the broker drops the member on its own).
                await asyncio.wait_for(broker.stop(), BROKER_STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s: the consumer did not stop in time; going on", self.name)
        self.separate_brokers.clear()
        if self._collector_thresholds is not None:
            restore_collector(self._collector_thresholds)
            self._collector_thresholds = None
        for task in self._tasks:
            await _cancel_until_done(task)
        self._tasks.clear()
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            try:
                # close() waits for every connection to come back; one held on a link that
                # died without a word would make a stop hang, so it is bounded.
                await asyncio.wait_for(self.pool.close(), POOL_CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s: connections not returned in time; closing them", self.name)
                self.pool.terminate()

    async def readiness(self) -> dict[str, Any]:
        """Real checks: the database answers and its schema matches the code's migrations, the
        broker answers, the relay task lives and is not stuck, the consumer is connected."""
        checks: dict[str, Any] = {}
        try:
            await self._database_readiness(checks)
        except Exception as error:  # any failure here means "not ready", reported as such
            checks["database"] = False
            checks["database_error"] = str(error)
        checks["relay"] = bool(self._tasks) and not self._tasks[0].done()
        checks["relay_active"] = self.relay is not None and self.relay.active
        checks["relay_stuck"] = self._relay_stuck(checks.get("oldest_unpublished_s") or 0.0)
        if self.broker_watch is not None:
            checks.update(self.broker_watch.readiness())
        if self.consumer is not None:
            brokers = [self.broker, *self.separate_brokers]
            checks["consumer"] = all(broker is not None and broker.running for broker in brokers)
            checks["consumed"] = vars(self.consumer.stats)
        checks["ready"] = bool(
            checks["database"]
            and not checks.get("migration_problems")
            and checks["relay"]
            and not checks["relay_stuck"]
            and checks.get("broker", True)
            and checks.get("consumer", True)
        )
        return checks

    def _relay_stuck(self, oldest_unpublished_s: float) -> bool:
        """The active relay has rows older than the limit and sent nothing for as long (one
        draining a backlog after an outage is making progress, so it is not stuck)."""
        limit_s = self.settings.relay_stuck_after_s
        if self.relay is None or not self.relay.active or oldest_unpublished_s <= limit_s:
            return False
        return time.monotonic() - self.relay.last_progress_at > limit_s

    async def _database_readiness(self, checks: dict[str, Any]) -> None:
        assert self.pool is not None
        async with self.pool.acquire(timeout=2) as connection:
            checks["database"] = await connection.fetchval("SELECT 1") == 1
            checks["outbox_backlog"] = await connection.fetchval(QUERIES.count_unpublished_outbox)
            checks["oldest_unpublished_s"] = await connection.fetchval(
                QUERIES.oldest_unpublished_outbox_age_s
            )
            problems = await migration_problems(connection, self._migrations)
        if problems:
            checks["migration_problems"] = problems

    async def _prune_forever(self) -> None:
        """Keep the outbox and inbox bounded; the active relay's replica does it for all."""
        assert self.pool is not None and self.relay is not None
        while True:
            await asyncio.sleep(self.settings.prune_interval_s)
            if not self.relay.active:
                continue
            try:
                pruned = await prune(
                    self.pool,
                    outbox_retention_s=self.settings.outbox_retention_s,
                    inbox_retention_s=self.settings.inbox_retention_s,
                    batch_max=self.settings.prune_batch_size_max,
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("%s could not prune the outbox and inbox: %r", self.name, error)
                continue
            if pruned.outbox_rows or pruned.inbox_rows:
                log.info("%s pruned %s", self.name, pruned)

    async def _check_migrated(self) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as connection:
            has_outbox = await connection.fetchval("SELECT to_regclass('outbox') IS NOT NULL")
        if not has_outbox:
            raise ConfigurationError(
                f"The {self.name} schema has no tables yet; run `singlepot migrate` first."
            )


async def _cancel_until_done(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it, cancelling again while it runs on: in Python 3.11
    `asyncio.wait_for` swallows a cancellation that arrives just as what it waits for is done
    (the delivery loop's wake-up), and the loop then goes round again (a test session hung so,
    waiting for it). Bounded, so a stop never hangs."""
    deadline = time.monotonic() + TASK_STOP_TIMEOUT_S
    while not task.done():
        if time.monotonic() > deadline:
            log.warning(
                "%s did not stop within %.0f s; left running", task.get_name(), TASK_STOP_TIMEOUT_S
            )
            return
        task.cancel()
        await asyncio.wait({task}, timeout=TASK_CANCEL_RETRY_S)
    with contextlib.suppress(asyncio.CancelledError):
        await task


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
        linger_ms=settings.producer_linger_ms,
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
        decoder=whole_message,
    )

    @subscriber
    async def on_message(received: Any) -> None:
        message: KafkaMessage = received  # the decoder's output, not validated (`Any`)
        body = bytes(message.body)
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
    # its own /docs from the installed package (services/gateway/identity/security.py).
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
