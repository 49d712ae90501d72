"""`singlepot up --replicas 2` behaves like the platform: a service killed with -9 between a
reservation request and its answer is restarted and the allocation is funded exactly once,
with nothing typed; a killed broker is restarted and what it lost is replayed; `status` shows
the restarts; Ctrl-C still stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.system.test_singlepot_up import (
    PYTHON,
    demo_token_header,
    environment,
    stop_with_ctrl_c,
    wait_for_text,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

A3_VALUE_PENCE = 400_000_00
RECOVERY_S = 30


def state(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "supervisor.json").read_text())


def process_named(data_dir: Path, name: str) -> dict[str, Any]:
    return next(p for p in state(data_dir)["services"] if p["name"] == name)


def wait_until(condition, timeout_s: float, what: str) -> float:
    """Wait for `condition()`; return the seconds it took."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout_s, f"{what}: not within {timeout_s} s"
        time.sleep(0.2)
    return time.monotonic() - began


def token_of(user: str, env: dict[str, str]) -> str:
    """A new API token for `user`, as an operator issues one (`singlepot users token`)."""
    issued = subprocess.run(
        [PYTHON, "-m", "singlepot", "users", "token", user],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return issued.stdout.strip().splitlines()[-1]


def allocation_status(gateway: str, headers: dict[str, str], allocation_id: str) -> str | None:
    allocations = httpx.get(
        f"{gateway}/api/v1/places/GM/allocations", headers=headers, timeout=5
    ).json()["allocations"]
    return next((a["status"] for a in allocations if a["allocation_id"] == allocation_id), None)


def reserved_pence(gateway: str, headers: dict[str, str]) -> int:
    pot = httpx.get(f"{gateway}/api/v1/places/GM/pot", headers=headers, timeout=5).json()
    return int(pot["totals"]["reserved_pence"])


def test_up_with_two_replicas_restarts_what_dies_and_nothing_needs_a_manual_step(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = environment(data_dir, SINGLEPOT_BROKER_CHECK_INTERVAL_S="1")
    gateway = f"http://127.0.0.1:{env['SINGLEPOT_GATEWAY_PORT']}"
    log = tmp_path / "up.log"
    up = subprocess.Popen(
        [PYTHON, "-m", "singlepot", "up", "--replicas", "2"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_text(log, "singlepot is up", up, timeout_s=240)
        headers = demo_token_header(tmp_path)
        names = {p["name"] for p in state(data_dir)["services"]}
        assert names == {
            f"{s}{r}" for s in ("ledger", "allocations", "outcomes", "gateway") for r in ("", "-2")
        }
        reserved_before = reserved_pence(gateway, headers)
        officer = {"Authorization": f"Bearer {token_of('officer-demo', env)}"}

        # Every ledger process dies (-9) before the reservation request reaches it.
        for name in ("ledger", "ledger-2"):
            os.kill(process_named(data_dir, name)["pid"], signal.SIGKILL)
        signed_off = httpx.post(
            f"{gateway}/api/v1/places/GM/allocations/A-3/sign-off",
            json={"decision": "signed_off"},
            headers={**officer, "Idempotency-Key": "drill-sign-off-A-3"},
            timeout=10,
        )
        assert signed_off.status_code == 202, signed_off.text
        wait_until(
            lambda: allocation_status(gateway, headers, "A-3") == "funded",
            RECOVERY_S,
            "A-3 funded after the ledger was killed",
        )
        assert reserved_pence(gateway, headers) == reserved_before + A3_VALUE_PENCE
        ledger = process_named(data_dir, "ledger")
        assert ledger["restarts"] == 1 and ledger["last_exit_code"] == -signal.SIGKILL
        assert "The ledger service exited with code -9; restarting it" in log.read_text()

        # The broker dies: it is restarted, its topics re-created, and the services say ready.
        os.kill(state(data_dir)["broker"]["pid"], signal.SIGKILL)
        wait_until(lambda: state(data_dir)["broker"]["restarts"] == 1, 20, "broker restarted")
        status = subprocess.run(
            [PYTHON, "-m", "singlepot", "status"], env=env, capture_output=True, text=True
        )
        try:
            wait_until(lambda: _all_ready(data_dir), 60, "every replica ready after the broker")
        except AssertionError as failure:
            raise AssertionError(f"{failure}; not ready: {NOT_READY}") from None
        assert "restarts 1, last exit code -9" in status.stdout
        assert reserved_pence(gateway, headers) == reserved_before + A3_VALUE_PENCE
    finally:
        exit_code = stop_with_ctrl_c(up)
    assert exit_code == 0
    assert "Stopped every process singlepot started." in log.read_text()
    assert not (data_dir / "supervisor.json").exists()


NOT_READY: dict[str, str] = {}


def _all_ready(data_dir: Path) -> bool:
    """Every replica answers ready; the last answers of those that did not are kept in
    NOT_READY, for the failure message."""
    NOT_READY.clear()
    for process in state(data_dir)["services"]:
        try:
            answer = httpx.get(f"http://127.0.0.1:{process['port']}/readyz", timeout=2)
            if answer.status_code != 200:
                NOT_READY[process["name"]] = answer.text
        except httpx.HTTPError as error:
            NOT_READY[process["name"]] = repr(error)
    return not NOT_READY
