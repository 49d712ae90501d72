"""The citizens' public page of a place, for anyone without signing in: its Citizens' Panel
(members' pseudonyms, meetings, every question to the board with its answer, late and overdue
answers flagged in words and a red tag), its scrutiny triggers with their supporters counted
(never who) and their state, and its Local Public Audit Committee: members, referrals with their
status, every adopted report with its recommendations, and the overdue recommendations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from services.gateway import domain
from services.gateway.citizens import db
from services.gateway.citizens import domain as domain_rules
from services.gateway.citizens.panel import PanelRefused, publish_answer, put_question
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.problems import FieldProblem, field_problem
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in, text

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
        return await citizens_page(page, place_id)

    @routes.post("/places/{place_id}/citizens/questions")
    async def ask(place_id: str = place, page: Page = PAGE) -> Response:
        """Finance staff or the chair put a member's question, asked at a meeting, to the
        board; the form's idempotency key names the question, so sending it twice asks once."""
        principal = signed_in(page)
        require(principal, Permission.MANAGE_PANEL, place_id, what="the place's panel")
        form = await read_form(page)
        key = text(form, "idempotency_key")
        if not key:
            return await citizens_page(page, place_id, [_lost_key()], 422)
        question_id = domain.command_event_id(principal.principal_id, key)
        try:
            async with page.gateway.pool.acquire() as connection:
                await put_question(
                    connection, place_id, question_id, text(form, "meeting_id"),
                    text(form, "asked_by"), text(form, "question"),
                )  # fmt: skip
        except PanelRefused as refusal:
            return await citizens_page(page, place_id, [_problem(refusal)], 422)
        return RedirectResponse(f"/places/{place_id}/citizens#question-{question_id}", 303)

    @routes.post("/places/{place_id}/citizens/questions/{question_id}/answer")
    async def answer(question_id: uuid.UUID, place_id: str = place, page: Page = PAGE) -> Response:
        """The chair or the accounting officer publishes the board's answer, dated today."""
        principal: Principal = signed_in(page)
        require(principal, Permission.ANSWER_PANEL, place_id, what="the panel's questions")
        form = await read_form(page)
        try:
            async with page.gateway.pool.acquire() as connection:
                await publish_answer(
                    connection, place_id, question_id, text(form, "answer"),
                    datetime.now(UTC).date(), principal.principal_id,
                )  # fmt: skip
        except PanelRefused as refusal:
            return await citizens_page(page, place_id, [_problem(refusal)], 422)
        return RedirectResponse(f"/places/{place_id}/citizens#question-{question_id}", 303)

    return routes


def _problem(refusal: PanelRefused) -> FieldProblem:
    return field_problem(refusal.field, refusal.rule, refusal.message)


def _lost_key() -> FieldProblem:
    message = "the form lost its idempotency key; reload the page and send it again"
    return field_problem("idempotency_key", "required", message)


async def citizens_page(
    page: Page, place_id: str, problems: list[FieldProblem] | None = None, status: int = 200
) -> Response:
    """The public page; the panel's forms show to those who may send them."""
    today = datetime.now(UTC).date()
    async with page.gateway.pool.acquire() as connection:
        rules = await db.place_rules(connection, place_id)
        panel = await db.panel(connection, place_id, today)
        triggers = await db.triggers(connection, place_id, datetime.now(UTC))
        committee = await db.committee(connection, place_id, today)
        budget_rounds = await db.pb_rounds(connection, place_id)
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
        budget_rounds=[
            {
                **found,
                "phase": domain_rules.round_phase(
                    db.round_dates(found), found["counted_at"] is not None, today
                ),
            }
            for found in budget_rounds
        ],
        late_count=sum(1 for q in questions if q["lateness"] in ("late", "overdue")),
        problems=problems or [],
        may_ask=_may(page, Permission.MANAGE_PANEL, place_id),
        may_answer=_may(page, Permission.ANSWER_PANEL, place_id),
        status_code=status,
    )


def _may(page: Page, permission: Permission, place_id: str) -> bool:
    return page.principal is not None and page.principal.may(permission, place_id, "")
