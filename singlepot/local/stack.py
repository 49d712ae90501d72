"""The local stack: embedded PostgreSQL plus the Tansu broker, and topic creation for both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError, for_code

from singlepot.local.broker import LocalBroker
from singlepot.local.errors import LocalStackError
from singlepot.local.postgres import EmbeddedPostgres

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


@dataclass
class LocalStack:
    """PostgreSQL (data in data_dir/"postgres") and the broker (log in data_dir/"broker.log").

    As a context manager it starts PostgreSQL then the broker, and stops them in reverse.
    The broker keeps nothing across restarts, so create topics after every start().
    """

    data_dir: Path
    postgres_port: int
    broker_port: int
    throwaway: bool = False
    host: str = "127.0.0.1"
    postgres: EmbeddedPostgres = field(init=False)
    broker: LocalBroker = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.postgres = EmbeddedPostgres(
            self.data_dir / "postgres", self.postgres_port, self.host, self.throwaway
        )
        self.broker = LocalBroker(
            self.broker_port, self.host, log_path=self.data_dir / "broker.log"
        )

    @property
    def database_url(self) -> str:
        return self.postgres.url

    @property
    def bootstrap_servers(self) -> str:
        return self.broker.bootstrap_servers

    def start(self) -> None:
        self.postgres.start()
        try:
            self.broker.start()
        except BaseException:
            self.postgres.stop()
            raise

    def stop(self) -> None:
        try:
            self.broker.stop()
        finally:
            self.postgres.stop()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def create_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout_s: float = 20,
) -> None:
    """Create the topics that do not exist yet and wait until metadata shows all of them.

    Idempotent: existing topics are left as they are (a different partition count is
    logged, not changed). Works the same against Tansu and Apache Kafka.
    """
    wanted = list(dict.fromkeys(topics))
    try:
        async with asyncio.timeout(timeout_s):
            admin = await _started_admin(bootstrap_servers)
            try:
                await _create_missing(admin, wanted, partitions, replication_factor)
                await _wait_until_visible(admin, wanted, partitions)
            finally:
                await admin.close()
    except TimeoutError as exc:
        raise LocalStackError(
            f"Creating topics {wanted} on {bootstrap_servers} did not finish within "
            f"{timeout_s:g} s; check that the broker is running there and try again."
        ) from exc


def create_topics_blocking(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout_s: float = 20,
) -> None:
    """create_topics for callers without an event loop (the CLI)."""
    asyncio.run(create_topics(bootstrap_servers, topics, partitions, replication_factor, timeout_s))


async def _started_admin(bootstrap_servers: str) -> AIOKafkaAdminClient:
    # A broker that has just opened its port may still refuse the first connection.
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            await asyncio.sleep(0.1)


async def _create_missing(
    admin: AIOKafkaAdminClient, wanted: list[str], partitions: int, replication_factor: int
) -> None:
    existing = set(await admin.list_topics())
    missing = [name for name in wanted if name not in existing]
    if not missing:
        return
    new_topics = [NewTopic(name, partitions, replication_factor) for name in missing]
    try:
        response = await admin.create_topics(new_topics)
    except TopicAlreadyExistsError:
        return  # another process created them between our list and create
    for topic, code, *message in response.topic_errors:
        if code not in (0, _TOPIC_ALREADY_EXISTS):
            detail = message[0] if message and message[0] else for_code(code).__name__
            raise LocalStackError(
                f"The broker refused to create topic {topic!r} with {partitions} partitions "
                f"({detail}); check the broker log and the topic settings."
            )
    log.info("Created topics %s with %d partitions", missing, partitions)


async def _wait_until_visible(
    admin: AIOKafkaAdminClient, wanted: list[str], partitions: int
) -> None:
    # Apache Kafka creates topics asynchronously: wait until metadata lists every partition.
    while True:
        described = {t["topic"]: t for t in await admin.describe_topics(wanted)}
        if all(_is_ready(described.get(name), name, partitions) for name in wanted):
            return
        await asyncio.sleep(0.05)


def _is_ready(topic: dict[str, Any] | None, name: str, partitions: int) -> bool:
    if topic is None or topic["error_code"] != 0 or not topic["partitions"]:
        return False
    if len(topic["partitions"]) != partitions:
        log.warning(
            "Topic %s already exists with %d partitions, not %d; left unchanged",
            name,
            len(topic["partitions"]),
            partitions,
        )
    return True
