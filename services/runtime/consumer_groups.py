"""A service's consumer groups: its own (`<name>`) over most of its topics, and a group of their
own (`<name>-<suffix>`) for topics whose messages must never wait behind another topic's fetch.

A batch subscriber handles a fetch topic by topic and commits after the whole fetch, so a topic
that carries a few urgent messages (the ledger's spend events, which departments wait for)
waits while a fetch full of another topic's events is handled: in the end-to-end benchmark the
gateway's spends waited minutes behind the outcomes service's events (bench/NOTES.md, "The
spend topic's own consumer group"). A topic in a group of its own is fetched, handled and
committed by its own subscriber, beside the others, through the same handler and inbox.

Moving a topic into a new group must not replay it from the start: the inbox that would catch
the repeats keeps only `inbox_retention_s` of event ids. So before the new group first
consumes, `hand_over_offsets` gives it the positions the service's own group had reached on
those topics (once: a group with positions of its own keeps them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeparateGroup:
    """Topics a service consumes in a consumer group of their own, named `<service>-<suffix>`."""

    suffix: str
    topics: tuple[str, ...]

    def name(self, service: str) -> str:
        """The group's service-level name (`settings.consumer_group` adds the prefix)."""
        return f"{service}-{self.suffix}"


def consumer_groups(
    service: str, subscriptions: tuple[str, ...], separate: tuple[SeparateGroup, ...]
) -> list[tuple[str, tuple[str, ...]]]:
    """Each consumer group's service-level name and topics: the service's own group first, over
    every subscription no separate group takes (none when they take them all)."""
    taken = {topic for group in separate for topic in group.topics}
    unknown = taken - set(subscriptions)
    assert not unknown, f"{service}: a separate group reads {unknown}, not among its subscriptions"
    own = tuple(topic for topic in subscriptions if topic not in taken)
    groups = [(service, own)] if own else []
    return groups + [(group.name(service), group.topics) for group in separate]


async def hand_over_offsets(
    settings: RuntimeSettings, from_group: str, to_group: str, topics: tuple[str, ...]
) -> int:
    """Give `to_group` the positions `from_group` committed on `topics`, for the partitions
    where `to_group` has none yet; returns how many were given. Group names are service-level.

    Two replicas starting at once may both do it: they commit the same positions. A replica
    that finds the group already running (its commit refused) leaves it as it is."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(to_group),
        enable_auto_commit=False,
    )
    source = AIOKafkaConsumer(
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(from_group),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        await source.start()
        partitions = [
            TopicPartition(topic, partition)
            for topic in (settings.topic(name) for name in topics)
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        given: dict[TopicPartition, int] = {}
        for partition in partitions:
            if await consumer.committed(partition) is not None:
                continue
            position = await source.committed(partition)
            if position is not None:
                given[partition] = position
        if given:
            consumer.assign(list(given))
            await consumer.commit(given)
            log.info("%s starts where %s was on %s", to_group, from_group, sorted(given))
        return len(given)
    except KafkaError as error:
        log.warning("%s: positions not handed over from %s: %r", to_group, from_group, error)
        return 0
    finally:
        await source.stop()
        await consumer.stop()
