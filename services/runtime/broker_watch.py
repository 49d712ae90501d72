"""Watches the broker for one service: whether it answers (for /readyz), and whether it lost
what this service's relay published there (a fresh in-memory broker, topics re-created).

A broker that lost data is refilled without anyone typing `singlepot republish`: the watch
re-creates missing topics and asks the active relay to publish again every outbox row it
published within the outbox retention (`OutboxRelay.replay_recent`); consumers' inboxes absorb
the duplicates. Loss is noticed two ways: the relay itself sees a partition hand out an offset
at or below one it already used, and this watch sees a partition end before, or hold another
event at, the offset where the relay last published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import OffsetOutOfRangeError, TopicAlreadyExistsError

from contracts import topics
from services.runtime import telemetry
from services.runtime.db import QUERIES
from services.runtime.outbox import EVENT_ID_HEADER, OutboxRelay
from services.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

FETCH_ATTEMPTS_MAX = 5


@dataclass(frozen=True)
class Position:
    """Where the relay last published on one partition, and which event it put there."""

    partition: TopicPartition
    offset: int
    event_id: UUID


@dataclass
class BrokerWatch:
    """Checks the broker every `broker_check_interval_s`; see the module's docstring."""

    settings: RuntimeSettings
    pool: asyncpg.Pool
    relay: OutboxRelay
    service: str
    reachable: bool = False
    last_error: str | None = None
    last_check_at: float = 0.0
    losses_detected: int = 0
    last_recovery_at: float | None = None
    # Held while topics are re-created and the replay asked for: the periodic check and the
    # relay's own check may find the same loss at once, and the relay must not publish
    # before a recovery under way has asked it to replay.
    _recovery_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def readiness(self) -> dict[str, object]:
        """The broker's part of /readyz: reachable at the last check, and that check recent."""
        stale = time.monotonic() - self.last_check_at > 3 * self.settings.broker_check_interval_s
        answer: dict[str, object] = {"broker": self.reachable and not stale}
        if self.last_error:
            answer["broker_error"] = self.last_error
        return answer

    async def run(self) -> None:
        """Check forever, one interval apart."""
        while True:
            await asyncio.sleep(self.settings.broker_check_interval_s)
            await self.check()

    async def check(self) -> None:
        """One periodic check: is the broker there, and does it still hold what the relay
        published?"""
        try:
            reason = await self._look()
        except Exception as error:  # any failure means "not reachable now"; the next check retries
            self.reachable = False
            self.last_error = f"{error.__class__.__name__}: {error}"[:500]
            self.relay.broker_may_have_changed()
            return
        self.reachable, self.last_error = True, None
        self.last_check_at = time.monotonic()
        reason = reason or self.relay.lost_data_reason
        if reason is not None and self.relay.active and not self._recovered_just_now():
            try:
                async with asyncio.timeout(self.settings.broker_check_timeout_s):
                    await self.recover(reason)
            except Exception as error:  # the broker went away again: the next check retries
                log.warning("%s could not re-create topics: %r", self.service, error)

    async def verify_before_publishing(self) -> None:
        """The relay's check before it publishes as the newly active relay, or after a failed
        attempt: when the broker lost data, topics are re-created and the relay replays before
        anything newer goes out. Raises when the broker does not answer (the relay retries).
        No ten-check gap here: this runs once per take-over or failure, never in a loop."""
        looked_at = time.monotonic()
        reason = await self._look()
        self.reachable, self.last_error = True, None
        self.last_check_at = time.monotonic()
        async with self._recovery_lock:
            # The periodic check may have found the same loss meanwhile (and asked for the
            # replay, which this relay makes before it publishes): one recovery is enough.
            recovered_since = self.last_recovery_at is not None and (
                self.last_recovery_at >= looked_at
            )
            replay_asked = self.relay.lost_data_reason is not None
            if reason is not None and not recovered_since and not replay_asked:
                async with asyncio.timeout(self.settings.broker_check_timeout_s):
                    await self._recover(reason)

    async def _look(self) -> str | None:
        """Why the broker lost what the relay published there, or None; raises when the broker
        does not answer in time. A reader of its own each time (no group, nothing committed):
        a client kept across a broker restart can keep stale state, and a check must never
        hang."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.settings.effective_bootstrap_servers(),
            client_id=f"{self.service}-broker-watch",
            enable_auto_commit=False,
            auto_offset_reset="none",
            request_timeout_ms=int(self.settings.broker_check_timeout_s * 1000),
        )
        try:
            async with asyncio.timeout(self.settings.broker_check_timeout_s):
                await reader.start()
                return await self._lost_data(reader)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.broker_check_timeout_s):
                    await reader.stop()

    async def missing_topics(self, subscriptions: Iterable[str]) -> bool:
        """True when the broker lacks one of these topics (named without the prefix), or does
        not answer (then the caller waits for the full check, as it would for a missing one)."""
        wanted = {self.settings.topic(topic) for topic in subscriptions}
        if not wanted:
            return False
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.settings.effective_bootstrap_servers(),
            client_id=f"{self.service}-broker-watch",
            request_timeout_ms=int(self.settings.broker_check_timeout_s * 1000),
        )
        try:
            async with asyncio.timeout(self.settings.broker_check_timeout_s):
                await reader.start()
                return not wanted <= await reader.topics()
        except Exception:  # not answering: the full check says why, and /readyz reports it
            return True
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.broker_check_timeout_s):
                    await reader.stop()

    def _recovered_just_now(self) -> bool:
        """A replay re-sends the whole retention window: never twice within ten checks, so
        that a broker answering oddly for a while cannot make the relay replay in a loop (a
        real second loss is still found, a few checks later, from the positions kept)."""
        gap_s = 10 * self.settings.broker_check_interval_s
        last = self.last_recovery_at
        return last is not None and time.monotonic() - last < gap_s

    async def recover(self, reason: str) -> None:
        """Re-create missing topics, then have the relay replay what the broker lost."""
        async with self._recovery_lock:
            await self._recover(reason)

    async def _recover(self, reason: str) -> None:
        self.last_recovery_at = time.monotonic()
        self.losses_detected += 1
        telemetry.instruments().broker_losses.add(1, {telemetry.SERVICE_ATTRIBUTE: self.service})
        log.warning("%s: the broker lost data (%s); replaying the outbox", self.service, reason)
        await create_missing_topics(
            self.settings.effective_bootstrap_servers(),
            [self.settings.topic(topic) for topic in topics.ALL_TOPICS],
            self.settings.topic_partitions,
            self.settings.topic_replication_factor,
        )
        self.relay.lost_data_reason = reason

    async def _lost_data(self, reader: AIOKafkaConsumer) -> str | None:
        # Asking for the topics also proves the broker answers.
        existing = await reader.topics()
        positions = await self._positions()
        if not positions:
            return None
        missing = sorted({p.partition.topic for p in positions} - existing)
        if missing:
            return f"topics {', '.join(missing)} are missing"
        found = await self._events_at(reader, positions)
        # A partition's reported end is a lower bound on some brokers (Tansu reports the
        # start of its last batch), and a busy broker may not hand over the record in time:
        # neither proves a loss. An empty partition where this service published does. A
        # partition refilled since is caught by the relay itself, whose next offset there
        # does not advance (`OutboxRelay._mark_published`). Measured: treating "ends before the
        # recorded offset" as a loss replayed 153,500 rows in the middle of a 200,000-request
        # benchmark.
        ends = await reader.end_offsets([p.partition for p in positions])
        for position in positions:
            where = f"{position.partition.topic}/{position.partition.partition}"
            event_id = found.get(position.partition)
            if event_id is not None and event_id != position.event_id:
                return f"{where} holds another event at offset {position.offset}"
            if event_id is None and ends.get(position.partition, 0) == 0:
                return (
                    f"{where} is empty, though this service published at offset {position.offset}"
                )
        return None

    async def _events_at(
        self, reader: AIOKafkaConsumer, positions: list[Position]
    ) -> dict[TopicPartition, UUID | None]:
        """The event id found at each recorded offset (None where none could be read)."""
        reader.assign([p.partition for p in positions])
        for position in positions:
            reader.seek(position.partition, position.offset)
        found: dict[TopicPartition, UUID | None] = {}
        # A few fetches at most: a record that will not come is inconclusive by itself.
        for _ in range(FETCH_ATTEMPTS_MAX):
            if len(found) == len(positions):
                break
            try:
                batches = await reader.getmany(timeout_ms=200, max_records=len(positions))
            except OffsetOutOfRangeError:
                break  # past the end, or removed by retention: the end offsets tell which
            for partition, records in batches.items():
                if records and partition not in found:
                    found[partition] = _event_id_at(records[0], positions, partition)
                    reader.pause(partition)
        reader.resume(*[p.partition for p in positions])
        return found

    async def _positions(self) -> list[Position]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(QUERIES.relay_positions)
        return [
            Position(TopicPartition(row["topic"], row["partition"]), row["offset"], row["event_id"])
            for row in rows
        ]


def _event_id_at(
    record: object, positions: list[Position], partition: TopicPartition
) -> UUID | None:
    """The event id of the record at the recorded offset; None when retention removed it."""
    wanted = next(p for p in positions if p.partition == partition)
    if getattr(record, "offset", None) != wanted.offset:
        return None
    headers = dict(getattr(record, "headers", ()) or ())
    try:
        return UUID(headers[EVENT_ID_HEADER].decode())
    except (KeyError, ValueError):
        return None


async def create_missing_topics(
    bootstrap_servers: str, names: Iterable[str], partitions: int, replication_factor: int
) -> list[str]:
    """Create the topics the broker lacks (another process may race us: that is fine)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, partitions, replication_factor) for name in missing]
                )
            log.warning("re-created missing topics %s", missing)
        return missing
    finally:
        await admin.close()
