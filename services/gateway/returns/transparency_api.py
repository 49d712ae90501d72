"""The Transparency Code return over HTTP: finance staff download any quarter's CSV (a draft
while the quarter runs) with `read.returns`; the open-data route publishes a quarter once it has
ended, with the same headers as the other open-data files."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.opendata import db, transparency
from services.gateway.opendata.api import CSV_RESPONSE, published
from services.gateway.opendata.publishing import PlaceData
from services.gateway.problems import ProblemError
from services.gateway.returns import db as returns_db

YEAR = Path(..., pattern=r"^\d{4}-\d{2}$", description='A financial year, "2026-27".')
QUARTER = Path(..., pattern=r"^Q[1-4]$", description="Q1 (April to June) to Q4 (January to March).")


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        route_class=GuardedRoute, responses=problems.openapi_responses(401, 403, 404, 422)
    )
    place = identifier_path()

    async def load(place_id: str) -> tuple[PlaceData, dict[str, transparency.PaymentTax]]:
        check_storable(place_id, "place_id")
        async with gateway.pool.acquire() as connection:
            data = await db.place_data(connection, place_id)
            # The VAT and merchant category finance staff recorded on payments (returns room).
            tax = await returns_db.payment_tax_of_place(connection, place_id)
        return data, tax

    @router.get(
        "/api/v1/places/{place_id}/returns/transparency/{financial_year}/{quarter}",
        tags=["returns"],
        response_class=Response,
        responses=CSV_RESPONSE,
    )
    async def finance_copy(
        place_id: str = place,
        financial_year: str = YEAR,
        quarter: str = QUARTER,
        principal: Principal = CALLER,
    ) -> Response:
        """The quarter's Transparency Code return (every payment over £500, credit notes for
        recoveries, individuals redacted) as CSV; a draft while the quarter runs."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        wanted = _quarter(financial_year, quarter)
        data, tax = await load(place_id)
        text = transparency.csv_text(transparency.return_rows(data, wanted, tax))
        return Response(
            text, media_type="text/csv; charset=utf-8", headers=_named(place_id, wanted)
        )

    async def published_copy(
        request: Request, place_id: str = place, financial_year: str = YEAR, quarter: str = QUARTER
    ) -> Response:
        """The quarter's Transparency Code return, published once the quarter has ended."""
        wanted = _quarter(financial_year, quarter)
        if wanted.last_day >= datetime.now(UTC).date():
            detail = f"{wanted.label()} is published after it ends, on {wanted.last_day}"
            raise ProblemError(404, "not-found", detail)
        check_storable(place_id, "place_id")
        async with gateway.pool.acquire() as connection:
            known = await db.place_known(connection, place_id)
        if not known and place_id not in gateway.settings.opendata_publishers:
            raise ProblemError(404, "not-found", f"no place {place_id} publishes open data")
        data, tax = await load(place_id)
        text = transparency.csv_text(transparency.return_rows(data, wanted, tax))
        return published(
            request, text.encode("utf-8"), "text/csv; charset=utf-8", _named(place_id, wanted)
        )

    # HEAD as well as GET, as every open-data file answers (left out of the OpenAPI document).
    path = "/open-data/places/{place_id}/transparency/{financial_year}/{quarter}/transparency.csv"
    options: dict[str, Any] = {"response_class": Response, "tags": ["open data"]}
    router.add_api_route(path, published_copy, methods=["GET"], responses=CSV_RESPONSE, **options)
    router.add_api_route(path, published_copy, methods=["HEAD"], include_in_schema=False, **options)
    return router


def _quarter(financial_year: str, quarter: str) -> transparency.Quarter:
    try:
        return transparency.quarter_of(financial_year, quarter)
    except transparency.QuarterRefused as refusal:
        raise problems.invalid(refusal.field, "financial_quarter", str(refusal), 422) from None


def _named(place_id: str, quarter: transparency.Quarter) -> dict[str, Any]:
    # Only safe characters in a header: a place id is free text up to 128 characters.
    safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", place_id)
    filename = f"{safe_name}-transparency-{quarter.label()}.csv"
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
