"""The supervisor restarts a service process that exits, with back-off, saying each exit code,
and gives up with the reason after a bounded number of quick restarts (a crash loop)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.runtime.settings import RuntimeSettings
from singlepot.local.errors import LocalStackError
from singlepot.local.ports import free_port
from singlepot.supervisor import LocalSystem

pytestmark = pytest.mark.integration


def test_a_service_that_keeps_exiting_is_restarted_with_back_off_then_given_up_on(
    tmp_path: Path,
) -> None:
    # Nothing listens on this port: `singlepot serve ledger` fails to start (exit code 3).
    settings = RuntimeSettings(
        database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        kafka_bootstrap_servers=f"127.0.0.1:{free_port()}",
        data_dir=tmp_path,
        ledger_health_port=free_port(),
        restart_backoff_s=0.1,
        restarts_quick_max=2,
    )
    said: list[str] = []
    system = LocalSystem(settings, replicas=1, say=said.append)
    system.log_dir.mkdir(parents=True)
    system.start_service("ledger")
    try:
        with pytest.raises(LocalStackError, match="exited 3 times within 60 s") as given_up:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                system.supervise()
                time.sleep(0.05)
    finally:
        system.stop()
    assert "last exit code 3" in str(given_up.value)
    assert said == [
        "The ledger service exited with code 3; restarting it in 0.1 s (quick restart 1 of 2)",
        "The ledger service exited with code 3; restarting it in 0.2 s (quick restart 2 of 2)",
    ]
