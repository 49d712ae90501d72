"""A participatory budgeting round's public page, for anyone without signing in: the round's
budget, dates and rules, every proposal with its moderation and published reason, the vote
totals once voting has closed, and the result (winners, amounts, the rest released to the pot).
A signed-in resident sees the ballot form while voting is open."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Path
from starlette.responses import RedirectResponse, Response

from services.gateway.citizens import domain, rounds
from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.problems import FieldProblem, ProblemError, field_problem
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in

ROUND_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
MODERATION_TAGS = {
    domain.PENDING: ("Awaiting moderation", "govuk-tag--blue"),
    domain.ACCEPTED: ("Accepted", "govuk-tag--green"),
    domain.REJECTED: ("Rejected", "govuk-tag--grey"),
}
PHASE_WORDS = {
    domain.UPCOMING: "Not open yet",
    domain.PROPOSING: "Taking proposals",
    domain.MODERATING: "Proposals being checked",
    domain.VOTING: "Voting open",
    domain.CLOSED: "Voting closed, awaiting the count",
    domain.COUNTED: "Counted",
}


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/citizens/rounds/{round_id}")
    async def show(place_id: str = place, round_id: str = ROUND_ID, page: Page = PAGE) -> Response:
        return await round_page(page, place_id, round_id)

    @routes.post("/places/{place_id}/citizens/rounds/{round_id}/ballot")
    async def vote(place_id: str = place, round_id: str = ROUND_ID, page: Page = PAGE) -> Response:
        """A resident's one ballot: the ticked proposals each get one vote; only the
        resident's pseudonymous key is kept, to refuse a second ballot."""
        principal = signed_in(page)
        require(principal, Permission.TAKE_PART, place_id, what="participatory budgeting")
        form = await read_form(page)
        try:
            chosen = [uuid.UUID(str(value)) for value in form.getlist("proposal_ids")]
        except ValueError:
            chosen = []
        if not chosen:
            problem = field_problem("proposal_ids", "required", "tick at least one proposal")
            return await round_page(page, place_id, round_id, [problem], 422)
        voter = domain.resident_key(place_id, principal.principal_id)
        try:
            async with page.gateway.pool.acquire() as connection, connection.transaction():
                await rounds.cast_ballot(
                    connection, place_id, round_id, voter, chosen, datetime.now(UTC).date()
                )
        except rounds.RoundRefused as refusal:
            problem = field_problem(refusal.field, refusal.rule, refusal.message)
            return await round_page(page, place_id, round_id, [problem], 422)
        return RedirectResponse(f"/places/{place_id}/citizens/rounds/{round_id}#voted", 303)

    return routes


async def round_page(
    page: Page,
    place_id: str,
    round_id: str,
    problems: list[FieldProblem] | None = None,
    status: int = 200,
) -> Response:
    today = datetime.now(UTC).date()
    async with page.gateway.pool.acquire() as connection:
        try:
            found = await rounds.public_round(connection, place_id, round_id, today)
        except rounds.RoundRefused as refusal:
            raise ProblemError(404, "not-found", refusal.message) from None
        voted = page.principal is not None and await rounds.has_voted(
            connection,
            place_id,
            round_id,
            domain.resident_key(place_id, page.principal.principal_id),
        )
    may_vote = (
        found["phase"] == domain.VOTING
        and page.principal is not None
        and page.principal.may(Permission.TAKE_PART, place_id, "")
    )
    proposals = [{**p, "tag": MODERATION_TAGS[p["moderation"]]} for p in found["proposals"]]
    return render(
        page,
        "budget_round.html",
        title=found["title"],
        place_id=place_id,
        round=found,
        phase_words=PHASE_WORDS[found["phase"]],
        proposals=proposals,
        accepted=[p for p in proposals if p["moderation"] == domain.ACCEPTED],
        may_vote=may_vote and not voted,
        voted=voted,
        problems=problems or [],
        status_code=status,
    )
