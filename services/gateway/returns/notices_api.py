"""The payments notices over HTTP: finance staff and auditors read a notice (the draft with its
figures and their digest, or the approved notice with who approved it and when); the finance
director approves the draft's figures (`returns.approve`, a command with a status resource);
the approved notice is open data at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import problems
from services.gateway.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.domain import Permission, Principal, command_event_id
from services.gateway.intake import check_storable, identifier_path
from services.gateway.opendata.api import published
from services.gateway.problems import ProblemError
from services.gateway.returns import db, local_commands, notices, prompt_payment

NOTICE = Path(..., pattern=r"^payments-(compliance|over-30000)$", description="Which notice.")
YEAR = Path(..., pattern=r"^\d{4}-\d{2}$", description='A financial year, "2026-27".')
PERIOD = Path(
    ...,
    pattern=r"^(H[12]|Q[1-4])$",
    description="H1 or H2 for the compliance notice, Q1 to Q4 for the over-£30,000 notice.",
)
PATH = "/api/v1/places/{place_id}/returns/notices/{notice}/{financial_year}/{period}"
OPEN_PATH = (
    "/open-data/places/{place_id}/payment-notices/{notice}/{financial_year}/{period}/notice.json"
)
APPROVED = "PaymentsNoticeApproved"


class Approval(BaseModel):
    """The finance director's approval of the figures they read."""

    model_config = ConfigDict(extra="forbid")

    figures_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="The draft's `figures_digest` as read: the figures being approved.",
    )


REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": Approval.model_json_schema()}},
    }
}


async def draft_figures(
    connection: asyncpg.Connection, place_id: str, notice: notices.NoticePeriod
) -> dict[str, Any]:
    """The notice's figures as the read models have them now."""
    period = notice.as_period()
    payments = await db.contract_payments(connection, place_id, period)
    if notice.kind == notices.COMPLIANCE:
        return prompt_payment.compliance_notice(payments, period)
    names = await db.registered_names(connection, place_id)
    listed = [
        {**row, "supplier_name": names.get(row["provider_id"])}
        for row in prompt_payment.large_payments(payments, period)
    ]
    return {"period": period.label, "payments": listed}


def notice_body(
    place_id: str, notice: notices.NoticePeriod, figures: dict[str, Any], approved: Any
) -> dict[str, Any]:
    """A notice as the API answers it: a draft, or approved (with its approval)."""
    body: dict[str, Any] = {
        "place_id": place_id,
        "notice": notice.kind,
        "period": notice.label,
        "due_on": notice.due_on.isoformat(),
        "status": "draft" if approved is None else "approved",
    }
    if approved is None:
        return {**body, "figures": figures, "figures_digest": notices.figures_digest(figures)}
    return {
        **body,
        "figures": approved["figures"],
        "figures_digest": approved["figures_digest"],
        "approved_by": approved["approved_by"],
        "approved_at": approved["approved_at"].isoformat(),
        "published_at": approved["published_at"].isoformat(),
        "command_id": str(approved["command_id"]),
        "published_url": OPEN_PATH.format(
            place_id=place_id,
            notice=notice.kind,
            financial_year=notice.financial_year,
            period=notice.period_code,
        ),
    }


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        route_class=GuardedRoute, responses=problems.openapi_responses(401, 403, 422)
    )
    place = identifier_path()

    @router.get(PATH, tags=["returns"])
    async def read_notice(
        place_id: str = place,
        notice: str = NOTICE,
        financial_year: str = YEAR,
        period: str = PERIOD,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """A payments notice: the draft with its figures and their digest (what an approval
        names), or the notice as approved, with who approved it, when, and where it is
        published."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        wanted = _notice(notice, financial_year, period)
        async with gateway.pool.acquire() as connection:
            approved = await db.payment_notice(connection, place_id, *_key(wanted))
            figures = {} if approved else await draft_figures(connection, place_id, wanted)
        return notice_body(place_id, wanted, figures, approved)

    @router.post(
        f"{PATH}/approval",
        tags=["returns"],
        status_code=201,
        openapi_extra=REQUEST_BODY,
        responses=problems.openapi_responses(400, 409, 413),
    )
    async def approve_notice(
        request: Request,
        place_id: str = place,
        notice: str = NOTICE,
        financial_year: str = YEAR,
        period: str = PERIOD,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """The finance director approves the draft's figures, named by their digest; the
        notice is recorded as approved (who, when, the figures) and published as open data."""
        check_storable(place_id, "place_id")
        require(principal, Permission.APPROVE_RETURNS, place_id, what="the place's returns")
        wanted = _notice(notice, financial_year, period)
        body, approval = await local_commands.body_of(request, gateway, Approval)
        now = datetime.now(UTC)
        async with gateway.pool.acquire() as connection:
            approved = await db.payment_notice(connection, place_id, *_key(wanted))
            figures = await draft_figures(connection, place_id, wanted)
        digest = notices.figures_digest(figures)
        if not _replayed_key(approved, principal, idempotency_key):
            _check(wanted, now, approval.figures_digest, digest, approved is not None)
        record = {
            "figures": figures,
            "figures_digest": digest,
            "approved_by": principal.principal_id,
            "approved_at": now,
            "published_at": now,
        }

        async def approve(connection: asyncpg.Connection, command_id: Any) -> None:
            await db.approve_payment_notice(
                connection, place_id, *_key(wanted), figures, digest,
                principal.principal_id, now, command_id,
            )  # fmt: skip

        answer = notice_body(place_id, wanted, figures, record | {"command_id": ""})
        try:
            return await local_commands.decide_here(
                gateway,
                principal,
                request,
                key=idempotency_key,
                body=body,
                place_id=place_id,
                command_type=APPROVED,
                decided_at=now,
                made={"notice": wanted.kind, "period": wanted.label},
                answer={"notice": _without_command(answer)},
                effect=approve,
            )
        except asyncpg.UniqueViolationError:
            detail = f"the {wanted.kind} notice {wanted.label} is approved"
            raise problems.invalid("period", "approved_once", detail, 409) from None

    async def published_notice(
        request: Request,
        place_id: str = place,
        notice: str = NOTICE,
        financial_year: str = YEAR,
        period: str = PERIOD,
    ) -> Response:
        """An approved payments notice, as published."""
        check_storable(place_id, "place_id")
        wanted = _notice(notice, financial_year, period)
        async with gateway.pool.acquire() as connection:
            approved = await db.payment_notice(connection, place_id, *_key(wanted))
        if approved is None:
            raise ProblemError(404, "not-found", f"{wanted.kind} {wanted.label} is not published")
        document = notice_body(place_id, wanted, {}, approved)
        document.pop("command_id")
        text = json.dumps(document, sort_keys=True, indent=1)
        return published(request, text.encode("utf-8"), "application/json")

    options: dict[str, Any] = {"response_class": Response, "tags": ["open data"]}
    router.add_api_route(OPEN_PATH, published_notice, methods=["GET"], **options)
    router.add_api_route(
        OPEN_PATH, published_notice, methods=["HEAD"], include_in_schema=False, **options
    )
    return router


def _notice(notice: str, financial_year: str, period: str) -> notices.NoticePeriod:
    try:
        return notices.notice_period(notice, financial_year, period)
    except notices.NoticeRefused as refusal:
        raise problems.invalid(refusal.field, refusal.rule, str(refusal), refusal.status) from None


def _check(
    wanted: notices.NoticePeriod, now: datetime, read: str, drafted: str, done: bool
) -> None:
    try:
        notices.check_approval(wanted, now.date(), read, drafted, done)
    except notices.NoticeRefused as refusal:
        raise problems.invalid(refusal.field, refusal.rule, str(refusal), refusal.status) from None


def _replayed_key(approved: Any, principal: Principal, key: str) -> bool:
    """Whether this request repeats the one that approved the notice (its answer is replayed)."""
    return approved is not None and approved["command_id"] == command_event_id(
        principal.principal_id, key
    )


def _key(notice: notices.NoticePeriod) -> tuple[str, str, str]:
    return notice.kind, notice.financial_year, notice.period_code


def _without_command(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "command_id"}
