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
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, financial_year_path, identifier_path
from services.gateway.opendata.api import published
from services.gateway.problems import ProblemError
from services.gateway.returns import db, local_commands, notices, prompt_payment

# The endpoints' parameter is `period`; the path names it `half` or `quarter`.
HALF = Path(
    ...,
    alias="half",
    pattern=r"^H[12]$",
    description="H1 (April to September) or H2 (October to March).",
)
QUARTER = Path(
    ...,
    alias="quarter",
    pattern=r"^Q[1-4]$",
    description="Q1 (April to June) to Q4 (January to March).",
)
BASE = "/api/v1/places/{place_id}/returns/notices"
OPEN_BASE = "/open-data/places/{place_id}/payment-notices"
# One path per notice, so the document says exactly which periods each takes.
PERIOD_NAME = {notices.COMPLIANCE: "half", notices.OVER_30000: "quarter"}
PERIOD_PARAMETER = {notices.COMPLIANCE: HALF, notices.OVER_30000: QUARTER}


def api_path(kind: str) -> str:
    return f"{BASE}/{kind}/{{financial_year}}/{{{PERIOD_NAME[kind]}}}"


def open_path(kind: str) -> str:
    return f"{OPEN_BASE}/{kind}/{{financial_year}}/{{{PERIOD_NAME[kind]}}}/notice.json"


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
        "published_url": open_path(notice.kind).format(
            place_id=place_id,
            financial_year=notice.financial_year,
            **{PERIOD_NAME[notice.kind]: notice.period_code},
        ),
    }


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        route_class=GuardedRoute, responses=problems.openapi_responses(401, 403, 422)
    )
    for kind in notices.NOTICE_KINDS:
        _notice_routes(router, gateway, kind)
    return router


def _notice_routes(router: APIRouter, gateway: Gateway, kind: str) -> None:
    """The read, approval and published routes of one notice."""
    place = identifier_path()
    year = financial_year_path()
    period_parameter = PERIOD_PARAMETER[kind]

    async def read_notice(
        place_id: str = place,
        financial_year: str = year,
        period: str = period_parameter,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        wanted = _notice(kind, financial_year, period)
        async with gateway.pool.acquire() as connection:
            approved = await db.payment_notice(connection, place_id, *_key(wanted))
            figures = {} if approved else await draft_figures(connection, place_id, wanted)
        return notice_body(place_id, wanted, figures, approved)

    async def approve_notice(
        request: Request,
        place_id: str = place,
        financial_year: str = year,
        period: str = period_parameter,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        check_storable(place_id, "place_id")
        require(principal, Permission.APPROVE_RETURNS, place_id, what="the place's returns")
        wanted = _notice(kind, financial_year, period)
        body, approval = await local_commands.body_of(request, gateway, Approval)
        return await _approve(gateway, principal, request, place_id, wanted, body, approval,
                              idempotency_key)  # fmt: skip

    async def published_notice(
        request: Request,
        place_id: str = place,
        financial_year: str = year,
        period: str = period_parameter,
    ) -> Response:
        check_storable(place_id, "place_id")
        wanted = _notice(kind, financial_year, period)
        async with gateway.pool.acquire() as connection:
            approved = await db.payment_notice(connection, place_id, *_key(wanted))
        if approved is None:
            raise ProblemError(404, "not-found", f"{wanted.kind} {wanted.label} is not published")
        document = notice_body(place_id, wanted, {}, approved)
        document.pop("command_id")
        text = json.dumps(document, sort_keys=True, indent=1)
        return published(request, text.encode("utf-8"), "application/json")

    name = (
        "payments compliance notice"
        if kind == notices.COMPLIANCE
        else "notice of payments over £30,000"
    )
    read_notice.__doc__ = (
        f"The {name}: the draft with its figures and their digest (what an approval names), "
        "or the notice as approved, with who approved it, when, and where it is published."
    )
    approve_notice.__doc__ = (
        f"The finance director approves the {name}'s draft figures, named by their digest; "
        "the notice is recorded as approved (who, when, the figures) and published."
    )
    published_notice.__doc__ = f"The {name} as approved and published."
    suffix = kind.replace("-", "_")
    router.add_api_route(
        api_path(kind), read_notice, methods=["GET"], tags=["returns"], name=f"read_{suffix}"
    )
    router.add_api_route(
        f"{api_path(kind)}/approval",
        approve_notice,
        methods=["POST"],
        tags=["returns"],
        status_code=201,
        openapi_extra=REQUEST_BODY,
        responses=problems.openapi_responses(400, 409, 413),
        name=f"approve_{suffix}",
    )
    options: dict[str, Any] = {"response_class": Response, "tags": ["open data"]}
    router.add_api_route(
        open_path(kind), published_notice, methods=["GET"], name=f"published_{suffix}", **options
    )
    router.add_api_route(
        open_path(kind), published_notice, methods=["HEAD"], include_in_schema=False,
        name=f"published_{suffix}_head", **options,
    )  # fmt: skip


async def _approve(
    gateway: Gateway,
    principal: Principal,
    request: Request,
    place_id: str,
    wanted: notices.NoticePeriod,
    body: dict[str, Any],
    approval: Approval,
    idempotency_key: str,
) -> JSONResponse:
    """Record the approval of the figures as drafted now, once, and publish the notice."""
    now = datetime.now(UTC)
    async with gateway.pool.acquire() as connection:
        approved = await db.payment_notice(connection, place_id, *_key(wanted))
        figures = await draft_figures(connection, place_id, wanted)
    digest = notices.figures_digest(figures)
    if not await local_commands.already_sent(gateway, principal, idempotency_key):
        _check(wanted, now, approval.figures_digest, digest, approved is not None)
    record = {
        "figures": figures,
        "figures_digest": digest,
        "approved_by": principal.principal_id,
        "approved_at": now,
        "published_at": now,
        "command_id": "",
    }

    async def approve(connection: asyncpg.Connection, command_id: Any) -> None:
        await db.approve_payment_notice(
            connection, place_id, *_key(wanted), figures, digest,
            principal.principal_id, now, command_id,
        )  # fmt: skip

    answer = _without_command(notice_body(place_id, wanted, figures, record))
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
            answer={"notice": answer},
            effect=approve,
        )
    except asyncpg.UniqueViolationError:
        detail = f"the {wanted.kind} notice {wanted.label} is approved"
        raise problems.invalid("period", "approved_once", detail, 409) from None


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


def _key(notice: notices.NoticePeriod) -> tuple[str, str, str]:
    return notice.kind, notice.financial_year, notice.period_code


def _without_command(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "command_id"}
