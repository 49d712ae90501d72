"""The finance pages' returns page: the year's returns calendar (what is due when, what was
produced, approved and published), the contract payments that took longer than 30 days, and the
year's agreement-of-balances disputes, for finance staff and auditors (`read.returns`)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query
from starlette.responses import Response

from contracts.values import financial_year_on
from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.opendata import transparency
from services.gateway.returns import calendar, db, notices, prompt_payment
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, signed_in


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/finance/returns")
    async def returns_page(
        place_id: str = place,
        year: str | None = Query(None, pattern=r"^\d{4}-\d{2}$"),
        page: Page = PAGE,
    ) -> Response:
        principal = signed_in(page)
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        today = datetime.now(UTC).date()
        financial_year = year or financial_year_on(today)
        try:
            transparency.check_financial_year(financial_year)
        except transparency.QuarterRefused:
            financial_year = financial_year_on(today)
        async with page.gateway.pool.acquire() as connection:
            approved = await db.payment_notices_of_place(connection, place_id)
            partners = set(await db.partner_committed(connection, place_id, financial_year))
            narrated = await db.partner_narrative_quarters(connection, place_id, financial_year)
            disputes = [
                dispute
                for dispute in await db.balance_disputes(connection, place_id)
                if dispute["financial_year"] == financial_year
            ]
            late = []
            for code in ("H1", "H2"):
                half = notices.notice_period(notices.COMPLIANCE, financial_year, code)
                payments = await db.contract_payments(connection, place_id, half.as_period())
                figures = prompt_payment.compliance_notice(payments, half.as_period())
                late.extend(figures["later_than_30_days"])
        of_year = [
            (row["notice"], row["period"], row["approved_at"].date(), row["published_at"].date())
            for row in approved
            if row["financial_year"] == financial_year
        ]
        return render(
            page,
            "returns.html",
            title=f"Returns of {place_id}, {financial_year}",
            place_id=place_id,
            financial_year=financial_year,
            obligations=calendar.year_calendar(
                financial_year,
                today,
                of_year,
                # A quarter's partner returns are produced once every partner has a narrative.
                [q for q, done in narrated.items() if partners and partners <= done],
            ),
            late_payments=late,
            disputes=disputes,
        )

    return routes
