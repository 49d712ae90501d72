"""The citizens' public page of a place, for anyone without signing in: its Citizens' Panel
(members' pseudonyms, meetings, every question to the board with its answer, late and overdue
answers flagged in words and a red tag), its scrutiny triggers with their supporters counted
(never who) and their state, and its Local Public Audit Committee: members, referrals with their
status, every adopted report with its recommendations, and the overdue recommendations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from services.gateway.citizens import db
from services.gateway.intake import identifier_path
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute

# GOV.UK tag colours: red for what is late, blue while waiting, green once answered in time.
LATENESS_TAGS = {
    "overdue": ("Overdue", "govuk-tag--red"),
    "late": ("Answered late", "govuk-tag--red"),
    "awaiting": ("Awaiting answer", "govuk-tag--blue"),
    "answered": ("Answered", "govuk-tag--green"),
}

TRIGGER_TAGS = {
    "open": ("Gathering support", "govuk-tag--blue"),
    "referred": ("Referred to the audit committee", "govuk-tag--green"),
    "expired": ("Expired", "govuk-tag--grey"),
}


def question_rows(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**question, "tag": LATENESS_TAGS[question["lateness"]]} for question in questions]


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/citizens")
    async def citizens(place_id: str = place, page: Page = PAGE) -> Response:
        today = datetime.now(UTC).date()
        async with page.gateway.pool.acquire() as connection:
            rules = await db.place_rules(connection, place_id)
            panel = await db.panel(connection, place_id, today)
            triggers = await db.triggers(connection, place_id, datetime.now(UTC))
            committee = await db.committee(connection, place_id, today)
        questions = question_rows(panel["questions"])
        return render(
            page,
            "citizens.html",
            title=f"Citizens in the loop: {place_id}",
            place_id=place_id,
            rules=rules,
            members=panel["members"],
            meetings=panel["meetings"],
            questions=questions,
            triggers=[{**t, "tag": TRIGGER_TAGS[t["state"]]} for t in triggers],
            committee=committee,
            late_count=sum(1 for q in questions if q["lateness"] in ("late", "overdue")),
        )

    return routes
