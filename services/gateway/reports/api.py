"""The ledger's reports for auditors and finance staff, through the gateway: the audit export, a
year's trial balance and balances as at a date of a place, behind the gateway's own permission
check (`read.audit`, the auditor's; `read.balances`, finance staff's and auditors'), fetched from
the ledger's report port with the service credential. The ledger's port itself answers nobody
else (see `services/ledger/reports.py`). The routes are offered only by a gateway that holds that
credential (`SINGLEPOT_LEDGER_REPORT_TOKEN`)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.problems import ProblemError

YEAR = Path(..., pattern=r"^\d{4}-\d{2}$", description='A financial year, "2026-27".')


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}",
        tags=["ledger"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422, 429, 502),
    )
    place = identifier_path()

    @router.get("/audit-export", response_class=StreamingResponse)
    async def audit_export(place_id: str = place, principal: Principal = CALLER) -> Any:
        """The place's whole transfer log with its hash chain, as JSON Lines
        (docs/audit-export.md), for `tools/verify_audit.py`; auditors only."""
        require(principal, Permission.READ_AUDIT, place_id, what="the audit export")
        return await _relayed(gateway, f"/ledger/v1/places/{quote(place_id, safe='')}/audit-export")

    @router.get("/trial-balance/{financial_year}", response_class=StreamingResponse)
    async def trial_balance(
        place_id: str = place, financial_year: str = YEAR, principal: Principal = CALLER
    ) -> Any:
        """Every ledger account's balance of the place in the year, with debits and credits;
        auditors only."""
        require(principal, Permission.READ_AUDIT, place_id, what="the trial balance")
        path = f"/ledger/v1/places/{quote(place_id, safe='')}/trial-balance/{financial_year}"
        return await _relayed(gateway, path)

    @router.get("/balances-as-at", response_class=StreamingResponse)
    async def balances_as_at(
        place_id: str = place,
        date: date = Query(..., description="The day the balances are as at (its end, UTC)."),
        by: Literal["effective", "recorded"] = Query("effective"),
        account: str | None = Query(None, max_length=400),
        department_code: str | None = Query(None, max_length=128),
        funding_stream_code: str | None = Query(None, max_length=128),
        allocation_id: str | None = Query(None, max_length=128),
        principal: Principal = CALLER,
    ) -> Any:
        """Balances as at a date, by effective or recorded date, for any account, stream,
        department or allocation, naming the chain position (sequence and hash) they were
        computed to; finance staff and auditors."""
        require(principal, Permission.READ_BALANCES, place_id, what="balances as at a date")
        asked = {
            "date": date.isoformat(),
            "by": by,
            "account": account,
            "department_code": department_code,
            "funding_stream_code": funding_stream_code,
            "allocation_id": allocation_id,
        }
        query = urlencode({name: value for name, value in asked.items() if value is not None})
        path = f"/ledger/v1/places/{quote(place_id, safe='')}/balances-as-at?{query}"
        return await _relayed(gateway, path)

    return router


async def _relayed(gateway: Gateway, path: str) -> StreamingResponse:
    """The ledger's answer, streamed through as it arrives; 502 when the ledger cannot be
    reached or refuses."""
    settings = gateway.settings
    assert settings.ledger_report_token is not None, "mounted only with the credential"
    client = httpx.AsyncClient(base_url=settings.gateway_ledger_url, timeout=30, trust_env=False)
    token = settings.ledger_report_token.get_secret_value()
    request = client.build_request("GET", path, headers={"Authorization": f"Bearer {token}"})
    try:
        answer = await client.send(request, stream=True)
    except httpx.HTTPError as error:
        await client.aclose()
        raise _unavailable(502, f"the ledger could not be reached: {error}") from None
    if answer.status_code != 200:
        await answer.aclose()
        await client.aclose()
        raise _unavailable(502, f"the ledger answered {answer.status_code}")

    async def close() -> None:
        await answer.aclose()
        await client.aclose()

    return StreamingResponse(
        answer.aiter_raw(),
        media_type=answer.headers.get("content-type", "application/json"),
        background=BackgroundTask(close),
    )


def _unavailable(status: int, detail: str) -> ProblemError:
    return ProblemError(
        status,
        "ledger-unavailable",
        detail,
        errors=[problems.field_problem("ledger", "reachable", detail)],
    )
