"""`singlepot up` loads the demo place as soon as the gateway serves HTTP, while the services
still join their consumer groups, and says "up" only once every service is ready and the demo
is loaded; a failure of either is the start's failure."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from singlepot import cli
from singlepot.local.errors import LocalStackError

WAIT_S = 30.0  # a guard against a hang, never reached when the code is right


class StartingSystem:
    """Stands for `LocalSystem`: its services become ready only once the demo has begun, so a
    demo loaded after readiness never begins (the wait fails instead)."""

    def __init__(self, ready_fails: bool = False) -> None:
        self.steps: list[str] = []
        self.demo_began = threading.Event()
        self.ready_fails = ready_fails

    def spawn_all_services(self) -> None:
        self.steps.append("spawned")

    def wait_until_serving(self, name: str) -> None:
        self.steps.append(f"{name} serving")

    def wait_until_all_ready(self) -> None:
        if not self.demo_began.wait(WAIT_S):
            raise AssertionError("the services were waited for before the demo began")
        if self.ready_fails:
            raise LocalStackError("The ledger service exited with code 1 while starting")
        self.steps.append("all ready")


def demo(system: StartingSystem, fails: bool = False) -> Any:
    def load_demo(gateway: str) -> dict[str, Any]:
        system.steps.append(f"demo loading through {gateway}")
        system.demo_began.set()
        if fails:
            raise LocalStackError("The gateway refused demo step /api/v1/places/GM/settlements")
        return {"place_id": "GM"}

    return load_demo


def test_the_demo_is_loaded_while_the_services_become_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    system = StartingSystem()
    monkeypatch.setattr(cli, "load_demo", demo(system))
    pot = cli.start_services_and_demo(system, "http://gateway")  # type: ignore[arg-type]
    assert pot == {"place_id": "GM"}
    assert system.steps[:3] == ["spawned", "gateway serving", "demo loading through http://gateway"]
    assert system.steps[-1] == "all ready"


def test_a_demo_that_fails_fails_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    system = StartingSystem()
    monkeypatch.setattr(cli, "load_demo", demo(system, fails=True))
    with pytest.raises(LocalStackError, match="refused demo step"):
        cli.start_services_and_demo(system, "http://gateway")  # type: ignore[arg-type]


def test_a_service_that_fails_to_start_fails_the_start_whatever_the_demo_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    system = StartingSystem(ready_fails=True)
    monkeypatch.setattr(cli, "load_demo", demo(system))
    with pytest.raises(LocalStackError, match="ledger service exited"):
        cli.start_services_and_demo(system, "http://gateway")  # type: ignore[arg-type]


def test_without_the_demo_only_the_services_are_started(monkeypatch: pytest.MonkeyPatch) -> None:
    system = StartingSystem()
    system.demo_began.set()
    monkeypatch.setattr(cli, "load_demo", demo(system))
    assert cli.start_services_and_demo(system, None) is None  # type: ignore[arg-type]
    assert system.steps == ["spawned", "all ready"]
