"""Board pages: proposals with their votes, recusals, sign-off state and earmark refusals; a
member's vote; the accounting officer's sign-off. Each form sends the API's own command."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from contracts.allocations import CastVote, SignOffAllocation
from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.insights import api as insights
from services.gateway.intake import identifier_path
from services.gateway.monitoring import board as monitoring_duplicates
from services.gateway.problems import FieldProblem, field_problem
from services.gateway.projections import views
from services.gateway.web import outcomes
from services.gateway.web.commands import send
from services.gateway.web.rendering import Page, error_summary, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in, text

VOTES = ("for", "against", "abstain")


async def board_page(
    page: Page, place_id: str, problems: list[FieldProblem] | None = None, status: int = 200
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_BOARD, place_id, what="the board's proposals")
    async with page.gateway.pool.acquire() as connection:
        proposals = await views.board_proposals(connection, place_id)
        already_funded = await monitoring_duplicates.board_overlaps(connection, place_id)
        # The board's papers carry the liability forecast and the provider-share monitor, so a
        # proposal that would overcommit a year is flagged before anyone votes or signs off.
        papers = await insights.board_papers(connection, place_id, date.today())
    sent = page.request.query_params.get("sent", "")
    notice = {
        "vote": "Your vote was sent to the board.",
        "sign-off": "Your sign-off decision was sent.",
    }.get(sent)
    return render(
        page,
        "board.html",
        status,
        title=f"Board proposals of {place_id}",
        place_id=place_id,
        proposals=proposals,
        already_funded=already_funded,
        **papers,
        may_vote=principal.may(Permission.VOTE, place_id, None),
        may_sign_off=principal.may(Permission.SIGN_OFF_ALLOCATION, place_id, None),
        errors=error_summary(
            problems or [],
            {
                p.field: p.field
                for p in problems or []
                if p.field.startswith(("vote-", "decision-", "reason-"))
            },
        ),
        notice=notice,
        command_outcome=await outcomes.command_notice(page, notice),
    )


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place, allocation = identifier_path(), identifier_path()

    @routes.get("/places/{place_id}/board")
    async def board(place_id: str = place, page: Page = PAGE) -> Response:
        return await board_page(page, place_id)

    @routes.post("/places/{place_id}/board/allocations/{allocation_id}/votes")
    async def vote(
        place_id: str = place, allocation_id: str = allocation, page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        form = await read_form(page)
        choice, reason = text(form, "vote"), text(form, "reason")
        if choice not in VOTES:
            problems = [
                field_problem(f"vote-{allocation_id}", "one_of", "Choose for, against or abstain")
            ]
        else:
            problems = await send(
                page,
                principal,
                CastVote,
                {"vote": choice, **({"reason": reason} if reason else {})},
                {"place_id": place_id, "allocation_id": allocation_id},
                form.get("idempotency_key"),
            )
        if problems:
            return await board_page(page, place_id, problems, 422)
        command_id = outcomes.command_id_for(principal, form.get("idempotency_key"))
        target = outcomes.sent_to(f"/places/{place_id}/board", command_id, sent="vote")
        return RedirectResponse(target, status_code=303)

    @routes.post("/places/{place_id}/board/allocations/{allocation_id}/sign-off")
    async def sign_off(
        place_id: str = place, allocation_id: str = allocation, page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        form = await read_form(page)
        decision, reasons = text(form, "decision"), text(form, "reasons")
        if decision not in ("signed_off", "refused"):
            message = "Choose whether to sign off or refuse"
            problems = [field_problem(f"decision-{allocation_id}", "one_of", message)]
        else:
            body = {"decision": decision, **({"reasons": reasons} if reasons else {})}
            problems = await send(
                page,
                principal,
                SignOffAllocation,
                body,
                {"place_id": place_id, "allocation_id": allocation_id},
                form.get("idempotency_key"),
            )
        if problems:
            return await board_page(page, place_id, problems, 422)
        command_id = outcomes.command_id_for(principal, form.get("idempotency_key"))
        target = outcomes.sent_to(f"/places/{place_id}/board", command_id, sent="sign-off")
        return RedirectResponse(target, status_code=303)

    return routes
