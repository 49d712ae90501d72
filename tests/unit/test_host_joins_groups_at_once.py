"""A service with a consumer group of its own for some topics (the gateway's spend group) joins
all its groups at once: each join waits out the group's rebalance, so one after the other
they made the gateway's start twice as long. A separate group is still given its starting
positions before it joins."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.runtime import host
from services.runtime.consumer_groups import SeparateGroup
from services.runtime.settings import RuntimeSettings


class JoiningBroker:
    """Stands for a FastStream broker whose start is a group join: it finishes only once every
    group of the service is joining (a barrier), so joining one after another never finishes."""

    def __init__(self, name: str, steps: list[str], barrier: asyncio.Barrier) -> None:
        self.name, self.steps, self.barrier = name, steps, barrier

    async def start(self) -> None:
        self.steps.append(f"{self.name} joining")
        await self.barrier.wait()
        self.steps.append(f"{self.name} joined")

    async def stop(self) -> None:
        self.steps.append(f"{self.name} stopped")


async def test_every_group_joins_at_once_and_a_separate_group_gets_its_positions_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[str] = []

    async def hand_over_offsets(
        settings: RuntimeSettings, from_group: str, to_group: str, topics: tuple[str, ...]
    ) -> int:
        steps.append(f"{to_group} given the positions of {from_group} on {', '.join(topics)}")
        return 1

    monkeypatch.setattr(host, "hand_over_offsets", hand_over_offsets)
    spend = SeparateGroup("spend", ("ledger.spend.v1",))
    definition = host.ServiceDefinition(
        "gateway",
        Path("."),
        subscriptions=("ledger.results.v1", "ledger.spend.v1"),
        handlers={},
        separate_groups=(spend,),
    )
    service = host.ServiceHost(definition, RuntimeSettings())
    barrier = asyncio.Barrier(2)
    service.broker = JoiningBroker("gateway", steps, barrier)  # type: ignore[assignment]
    service.separate_brokers = [JoiningBroker("gateway-spend", steps, barrier)]  # type: ignore[list-item]

    async with asyncio.timeout(10):  # joined one after the other, the barrier never opens
        await service._join()

    assert steps.index("gateway-spend given the positions of gateway on ledger.spend.v1") < (
        steps.index("gateway-spend joining")
    )
    assert set(steps[-2:]) == {"gateway joined", "gateway-spend joined"}
    assert "gateway stopped" not in steps and "gateway-spend stopped" not in steps
