"""The public open-data endpoints: no sign-in, read-only, one place at a time. Each builds its
document from the gateway's read models on request (they are small: DOMAIN.md §6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.gateway import problems
from services.gateway.auth import Gateway, GuardedRoute
from services.gateway.intake import identifier_path
from services.gateway.opendata import db, indigo, ocds, threesixtygiving
from services.gateway.opendata.publishing import (
    LICENCE_NAME,
    LICENCE_URL,
    PUBLISHER_NAME,
    PlaceData,
    place_name,
)

PREFIX = "/open-data/places/{place_id}"
DATASETS = (
    ("360giving.json", "application/json", "Awards and payments, 360Giving grants package"),
    ("360giving.csv", "text/csv", "Awards and payments, 360Giving flat CSV"),
    ("ocds.json", "application/json", "Contracts, milestones and payments, OCDS release package"),
    ("indigo.json", "application/json", "Outcomes contracts, INDIGO project data"),
)
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The CSV"}
}


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["open data"], responses=problems.openapi_responses(422), route_class=GuardedRoute
    )
    place = identifier_path()

    async def load(place_id: str) -> PlaceData:
        if "\x00" in place_id:
            return PlaceData(place_id)  # PostgreSQL text cannot hold NUL: no such place
        async with gateway.pool.acquire() as connection:
            return await db.place_data(connection, place_id)

    @router.get(PREFIX)
    async def catalogue(request: Request, place_id: str = place) -> dict[str, Any]:
        """The place's open datasets, their licence (OGL v3) and publisher."""
        base = str(request.url).rstrip("/")
        return {
            "place_id": place_id,
            "publisher": {"name": PUBLISHER_NAME, "on_behalf_of": place_name(place_id)},
            "licence": {"name": LICENCE_NAME, "url": LICENCE_URL},
            "personal_data": "none: organisations and money only",
            "datasets": [
                {"name": name, "url": f"{base}/{name}", "media_type": media, "title": title}
                for name, media, title in DATASETS
            ],
        }

    @router.get(f"{PREFIX}/360giving.json")
    async def grants_json(place_id: str = place) -> JSONResponse:
        """Awards and payments as a 360Giving grants package."""
        data = await load(place_id)
        return JSONResponse(threesixtygiving.package(data, _now()))

    @router.get(f"{PREFIX}/360giving.csv", response_class=Response, responses=CSV_RESPONSE)
    async def grants_csv(place_id: str = place) -> Response:
        """Awards and payments in the 360Giving flat format."""
        data = await load(place_id)
        text = threesixtygiving.csv_text(threesixtygiving.csv_rows(data))
        # Only safe characters in a header: a place id is free text up to 128 characters.
        safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", place_id)
        disposition = f'attachment; filename="{safe_name}-360giving.csv"'
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )

    @router.get(f"{PREFIX}/ocds.json")
    async def releases(request: Request, place_id: str = place) -> JSONResponse:
        """Contracts, milestones and payments as an OCDS 1.1 release package."""
        data = await load(place_id)
        return JSONResponse(ocds.release_package(data, _now(), str(request.url)))

    @router.get(f"{PREFIX}/indigo.json")
    async def outcomes_contracts(place_id: str = place) -> JSONResponse:
        """Outcomes contracts as INDIGO project data."""
        data = await load(place_id)
        return JSONResponse(indigo.projects(data, _now()))

    return router


def _now() -> datetime:
    return datetime.now(UTC)
