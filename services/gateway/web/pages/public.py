"""A place's public page, for anyone without signing in: its board's decisions, what its pot is
made of and how its spend grew (place-wide figures only, never a person's), and its open data."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from services.gateway.insights import api as insights
from services.gateway.intake import identifier_path
from services.gateway.projections import views
from services.gateway.web.pages.finance import pot_chart, spend_chart
from services.gateway.web.pages.insights import dividend_chart
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}")
    async def public_place(place_id: str = place, page: Page = PAGE) -> Response:
        async with page.gateway.pool.acquire() as connection:
            decisions = await views.public_decisions(connection, place_id)
            overview = await views.pot_overview(connection, place_id, None)
            spend = await views.spend_over_time(connection, place_id, None)
            dividend = await insights.reform_dividend(connection, place_id)
        streams = list(overview["streams"])
        return render(
            page,
            "public_place.html",
            title=f"Decisions and open data for {place_id}",
            place_id=place_id,
            decisions=decisions,
            financial_year=overview["financial_year"],
            pot_chart=pot_chart(streams) if streams else None,
            spend_chart=spend_chart(spend) if spend else None,
            reform_dividend=dividend,
            dividend_chart=dividend_chart(dividend),
        )

    return routes
