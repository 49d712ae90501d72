"""The prompt-payment returns over HTTP, for finance staff and auditors (`read.returns`): the
six-monthly payments compliance notice's figures with every timed payment and those later than
30 days, and the quarterly list of payments over £30,000."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.opendata import transparency
from services.gateway.returns import db, prompt_payment

YEAR = Path(..., pattern=r"^\d{4}-\d{2}$", description='A financial year, "2026-27".')
HALF = Path(
    ..., pattern=r"^H[12]$", description="H1 (April to September) or H2 (October to March)."
)
QUARTER = Path(..., pattern=r"^Q[1-4]$", description="Q1 (April to June) to Q4 (January to March).")


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/returns",
        tags=["returns"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422),
    )
    place = identifier_path()

    @router.get("/prompt-payment/{financial_year}/{half}")
    async def compliance_notice(
        place_id: str = place,
        financial_year: str = YEAR,
        half: str = HALF,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """The payments compliance notice's figures for a half year: average days to pay, the
        share paid within 1-30, 31-60 and 61 or more days, each timed payment, and the payments
        that took longer than 30 days."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        period = prompt_payment.half_year(_checked(financial_year), int(half[1]))
        async with gateway.pool.acquire() as connection:
            payments = await db.contract_payments(connection, place_id, period)
        return {"place_id": place_id, **prompt_payment.compliance_notice(payments, period)}

    @router.get("/payments-over-30000/{financial_year}/{quarter}")
    async def large_payments(
        place_id: str = place,
        financial_year: str = YEAR,
        quarter: str = QUARTER,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Every payment over £30,000 under a contract paid in the quarter, with the supplier's
        registered name where the organisations register has it."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        wanted = transparency.Quarter(_checked(financial_year), int(quarter[1]))
        period = prompt_payment.Period(wanted.label(), wanted.first_day, wanted.last_day)
        async with gateway.pool.acquire() as connection:
            payments = await db.contract_payments(connection, place_id, period)
            names = await db.registered_names(connection, place_id)
        listed = [
            {**row, "supplier_name": names.get(row["provider_id"])}
            for row in prompt_payment.large_payments(payments, period)
        ]
        return {"place_id": place_id, "period": period.label, "payments": listed}

    return router


def _checked(financial_year: str) -> str:
    try:
        transparency.check_financial_year(financial_year)
    except transparency.QuarterRefused as refusal:
        raise problems.invalid(refusal.field, "financial_year", str(refusal), 422) from None
    return financial_year
