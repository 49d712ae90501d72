"""The demo on a warm start: the steps the gateway already accepted are not sent again (nor the
same unit-cost table as a new version), and a load cut short half-way is completed by the next
one (the whole system, as `up` starts it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.runtime.settings import RuntimeSettings
from singlepot.demo import ORGANISATIONS, PLACE_ID, demo_steps, load_demo
from singlepot.supervisor import LocalSystem, gateway_url
from tests.system.test_singlepot_up import environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Accepted before the load is cut short: the settlements, A-1's allocation, decision and sign-off.
STEPS_BEFORE_THE_CRASH = 6


class CutShort(Exception):
    """Stands for `up` dying while it loads the demo."""


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The whole local system on free ports, without the demo; yields the gateway's URL."""
    for name, value in environment(tmp_path / "data").items():
        monkeypatch.setenv(name, value)
    settings = RuntimeSettings()
    local = LocalSystem(settings, say=lambda _: None)
    try:
        local.start_infrastructure()
        local.prepare()
        local.start_all_services()
        yield gateway_url(settings)
    finally:
        local.stop()


def test_a_demo_cut_short_is_completed_and_a_complete_one_is_not_sent_again(system: str) -> None:
    sent: list[str] = []

    def crash_after_some_steps(path: str) -> None:
        sent.append(path)
        if len(sent) == STEPS_BEFORE_THE_CRASH:
            raise CutShort

    with pytest.raises(CutShort):
        load_demo(system, on_step=crash_after_some_steps)
    steps = demo_steps()
    assert sent == [step.path for step in steps[:STEPS_BEFORE_THE_CRASH]]

    resumed: list[str] = []
    pot = load_demo(system, on_step=resumed.append)
    assert resumed == [step.path for step in steps[STEPS_BEFORE_THE_CRASH:]]
    # The whole demo took effect, each settlement once: 2026-27 + 2027-28 of three departments.
    assert pot["totals"]["settled_pence"] == 50_700_000_00
    assert pot["totals"]["reserved_pence"] == 1_500_000_00 + 80_000_00
    assert pot["totals"]["paid_pence"] == 5_900_00 + 80_000_00

    headers = {"Authorization": f"Bearer {pot['demo_token']}"}
    unit_costs = f"{system}/api/v1/places/{PLACE_ID}/insights/unit-costs"
    loaded = httpx.get(unit_costs, headers=headers).json()

    again: list[str] = []
    pot_again = load_demo(system, on_step=again.append)
    assert again == []
    assert pot_again["totals"] == pot["totals"]
    headers = {"Authorization": f"Bearer {pot_again['demo_token']}"}
    # The same unit-cost table is not loaded again as a new version.
    assert httpx.get(unit_costs, headers=headers).json() == loaded
    assert loaded["version"] is not None and len(loaded["unit_costs"]) == 5
    organisations = httpx.get(f"{system}/api/v1/places/{PLACE_ID}/organisations", headers=headers)
    assert {o["organisation_ref"] for o in organisations.json()["organisations"]} == set(
        ORGANISATIONS
    )
    proposals = httpx.get(f"{system}/api/v1/places/{PLACE_ID}/board/proposals", headers=headers)
    status = {row["allocation_id"]: row["status"] for row in proposals.json()["proposals"]}
    assert status["A-2"] == "proposed" and status["A-3"] == "awaiting_sign_off"
