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
from aiokafka.errors import TopicAlreadyExistsError

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
    _reader: AIOKafkaConsumer | None = field(default=None, repr=False)

    def readiness(self) -> dict[str, object]:
        """The broker's part of /readyz: reachable at the last check, and that check recent."""
        stale = time.monotonic() - self.last_check_at > 3 * self.settings.broker_check_interval_s
        answer: dict[str, object] = {"broker": self.reachable and not stale}
        if self.last_error:
            answer["broker_error"] = self.last_error
        return answer

    async def run(self) -> None:
        """Check forever, one interval apart; stop the reader when cancelled."""
        try:
            while True:
                await asyncio.sleep(self.settings.broker_check_interval_s)
                await self.check()
        finally:
            await self._close_reader()

    async def check(self) -> None:
        """One check: is the broker there, and does it still hold what the relay published?"""
        try:
            async with asyncio.timeout(self.settings.broker_check_timeout_s):
                reason = await self._lost_data()
        except Exception as error:  # any failure means "not reachable now"; the next check retries
            self.reachable = False
            self.last_error = f"{error.__class__.__name__}: {error}"[:500]
            await self._close_reader()
            return
        self.reachable, self.last_error = True, None
        self.last_check_at = time.monotonic()
        reason = reason or self.relay.lost_data_reason
        if reason is not None and self.relay.active:
            await self.recover(reason)

    async def recover(self, reason: str) -> None:
        """Re-create missing topics, then have the relay replay what the broker lost."""
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

    async def _lost_data(self) -> str | None:
        reader = await self._started_reader()
        # Asking for the topics also proves the broker answers.
        existing = await reader.topics()
        positions = await self._positions()
        if not positions:
            return None
        missing = sorted({p.partition.topic for p in positions} - existing)
        if missing:
            return f"topics {', '.join(missing)} are missing"
        ends = await reader.end_offsets([p.partition for p in positions])
        for position in positions:
            end = ends.get(position.partition, 0)
            if end <= position.offset:
                return (
                    f"{position.partition.topic}/{position.partition.partition} ends at offset "
                    f"{end}, before offset {position.offset} where this service published"
                )
        return await self._replaced_event(reader, positions)

    async def _replaced_event(
        self, reader: AIOKafkaConsumer, positions: list[Position]
    ) -> str | None:
        """Read the message at each recorded offset: another event there means the partition
        was emptied and refilled by other producers since (its end alone would not show it)."""
        reader.assign([p.partition for p in positions])
        for position in positions:
            reader.seek(position.partition, position.offset)
        found: dict[TopicPartition, UUID | None] = {}
        # A few fetches at most: a record that will not come is inconclusive, not a loss.
        for _ in range(FETCH_ATTEMPTS_MAX):
            if len(found) == len(positions):
                break
            batches = await reader.getmany(timeout_ms=200, max_records=len(positions))
            for partition, records in batches.items():
                if records and partition not in found:
                    found[partition] = _event_id_at(records[0], positions, partition)
                    reader.pause(partition)
        reader.resume(*[p.partition for p in positions])
        for position in positions:
            if found.get(position.partition) not in (None, position.event_id):
                return (
                    f"{position.partition.topic}/{position.partition.partition} holds another "
                    f"event at offset {position.offset} than the one this service published"
                )
        return None

    async def _positions(self) -> list[Position]:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(QUERIES.relay_positions)
        return [
            Position(TopicPartition(row["topic"], row["partition"]), row["offset"], row["event_id"])
            for row in rows
        ]

    async def _started_reader(self) -> AIOKafkaConsumer:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.settings.effective_bootstrap_servers(),
                client_id=f"{self.service}-broker-watch",
                enable_auto_commit=False,
                request_timeout_ms=int(self.settings.broker_check_timeout_s * 1000),
            )
            await reader.start()
            self._reader = reader
        return self._reader

    async def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.stop()


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
