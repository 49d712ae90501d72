"""Grant monitoring over HTTP: programme staff agree a grant's measures and reporting schedule
and review reports; recipients send reports and claims on their own grants; programme then
finance staff approve claims; everyone with the right sees where reports stand, the reminders
due and the instalments held, with why. Answers are immediate (the room's own tables); what the
allocations service then does (a hold released, a claim paid) appears in the same views."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts import format_pounds
from services.gateway import problems
from services.gateway.domain import CLAIM_REVIEWS, Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.monitoring import db, domain, duplicates, service
from services.gateway.monitoring.domain import Measure, MonitoringRefused
from services.gateway.monitoring.requests import body_of

PLACE = "/api/v1/places/{place_id}"
GRANTS = f"{PLACE}/providers/{{provider_id}}/grants"
REPORT_NUMBER = Path(..., ge=1, le=domain.REPORTS_MAX, description="The report's number, from 1.")
RECEIVED = domain.RECEIVED
AS_OF = Query(None, description="The day to judge due dates by (default: today in the UK).")
Arguments = ParamSpec("Arguments")
Answer = TypeVar("Answer")


class MeasureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure_id: str = Field(max_length=64, description="e.g. families_supported")
    description: str = Field(max_length=500)
    target: int | None = Field(default=None, ge=0)
    unit: str = Field(default="", max_length=50)


class PlanBody(BaseModel):
    """A grant's agreed measures (from the mission and plan) and its reporting schedule."""

    model_config = ConfigDict(extra="forbid")

    measures: list[MeasureBody] = Field(max_length=domain.MEASURES_MAX)
    schedule: dict[str, Any] = Field(
        description='{"kind": "regular", "first_due_date", "every_months", "count"}, '
        '{"kind": "one_off", "due_date"} or {"kind": "milestones", "milestones": '
        '[{"name", "due_date"}]}'
    )
    paid_in_arrears: bool = Field(
        default=False, description="Paid by approved claims instead of instalments."
    )


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    figures: dict[str, Any] = Field(description="A whole-number figure per agreed measure.")
    narrative: str = Field(max_length=domain.NARRATIVE_LENGTH_MAX)
    attachments: list[str] = Field(default=[], max_length=domain.ATTACHMENTS_MAX)


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "request_changes"]
    note: str = Field(default="", max_length=domain.NOTE_LENGTH_MAX)


class ClaimBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    amount_pence: int = Field(description="What the recipient claims, in pence.")
    evidence: str = Field(max_length=domain.NARRATIVE_LENGTH_MAX)


class ClaimReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "request_changes"]
    note: str = Field(default="", max_length=domain.NOTE_LENGTH_MAX)


def refused(refusal: MonitoringRefused) -> problems.ProblemError:
    return problems.invalid(refusal.field, refusal.rule, str(refusal), refusal.status)


async def _decided(
    gateway: Gateway,
    command: Callable[Concatenate[Any, Arguments], Awaitable[Answer]],
    *arguments: Arguments.args,
    **named: Arguments.kwargs,
) -> Answer:
    """Run one of the room's commands (`service`) on a connection of its own; a refusal is
    answered as problem+json naming the field and the rule."""
    try:
        async with gateway.pool.acquire() as connection:
            return await command(connection, *arguments, **named)
    except MonitoringRefused as refusal:
        raise refused(refusal) from None


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["grant monitoring"],
        responses=problems.openapi_responses(400, 401, 403, 404, 409, 413, 422, 429),
        route_class=GuardedRoute,
    )
    place = identifier_path()

    @router.put(f"{PLACE}/allocations/{{allocation_id}}/monitoring")
    async def set_plan(
        request: Request,
        place_id: str = place,
        allocation_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Agree a grant's measures and reporting schedule (before its first report is sent)."""
        require(principal, Permission.SET_MONITORING, place_id)
        body = await body_of(gateway, request, PlanBody)
        measures = [Measure(**m.model_dump()) for m in body.measures]
        reports = await _decided(
            gateway,
            service.set_plan,
            place_id,
            allocation_id,
            measures,
            body.schedule,
            body.paid_in_arrears,
            principal.principal_id,
        )
        return {
            "place_id": place_id,
            "allocation_id": allocation_id,
            "status": "agreed",
            "reports": [r.__dict__ for r in reports],
        }

    @router.get(f"{PLACE}/monitoring")
    async def monitoring(
        place_id: str = place, as_of: date | None = AS_OF, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """Reports due, overdue and received per recipient, today's reminders, the instalments
        held with why, and the claims with where each stands."""
        require(principal, Permission.READ_MONITORING, place_id)
        day = as_of or service.today()
        async with gateway.pool.acquire() as connection:
            view = await place_view(gateway, connection, place_id, day)
        return {"place_id": place_id, "as_of": day, **view}

    @router.get(GRANTS)
    async def recipient_grants(
        place_id: str = place,
        provider_id: str = identifier_path(),
        as_of: date | None = AS_OF,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """A recipient's monitored grants: each report and where it stands, the instalments
        held and why, claims and what remains to claim."""
        require(principal, Permission.READ_MONITORING, place_id, provider_id)
        day = as_of or service.today()
        async with gateway.pool.acquire() as connection:
            grants = await recipient_view(connection, place_id, provider_id, day)
        return {"place_id": place_id, "recipient_id": provider_id, "as_of": day, "grants": grants}

    @router.post(f"{GRANTS}/{{allocation_id}}/reports/{{report_number}}")
    async def submit_report(
        request: Request,
        place_id: str = place,
        provider_id: str = identifier_path(),
        allocation_id: str = identifier_path(),
        report_number: int = REPORT_NUMBER,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Send a report: a figure for each agreed measure, a narrative, attachments by
        reference. Programme staff then accept it or return it for changes."""
        require(principal, Permission.SUBMIT_GRANT_REPORT, place_id, provider_id)
        body = await body_of(gateway, request, ReportBody)
        await _decided(
            gateway,
            service.submit_report,
            place_id,
            provider_id,
            allocation_id,
            report_number,
            body.figures,
            body.narrative,
            body.attachments,
            principal.principal_id,
        )
        return {
            "allocation_id": allocation_id,
            "report_number": report_number,
            "status": "received",
        }

    @router.post(f"{PLACE}/allocations/{{allocation_id}}/reports/{{report_number}}/review")
    async def review_report(
        request: Request,
        place_id: str = place,
        allocation_id: str = identifier_path(),
        report_number: int = REPORT_NUMBER,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Accept a received report (releasing any instalment it held) or return it with a
        note saying what to change (which holds the next instalment until it is accepted)."""
        require(principal, Permission.REVIEW_GRANT_REPORT, place_id)
        body = await body_of(gateway, request, ReviewBody)
        status = await _decided(
            gateway,
            service.review_report,
            place_id,
            allocation_id,
            report_number,
            body.decision,
            body.note,
            principal.principal_id,
        )
        return {"allocation_id": allocation_id, "report_number": report_number, "status": status}

    @router.post(f"{GRANTS}/{{allocation_id}}/claims")
    async def submit_claim(
        request: Request,
        place_id: str = place,
        provider_id: str = identifier_path(),
        allocation_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Claim on a grant paid in arrears, with evidence of spend; refused beyond what
        remains of the grant, with the figures."""
        require(principal, Permission.CLAIM_GRANT_PAYMENT, place_id, provider_id)
        body = await body_of(gateway, request, ClaimBody)
        left = await _decided(
            gateway,
            service.submit_claim,
            place_id,
            provider_id,
            allocation_id,
            body.claim_id,
            body.amount_pence,
            body.evidence,
            principal.principal_id,
        )
        return {
            "claim_id": body.claim_id,
            "status": domain.CLAIM_SUBMITTED,
            "remaining_after_pence": left,
            "remaining_after": format_pounds(left),
        }

    @router.get(f"{PLACE}/returns/duplicate-funding")
    async def duplicate_funding(place_id: str = place, principal: Principal = CALLER) -> Any:
        """Every organisation funded in this place that is funded more than once (by more than
        one allocation, place, department or stream), matched by org-id across places as the
        open data publishes them, with amounts and purposes side by side."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        async with gateway.pool.acquire() as connection:
            found = await db.fundings(connection)
        rows = [row for row in duplicates.report(found) if place_id in row["places"]]
        return {"place_id": place_id, "organisations": rows}

    for step, permission in CLAIM_REVIEWS.items():
        router.add_api_route(
            f"{PLACE}/grant-claims/{{claim_id}}/{step}-review",
            _claim_review(gateway, step, permission),
            methods=["POST"],
            name=f"{step}_review_claim",
        )
    return router


def _claim_review(gateway: Gateway, step: str, permission: Permission) -> Any:
    async def review_claim(
        request: Request,
        place_id: str = identifier_path(),
        claim_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        require(principal, permission, place_id)
        body = await body_of(gateway, request, ClaimReviewBody)
        status = await _decided(
            gateway,
            service.review_claim,
            place_id,
            claim_id,
            step,
            body.decision,
            body.note,
            principal.principal_id,
        )
        return {"claim_id": claim_id, "status": status, "status_text": domain.CLAIM_WORDS[status]}

    review_claim.__doc__ = (
        "Programme staff's review of a claim: approve (it goes to finance) or return it."
        if step == "programme"
        else "Finance's review of a claim programme staff approved: approve (its payment is "
        "requested) or return it."
    )
    review_claim.__name__ = f"{step}_review_claim"
    return review_claim


# --- Views shared with the pages ----------------------------------------------------------------


async def place_view(gateway: Gateway, connection: Any, place_id: str, day: date) -> dict[str, Any]:
    settings = gateway.settings
    reports = await db.reports_of_place(connection, place_id)
    reminders = [
        r
        for r in (
            domain.reminder(
                report,
                day,
                settings.gateway_monitoring_reminder_before_days,
                settings.gateway_monitoring_reminder_after_days,
            )
            for report in reports
        )
        if r is not None
    ]
    return {
        "recipients": domain.tally(reports, day),
        "reports": [_report(r, day) for r in reports],
        "reminders": [{**r.__dict__, "text": r.text} for r in reminders],
        "holds": await db.holds_of_place(connection, place_id),
        "claims": [_claim(c) for c in await db.claims_of_place(connection, place_id)],
    }


async def recipient_view(
    connection: Any, place_id: str, recipient_id: str, day: date
) -> list[dict[str, Any]]:
    holds = await db.holds_of_place(connection, place_id, recipient_id, with_released=True)
    claims = await db.claims_of_place(connection, place_id, recipient_id)
    grants = []
    for grant in await db.grants_of_recipient(connection, place_id, recipient_id):
        allocation_id = grant["allocation_id"]
        reports = await db.reports_of_grant(connection, place_id, allocation_id)
        remaining = await service.claim_remaining(connection, place_id, grant)
        grants.append(
            {
                "allocation_id": allocation_id,
                "purpose": grant["purpose"],
                "value_pence": grant["value_pence"],
                "paid_in_arrears": grant["paid_in_arrears"],
                "measures": [m.__dict__ for m in grant["measures"]],
                "reports": [_report(r, day) for r in reports],
                "holds": [h for h in holds if h["allocation_id"] == allocation_id],
                "claims": [_claim(c) for c in claims if c["allocation_id"] == allocation_id],
                "remaining_pence": remaining,
                "remaining": format_pounds(remaining),
            }
        )
    return grants


def _report(report: dict[str, Any], day: date) -> dict[str, Any]:
    standing = domain.standing(report["status"], report["due_date"], day)
    return {**report, "standing": standing, "standing_text": domain.STANDING_WORDS[standing]}


def _claim(claim: dict[str, Any]) -> dict[str, Any]:
    return {**claim, "status_text": domain.CLAIM_WORDS.get(claim["status"], claim["status"])}
