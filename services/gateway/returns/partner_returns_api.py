"""Partner returns over HTTP: finance staff and auditors read a quarter's income-and-spending
return per partner with its variance and narrative, and the year's risk share once the ledger
has applied it (`read.returns`); finance staff write each partner's variance narrative
(`returns.approve`, a command with a status resource). The risk share itself is the ledger
command `POST /api/v1/places/{place_id}/periods/{financial_year}/risk-share`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, financial_year_path, identifier_path
from services.gateway.opendata import transparency
from services.gateway.problems import ProblemError
from services.gateway.returns import db, local_commands, partner_returns

PATH = "/api/v1/places/{place_id}/returns/partner-returns/{financial_year}/{quarter}"
QUARTER = Path(..., pattern=r"^Q[1-4]$", description="Q1 (April to June) to Q4 (January to March).")
NARRATIVE_LENGTH_MAX = 4000


class Narrative(BaseModel):
    """Finance staff's explanation of a partner's variance for the quarter."""

    model_config = ConfigDict(extra="forbid")

    variance_narrative: str = Field(min_length=1, max_length=NARRATIVE_LENGTH_MAX)


REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": Narrative.model_json_schema()}},
    }
}


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["returns"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422),
    )
    place = identifier_path()

    @router.get(PATH)
    async def partner_return(
        place_id: str = place,
        financial_year: str = financial_year_path(),
        quarter: str = QUARTER,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """The quarter's partner returns: per partner its income into the pool and share of
        the pool's spending (the quarter's and the year's to date), the plan to date, the
        variance and its narrative, and the year's risk share once applied."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        wanted = transparency.Quarter(financial_year, int(quarter[1]))
        try:
            periods = _periods(wanted)
        except (ValueError, OverflowError):
            # A well-formed year whose quarter falls outside the calendar (0000-01, 9999-00).
            detail = f"no partner returns for {wanted.label()}: its dates are not in the calendar"
            raise ProblemError(404, "not-found", detail) from None
        async with gateway.pool.acquire() as connection:
            found = await _figures(connection, place_id, wanted, periods)
        return {"place_id": place_id, "period": wanted.label(), **found}

    @router.post(
        f"{PATH}/{{department_code}}/narrative",
        status_code=201,
        openapi_extra=REQUEST_BODY,
        responses=problems.openapi_responses(400, 409, 413),
    )
    async def write_narrative(
        request: Request,
        place_id: str = place,
        financial_year: str = financial_year_path(),
        quarter: str = QUARTER,
        department_code: str = identifier_path(),
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Finance staff write a partner's variance narrative for the quarter (the latest
        written is the return's)."""
        for name, value in (("place_id", place_id), ("department_code", department_code)):
            check_storable(value, name)
        require(principal, Permission.APPROVE_RETURNS, place_id, what="the place's returns")
        body, narrative = await local_commands.body_of(request, gateway, Narrative)
        now = datetime.now(UTC)

        async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            await db.write_partner_narrative(
                connection, place_id, financial_year, quarter, department_code,
                narrative.variance_narrative, principal.principal_id, now, command_id,
            )  # fmt: skip

        return await local_commands.decide_here(
            gateway,
            principal,
            request,
            key=idempotency_key,
            body=body,
            place_id=place_id,
            command_type="WritePartnerReturnNarrative",
            decided_at=now,
            made={"financial_year": financial_year, "quarter": quarter},
            answer={"department_code": department_code},
            effect=save,
        )

    return router


Span = tuple[datetime, datetime]


def _periods(quarter: transparency.Quarter) -> tuple[Span, Span]:
    """The quarter's and the year to date's [start, end) instants."""
    first = partner_returns.year_start(quarter).first_day
    return (
        partner_returns.bounds(quarter.first_day, quarter.last_day),
        partner_returns.bounds(first, quarter.last_day),
    )


async def _figures(
    connection: asyncpg.Connection,
    place_id: str,
    quarter: transparency.Quarter,
    periods: tuple[Span, Span],
) -> dict[str, Any]:
    year = quarter.financial_year
    committed = await db.partner_committed(connection, place_id, year)
    in_quarter = await db.partner_flows(connection, place_id, year, *periods[0])
    to_date = await db.partner_flows(connection, place_id, year, *periods[1])
    narratives = await db.partner_narratives(connection, place_id, year, f"Q{quarter.number}")
    applied = await db.risk_share(connection, place_id, year)
    by_partner = {p["department_code"]: p for p in (applied or {}).get("partners", [])}
    lines = partner_returns.partner_lines(
        quarter,
        committed,
        (in_quarter[0], to_date[0]),
        (in_quarter[1], to_date[1]),
        narratives,
        by_partner,
    )
    risk_share = None
    if applied is not None:
        risk_share = {
            "risk_share_id": applied["risk_share_id"],
            "rule": applied["rule"],
            "agreement_reference": applied["agreement_reference"],
            "pool_borne_pence": applied["pool_borne_pence"],
            "transfer_id": applied["transfer_id"],
            "applied_at": applied["applied_at"].isoformat(),
        }
    return {"partners": lines, "risk_share": risk_share}
