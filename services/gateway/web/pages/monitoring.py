"""Grant monitoring's web pages: a recipient's grants (reports to send, instalments held and
why, claims and what remains) and the place's monitoring page for programme and finance staff
(where reports stand, reminders, holds, reports to review, claims to approve). Each form's
outcome is shown in the page's banner, or its problems beside the fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from services.gateway.domain import CLAIM_REVIEWS, Permission, Principal
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.monitoring import api, service
from services.gateway.monitoring.domain import MonitoringRefused
from services.gateway.problems import FieldProblem, field_problem
from services.gateway.web.rendering import Page, error_summary, field_errors, parse_pounds, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in, text

FIELDS = {
    "narrative": "narrative",
    "attachments": "attachments",
    "figures": "narrative",
    "report_number": "narrative",
    "claim_id": "claim_id",
    "amount_pence": "amount",
    "amount": "amount",
    "evidence": "evidence",
    "note": "note",
    "decision": "note",
}
DONE = {
    "report": "Your report was sent. Programme staff will review it.",
    "claim": "Your claim was sent. Programme staff review it first, then finance.",
    "accepted": "The report was accepted. Any instalment it held is released for payment.",
    "changes_requested": "The report was returned to the recipient with your note.",
    "programme_approved": "The claim was approved and passed to finance.",
    "approved": "The claim was approved; its payment is being requested from the ledger.",
    "claim_changes_requested": "The claim was returned to the recipient with your note.",
}


def _outcome(page: Page) -> dict[str, str] | None:
    done = DONE.get(page.request.query_params.get("done", ""))
    return {"type": "success", "title": "Done", "text": done} if done else None


def _problem(refusal: MonitoringRefused) -> list[FieldProblem]:
    return [field_problem(refusal.field, refusal.rule, str(refusal))]


async def recipient_page(
    page: Page,
    place_id: str,
    provider_id: str,
    problems: list[FieldProblem] = (),  # type: ignore[assignment]
    status: int = 200,
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_MONITORING, place_id, provider_id)
    async with page.gateway.pool.acquire() as connection:
        grants = await api.recipient_view(connection, place_id, provider_id, service.today())
    return render(
        page,
        "monitoring_recipient.html",
        status,
        title=f"Grants to {provider_id} in {place_id}",
        place_id=place_id,
        provider_id=provider_id,
        grants=grants,
        may_send=principal.may(Permission.SUBMIT_GRANT_REPORT, place_id, provider_id),
        may_claim=principal.may(Permission.CLAIM_GRANT_PAYMENT, place_id, provider_id),
        errors=error_summary(list(problems), FIELDS),
        field_errors=field_errors(list(problems), FIELDS),
        command_outcome=_outcome(page),
    )


async def place_page(
    page: Page,
    place_id: str,
    problems: list[FieldProblem] = (),  # type: ignore[assignment]
    status: int = 200,
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_MONITORING, place_id)
    async with page.gateway.pool.acquire() as connection:
        view = await api.place_view(page.gateway, connection, place_id, service.today())
    return render(
        page,
        "monitoring_place.html",
        status,
        title=f"Grant monitoring in {place_id}",
        place_id=place_id,
        view=view,
        may=_may(principal, place_id),
        errors=error_summary(list(problems), FIELDS),
        field_errors=field_errors(list(problems), FIELDS),
        command_outcome=_outcome(page),
    )


def _may(principal: Principal, place_id: str) -> dict[str, bool]:
    return {
        "review": principal.may(Permission.REVIEW_GRANT_REPORT, place_id, None),
        **{
            step: principal.may(permission, place_id, None)
            for step, permission in CLAIM_REVIEWS.items()
        },
    }


def _figures(form: FormData) -> dict[str, Any]:
    """`figure.<measure_id>` fields as whole numbers (anything else is left for the rule)."""
    figures: dict[str, Any] = {}
    for name in form:
        if name.startswith("figure."):
            value = text(form, name)
            figures[name.removeprefix("figure.")] = int(value) if value.isdigit() else value
    return figures


def _number(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 6 else 0


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/grants/{provider_id}")
    async def grants(
        place_id: str = place, provider_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        return await recipient_page(page, place_id, provider_id)

    @routes.post("/places/{place_id}/grants/{provider_id}/reports")
    async def send_report(
        place_id: str = place, provider_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        require(principal, Permission.SUBMIT_GRANT_REPORT, place_id, provider_id)
        form = await read_form(page)
        attachments = [line.strip() for line in text(form, "attachments").splitlines()]
        try:
            async with page.gateway.pool.acquire() as connection:
                await service.submit_report(
                    connection,
                    place_id,
                    provider_id,
                    text(form, "allocation_id"),
                    _number(text(form, "report_number")),
                    _figures(form),
                    text(form, "narrative"),
                    [a for a in attachments if a],
                    principal.principal_id,
                )
        except MonitoringRefused as refusal:
            return await recipient_page(page, place_id, provider_id, _problem(refusal), 422)
        return RedirectResponse(f"/places/{place_id}/grants/{provider_id}?done=report", 303)

    @routes.post("/places/{place_id}/grants/{provider_id}/claims")
    async def send_claim(
        place_id: str = place, provider_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        require(principal, Permission.CLAIM_GRANT_PAYMENT, place_id, provider_id)
        form = await read_form(page)
        try:
            amount_pence = parse_pounds(text(form, "amount"))
        except ValueError as error:
            problems = [field_problem("amount", "pounds", str(error))]
            return await recipient_page(page, place_id, provider_id, problems, 422)
        try:
            async with page.gateway.pool.acquire() as connection:
                await service.submit_claim(
                    connection,
                    place_id,
                    provider_id,
                    text(form, "allocation_id"),
                    text(form, "claim_id"),
                    amount_pence,
                    text(form, "evidence"),
                    principal.principal_id,
                )
        except MonitoringRefused as refusal:
            return await recipient_page(page, place_id, provider_id, _problem(refusal), 422)
        return RedirectResponse(f"/places/{place_id}/grants/{provider_id}?done=claim", 303)

    @routes.get("/places/{place_id}/monitoring")
    async def monitoring(place_id: str = place, page: Page = PAGE) -> Response:
        return await place_page(page, place_id)

    @routes.post("/places/{place_id}/monitoring/reviews")
    async def review_report(place_id: str = place, page: Page = PAGE) -> Response:
        principal = signed_in(page)
        require(principal, Permission.REVIEW_GRANT_REPORT, place_id)
        form = await read_form(page)
        try:
            async with page.gateway.pool.acquire() as connection:
                status = await service.review_report(
                    connection,
                    place_id,
                    text(form, "allocation_id"),
                    _number(text(form, "report_number")),
                    text(form, "decision"),
                    text(form, "note"),
                    principal.principal_id,
                )
        except MonitoringRefused as refusal:
            return await place_page(page, place_id, _problem(refusal), 422)
        return RedirectResponse(f"/places/{place_id}/monitoring?done={status}", 303)

    for step, permission in CLAIM_REVIEWS.items():
        routes.add_api_route(
            f"/places/{{place_id}}/monitoring/claims/{step}",
            _claim_review(step, permission),
            methods=["POST"],
        )
    return routes


def _claim_review(step: str, permission: Permission) -> Any:
    async def review_claim(place_id: str = identifier_path(), page: Page = PAGE) -> Response:
        principal = signed_in(page)
        require(principal, permission, place_id)
        form = await read_form(page)
        try:
            async with page.gateway.pool.acquire() as connection:
                status = await service.review_claim(
                    connection,
                    place_id,
                    text(form, "claim_id"),
                    step,
                    text(form, "decision"),
                    text(form, "note"),
                    principal.principal_id,
                )
        except MonitoringRefused as refusal:
            return await place_page(page, place_id, _problem(refusal), 422)
        done = "claim_changes_requested" if status == "changes_requested" else status
        return RedirectResponse(f"/places/{place_id}/monitoring?done={done}", 303)

    review_claim.__name__ = f"{step}_review_claim_page"
    return review_claim
