"""The public open-data endpoints: no sign-in, read-only, one place at a time, with the HTTP
open-data users expect (ETag and Cache-Control, CORS for GET, HEAD, the licence as a Link
header on every file, 404 for a place nobody has heard of). Each document is built from the
gateway's read models on request (they are small: DOMAIN.md §6) and dated by the data's latest
change, so the same data gives the same bytes and the same ETag."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.gateway import problems
from services.gateway.identity.auth import Gateway, GuardedRoute
from services.gateway.intake import check_storable, identifier_path
from services.gateway.opendata import catalogue as dcat
from services.gateway.opendata import (
    db,
    history,
    history_db,
    indigo,
    records,
    threesixtygiving,
)
from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import (
    LICENCE_NAME,
    LICENCE_URL,
    PlaceData,
    Publisher,
    PublishingRefused,
    resolve_publisher,
)
from services.gateway.problems import ProblemError

PREFIX = "/open-data/places/{place_id}"
DATASETS = (
    ("360giving.json", "application/json", "Grants and payments, 360Giving 1.4 grants package"),
    ("360giving.csv", "text/csv", "Grants and payments, 360Giving flat CSV"),
    (
        "ocds.json",
        "application/json",
        "Outcomes contracts and payments, OCDS 1.1 release package: every release kept",
    ),
    (
        "ocds-records.json",
        "application/json",
        "Outcomes contracts, OCDS 1.1 record package: compiled and versioned releases",
    ),
    ("indigo.json", "application/json", "Outcomes contracts, INDIGO 4.1 project data"),
)
# Which datasets have something in them: a 360Giving package and an OCDS release package must
# hold at least one grant or release (both schemas say so), so an empty one is not published.
HOLDS: Mapping[str, Callable[[PlaceData], bool]] = {
    "360giving.json": lambda data: bool(data.grants()),
    "360giving.csv": lambda data: bool(data.grants()),
    "ocds.json": lambda data: bool(data.contracted()),
    "ocds-records.json": lambda data: bool(data.contracted()),
    "indigo.json": lambda data: bool(data.contracts),
}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The CSV"}
}
CACHE_CONTROL = "public, max-age=300"
# A document with no data in it is dated at this moment rather than "now", so it too is stable.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
Endpoint = Callable[..., Any]


ListedElsewhere = Callable[[str, str], Awaitable[list[dcat.Listed]]]
"""A room above this one that publishes a place's open data at its own addresses: given the
place and the site's root URL, the datasets the place's catalogue lists for it."""


def routes(gateway: Gateway, *elsewhere: ListedElsewhere) -> APIRouter:
    """The open-data routes; `elsewhere` lists the datasets rooms above publish themselves (the
    citizens' processes), handed in by `services/gateway/api.py`."""
    router = APIRouter(
        tags=["open data"],
        responses=problems.openapi_responses(404, 409, 422),
        route_class=GuardedRoute,
    )
    place = identifier_path()

    async def load(place_id: str, dataset: str | None = None) -> PlaceData:
        """The place's data; 404 for a place nobody has heard of, or a dataset with nothing in
        it yet; 409 for a place whose publishing identity is incomplete."""
        check_storable(place_id, "place_id")
        publishers = gateway.settings.opendata_publishers
        async with gateway.pool.acquire() as connection:
            if place_id not in publishers and not await db.place_known(connection, place_id):
                raise ProblemError(404, "not-found", f"no place {place_id} publishes open data")
            data = await db.place_data(connection, place_id, publisher=publisher_of(place_id))
        if dataset is not None and not HOLDS[dataset](data):
            raise ProblemError(404, "not-found", f"place {place_id} has published no {dataset} yet")
        return data

    def publisher_of(place_id: str) -> Callable[[Organisation | None], Publisher]:
        entry = gateway.settings.opendata_publishers.get(place_id)

        def resolve(authority: Organisation | None) -> Publisher:
            try:
                return resolve_publisher(
                    place_id,
                    entry.threesixtygiving_prefix if entry else None,
                    entry.ocds_prefix if entry else None,
                    entry.publication_policy_url if entry else None,
                    authority,
                    gateway.settings.opendata_demo,
                )
            except PublishingRefused as refusal:
                detail = str(refusal)
                raise problems.invalid("place_id", "publishing_identity", detail, 409) from None

        return resolve

    def get_and_head(path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """GET as documented, and HEAD the same (left out of the OpenAPI document, where it
        would repeat GET's operation)."""

        def register(endpoint: Endpoint) -> Endpoint:
            router.add_api_route(path, endpoint, methods=["GET"], **options)
            router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
            return endpoint

        return register

    @get_and_head("/open-data/places")
    async def places(request: Request) -> Response:
        """The catalogue of places: each place's publisher and the address of its datasets."""
        async with gateway.pool.acquire() as connection:
            found = await db.publishing_places(connection)
        known = {row["place_id"] for row in found}
        found += [
            {"place_id": place_id, "authority_name": None, "authority_org_id": None}
            for place_id in sorted(gateway.settings.opendata_publishers)
            if place_id not in known
        ]
        base = str(request.url).rstrip("/")
        document = {
            "licence": {"name": LICENCE_NAME, "url": LICENCE_URL},
            "places": [
                {
                    "place_id": row["place_id"],
                    "publisher": (
                        {"name": row["authority_name"], "org_id": row["authority_org_id"]}
                        if row["authority_name"]
                        else None
                    ),
                    "url": f"{base}/{quote(row['place_id'], safe='')}",
                }
                for row in found
            ],
        }
        return published(request, _json(document), "application/json")

    @get_and_head(PREFIX)
    async def catalogue(request: Request, place_id: str = place) -> Response:
        """The place's open datasets, their licence (OGL v3) and publisher."""
        data = await load(place_id)
        base = str(request.url).rstrip("/")
        held = [(name, media, title) for name, media, title in DATASETS if HOLDS[name](data)]
        issued = min((a.award_moment() for a in data.awarded()), default=_dated(data))
        root = str(request.base_url).rstrip("/")
        others = [item for listing in elsewhere for item in await listing(place_id, root)]
        document = dcat.document(data, base, held, issued, _dated(data), others)
        return published(request, _json(document), "application/json")

    @get_and_head(f"{PREFIX}/360giving.json")
    async def grants_json(request: Request, place_id: str = place) -> Response:
        """Grants and payments as a 360Giving grants package."""
        data = await load(place_id, "360giving.json")
        document = threesixtygiving.package(data, _dated(data), _source(request))
        return published(request, _json(document), "application/json")

    @get_and_head(f"{PREFIX}/360giving.csv", response_class=Response, responses=CSV_RESPONSE)
    async def grants_csv(request: Request, place_id: str = place) -> Response:
        """Grants and payments in the 360Giving flat format."""
        data = await load(place_id, "360giving.csv")
        text = threesixtygiving.csv_text(threesixtygiving.csv_rows(data, _source(request)))
        # Only safe characters in a header: a place id is free text up to 128 characters.
        safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", place_id)
        disposition = f'attachment; filename="{safe_name}-360giving.csv"'
        return published(
            request,
            text.encode("utf-8"),
            "text/csv; charset=utf-8",
            {"Content-Disposition": disposition},
        )

    @get_and_head(f"{PREFIX}/ocds.json")
    async def releases(request: Request, place_id: str = place) -> Response:
        """Outcomes contracts, milestones and payments as an OCDS 1.1 release package."""
        data = await load(place_id, "ocds.json")
        releases = await kept(data)
        published_at = history.last_released(releases, _dated(data))
        document = history.release_package_of(data, releases, published_at, str(request.url))
        return published(request, _json(document), "application/json")

    @get_and_head(f"{PREFIX}/ocds-records.json")
    async def records_of(request: Request, place_id: str = place) -> Response:
        """Outcomes contracts as an OCDS 1.1 record package: per contracting process its
        releases, compiled release and versioned release."""
        data = await load(place_id, "ocds-records.json")
        identity = data.identity()
        found = await kept(data)
        releases = [history.identified(release, identity) for release in found]
        releases_url = str(request.url).replace("/ocds-records.json", "/ocds.json")
        published_at = history.last_released(found, _dated(data))
        document = records.record_package(
            data, releases, published_at, str(request.url), releases_url
        )
        return published(request, _json(document), "application/json")

    async def kept(data: PlaceData) -> list[history.KeptRelease]:
        """The place's kept releases, after keeping one for any process that changed in a way
        no event told (an organisation registered or renamed) or was never released."""
        async with gateway.pool.acquire() as connection:
            await history_db.catch_up(connection, data, datetime.now(UTC))
            return await history_db.kept_releases(connection, data.place_id)

    @get_and_head(f"{PREFIX}/indigo.json")
    async def outcomes_contracts(request: Request, place_id: str = place) -> Response:
        """Outcomes contracts as INDIGO project data."""
        data = await load(place_id, "indigo.json")
        return published(request, _json(indigo.projects(data, _dated(data))), "application/json")

    return router


def published(
    request: Request, body: bytes, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """A file as open-data clients expect it: ETag (304 when it matches), caching, CORS, the
    licence, and HEAD answered with the headers alone."""
    etag = f'"{hashlib.sha256(body).hexdigest()}"'
    common = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag, Link, Content-Disposition",
        "Link": f'<{LICENCE_URL}>; rel="license"',
        **(headers or {}),
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=common)
    if request.method == "HEAD":
        return Response(
            status_code=200,
            headers={**common, "Content-Length": str(len(body))},
            media_type=media_type,
        )
    return Response(body, headers=common, media_type=media_type)


def _json(document: object) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _dated(data: PlaceData) -> datetime:
    return data.last_changed() or EPOCH


def _source(request: Request) -> str:
    """The data source each grant names: the place's catalogue."""
    return str(request.url).rsplit("/", 1)[0]
