"""`singlepot up` loads its command line before it starts anything, so what that loads is on
the way to the first service: not the service host, FastAPI or FastStream (about a second of
CPU on a 2-core machine), which only the service processes need (bench/NOTES.md, "Start-up
wall clock")."""

from __future__ import annotations

import subprocess
import sys

SERVICE_ONLY_MODULES = ("services.runtime.host", "fastapi", "faststream", "uvicorn")


def test_the_command_line_loads_no_service_host_nor_web_framework() -> None:
    probe = (
        "import sys, singlepot.cli; "
        f"print(','.join(m for m in {SERVICE_ONLY_MODULES!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
