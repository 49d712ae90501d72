"""The insights room's pages: the liability forecast for the board, the accounting officer and
finance staff, with its chart (text alternative and table included) and the flagged proposals;
`forecast_chart` also serves the board's papers."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.insights import api
from services.gateway.intake import identifier_path
from services.gateway.web import charts
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, signed_in


def forecast_chart(figures: dict[str, Any]) -> Any:
    """Per financial year: the maximum and expected liabilities against the year's cover."""
    years = [row["financial_year"] for row in figures["years"]]
    series = [
        ("Maximum liabilities", [row["maximum_pence"] for row in figures["years"]]),
        ("Expected liabilities", [row["expected_pence"] for row in figures["years"]]),
        ("Settled, not yet paid out", [row["cover_pence"] for row in figures["years"]]),
    ]
    return charts.line_chart(
        "liability-forecast",
        "Liabilities against settled money, by financial year",
        years,
        series,
        caption="A year is flagged when its "
        f"{figures['liability_test']} liabilities are more than its settled money not yet paid.",
        x_heading="Financial year",
    )


def dividend_chart(dividend: dict[str, Any]) -> Any:
    """Per contract, the fiscal savings its paid outcomes bring each beneficiary agency."""
    contracts = list(dividend["contracts"])
    agencies = sorted({a for c in contracts for a in c["fiscal_savings_by_agency_pence"]})
    series = [
        (agency, [int(c["fiscal_savings_by_agency_pence"].get(agency, 0)) for c in contracts])
        for agency in agencies
    ]
    return charts.stacked_bars(
        "reform-dividend",
        "Fiscal savings by beneficiary agency, per contract",
        [str(c["contract_id"]) for c in contracts],
        series,
        caption="Outcomes paid for, valued by the place's unit-cost table.",
        category_heading="Contract",
    )


def outcomes_chart(comparison: dict[str, Any]) -> Any:
    """Per metric and place, the outcomes paid against the target of its contracts."""
    rows = [
        (f"{metric['metric_id']}, {place['place_id']}", int(place["outcomes_paid"]),
         place.get("target_count"), None)
        for metric in comparison["metrics"]
        for place in metric["places"]
    ]  # fmt: skip
    return charts.bars_against_targets(
        "outcomes-against-targets",
        "Outcomes paid against targets, by metric and place",
        rows,
        caption="Targets are the sum of the place's contracts' target counts for the metric.",
        money=False,
        row_heading="Metric, place",
    )


def concentration_chart(concentration: dict[str, Any]) -> Any:
    """The Herfindahl-Hirschman index of allocations and of payments, year by year."""
    years = list(concentration["years"])
    series = [
        (
            f"HHI of {measure}",
            [int(year[measure]["herfindahl_hirschman_index"]) for year in years],
        )
        for measure in ("allocations", "payments")
    ]
    return charts.line_chart(
        "provider-concentration",
        "Provider concentration (HHI, 0 to 10,000), by financial year",
        [str(year["financial_year"]) for year in years],
        series,
        caption="10,000 is one provider holding everything; below 1,500 is usually read as "
        "unconcentrated.",
        money=False,
        x_heading="Financial year",
    )


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/liability-forecast")
    async def liability_forecast(place_id: str = place, page: Page = PAGE) -> Response:
        principal = signed_in(page)
        require(principal, Permission.READ_BOARD, place_id, what="the place's forecast")
        async with page.gateway.pool.acquire() as connection:
            figures = await api.liability_forecast(connection, place_id, date.today())
        return render(
            page,
            "insights_forecast.html",
            title=f"Liability forecast of {place_id}",
            place_id=place_id,
            forecast=figures,
            chart=forecast_chart(figures),
        )

    @routes.get("/places/{place_id}/provider-concentration")
    async def provider_concentration(place_id: str = place, page: Page = PAGE) -> Response:
        principal = signed_in(page)
        require(principal, Permission.READ_BOARD, place_id, what="the place's providers")
        async with page.gateway.pool.acquire() as connection:
            figures = await api.provider_concentration(connection, place_id)
        return render(
            page,
            "insights_concentration.html",
            title=f"Provider concentration in {place_id}",
            place_id=place_id,
            concentration=figures,
            chart=concentration_chart(figures),
        )

    @routes.get("/places-compared")
    async def places_compared(request: Request, page: Page = PAGE) -> Response:
        wanted = request.query_params.getlist("place")[: api.COMPARED_PLACES_MAX] or None
        async with page.gateway.pool.acquire() as connection:
            comparison = await api.places_compared(connection, wanted)
        return render(
            page,
            "insights_compared.html",
            title="Places compared",
            comparison=comparison,
            chart=outcomes_chart(comparison),
        )

    return routes
