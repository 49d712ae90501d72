"""The Right to Serve and Right to Request claims page: every claim of a place with its response
deadline, overdue ones flagged (in words and a red tag, never colour alone), for the board and
finance staff; a plain table, readable without JavaScript."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.projections import views
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, signed_in

# GOV.UK tag colours: red for what is late, blue while waiting, green once answered.
STATUS_TAGS = {
    "overdue": ("Overdue", "govuk-tag--red"),
    "awaiting": ("Awaiting response", "govuk-tag--blue"),
    "responded": ("Responded", "govuk-tag--green"),
}
KIND_NAMES = {"right_to_serve": "Right to Serve", "right_to_request": "Right to Request"}


def claim_rows(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claims as the page shows them: readable kind and status names, the tag's colour, and
    whether an answer came late."""
    rows = []
    for claim in claims:
        text, classes = STATUS_TAGS.get(claim["status"], (claim["status"], "govuk-tag--grey"))
        rows.append(
            {
                **claim,
                "kind_name": KIND_NAMES.get(claim["claim_kind"], claim["claim_kind"]),
                "status_text": text,
                "status_classes": classes,
                "answered_late": claim["status"] == "responded" and bool(claim.get("late")),
            }
        )
    return rows


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/claims")
    async def claims(place_id: str = place, page: Page = PAGE) -> Response:
        principal = signed_in(page)
        require(principal, Permission.READ_CLAIMS, place_id, what="the place's claims")
        async with page.gateway.pool.acquire() as connection:
            rows = claim_rows(await views.claims(connection, place_id))
        return render(
            page,
            "claims.html",
            title=f"Right to Serve and Right to Request claims in {place_id}",
            place_id=place_id,
            claims=rows,
            overdue_count=sum(1 for row in rows if row["status"] == "overdue"),
        )

    return routes
