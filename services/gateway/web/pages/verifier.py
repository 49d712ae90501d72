"""The verifier's page: the queue of sampled claims awaiting verification, and a pass / fail
form with reasons per claim that sends RecordVerificationDecision."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from contracts.outcomes import RecordVerificationDecision
from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.problems import FieldProblem, field_problem
from services.gateway.projections import views
from services.gateway.web import outcomes
from services.gateway.web.commands import send
from services.gateway.web.rendering import Page, error_summary, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in, text

CLAIMS_PER_FORM_MAX = 40


async def queue_page(
    page: Page, place_id: str, problems: list[FieldProblem] | None = None, status: int = 200
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_EVIDENCE, place_id, what="the verification queue")
    async with page.gateway.pool.acquire() as connection:
        queue = await views.verifier_queue(connection, place_id)
    notice = "Your decisions were sent." if page.request.query_params.get("sent") else None
    problems = problems or []
    return render(
        page,
        "verification.html",
        status,
        title=f"Evidence samples to verify in {place_id}",
        place_id=place_id,
        queue=queue,
        claims_max=CLAIMS_PER_FORM_MAX,
        may_verify=principal.may(Permission.VERIFY_EVIDENCE, place_id, None),
        errors=error_summary(problems, {p.field: p.field for p in problems}),
        notice=notice,
        command_outcome=await outcomes.command_notice(page, notice),
    )


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/verification")
    async def queue(place_id: str = place, page: Page = PAGE) -> Response:
        return await queue_page(page, place_id)

    @routes.post("/places/{place_id}/contracts/{contract_id}/verification")
    async def decide(
        place_id: str = place, contract_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        form = await read_form(page)
        count = min(
            int(text(form, "claims") or 0 if text(form, "claims").isdigit() else 0),
            CLAIMS_PER_FORM_MAX,
        )
        decisions, problems = [], []
        for index in range(count):
            verdict = text(form, f"verdict-{index}")
            reason = text(form, f"reason-{index}")
            if verdict not in ("pass", "fail"):
                message = f"Choose pass or fail for claim {index + 1}"
                problems.append(field_problem(f"verdict-{index}", "one_of", message))
                continue
            if verdict == "fail" and not reason:
                message = f"Give the reason claim {index + 1} failed"
                problems.append(field_problem(f"reason-{index}", "required", message))
            decisions.append(
                {
                    "participant_hash": text(form, f"participant_hash-{index}"),
                    "metric_id": text(form, f"metric_id-{index}"),
                    "passed": verdict == "pass",
                    **({"reason": reason} if reason else {}),
                }
            )
        if not problems:
            problems = await send(
                page,
                principal,
                RecordVerificationDecision,
                {"batch_id": text(form, "batch_id"), "decisions": decisions},
                {"place_id": place_id, "contract_id": contract_id},
                form.get("idempotency_key"),
            )
        if problems:
            return await queue_page(page, place_id, problems, 422)
        command_id = outcomes.command_id_for(principal, form.get("idempotency_key"))
        target = outcomes.sent_to(f"/places/{place_id}/verification", command_id, sent="1")
        return RedirectResponse(target, status_code=303)

    return routes
