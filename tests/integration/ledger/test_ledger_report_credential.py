"""The ledger's report routes are closed by default (issue 14, finding 3): with no credential
configured they refuse everyone; configured, they answer only callers sending it; the health
probes stay open."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from services.ledger.reports import add_report_routes
from services.ledger.settings import LedgerReportSettings
from services.runtime.db import create_pool

pytestmark = pytest.mark.integration

REPORTS = (
    "/ledger/v1/places/GM/audit-export",
    "/ledger/v1/places/GM/trial-balance/2026-27",
    "/ledger/v1/places/GM/streams",
    "/ledger/v1/places/GM/statements/providers/PROV-A",
    "/ledger/v1/places/GM/statements/departments/DWP",
    "/ledger/v1/places/GM/verification",
)


async def _answers(
    database_url: str, configured: str | None, headers: dict[str, str]
) -> dict[str, int]:
    pool = await create_pool(database_url, "ledger", 2)
    app = FastAPI()
    settings = LedgerReportSettings(ledger_report_token=configured)
    add_report_routes(app, SimpleNamespace(pool=pool), settings)  # type: ignore[arg-type]
    try:
        # A report's own failure is a 500 here, not an exception: only the door is judged.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as client:
            return {path: (await client.get(path, headers=headers)).status_code for path in REPORTS}
    finally:
        await pool.close()


async def test_with_no_credential_configured_every_report_is_refused(database_url) -> None:
    answers = await _answers(database_url, None, {"Authorization": "Bearer anything"})
    assert answers == dict.fromkeys(REPORTS, 403)


async def test_only_callers_with_the_configured_credential_get_reports(database_url) -> None:
    anonymous = await _answers(database_url, "s3cret", {})
    wrong = await _answers(database_url, "s3cret", {"Authorization": "Bearer guess"})
    right = await _answers(database_url, "s3cret", {"Authorization": "Bearer s3cret"})
    assert anonymous == wrong == dict.fromkeys(REPORTS, 401)
    assert not {path for path, status in right.items() if status in (401, 403)}
    assert right["/ledger/v1/places/GM/trial-balance/2026-27"] == 200


def test_every_service_but_the_gateway_listens_on_this_machine_only_by_default() -> None:
    from services.runtime.settings import RuntimeSettings

    assert RuntimeSettings().service_host == "127.0.0.1"
    assert RuntimeSettings(service_host="0.0.0.0").service_host == "0.0.0.0"  # noqa: S104
