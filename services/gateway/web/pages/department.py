"""A department's pages: the spend attributed to its own streams in a place, with a chart, and
the same rows as CSV (pence and pounds columns). Recoveries (clawbacks) are rows of negative
spend. Another department's spend is never shown."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from contracts.money import format_pounds_plain
from services.gateway.domain import Permission
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.opendata import payers
from services.gateway.projections import views
from services.gateway.spreadsheet import SafeWriter
from services.gateway.web import charts
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, signed_in

CSV_COLUMNS = (
    "spend_id",
    "kind",
    "payment_id",
    "spent_at",
    "financial_year",
    "allocation_id",
    "contract_id",
    "provider_id",
    "purpose",
    "funding_stream_code",
    "amount_pence",
    "amount_pounds",
)


def share_rows(spend: list[dict[str, Any]], department_code: str) -> list[dict[str, Any]]:
    """One row per share of a payment (or of a recovery, negative: `kind` "recovery") attributed
    to this department's streams."""
    return [
        {
            **row,
            "kind": row.get("kind") or "spend",
            "funding_stream_code": share["funding_stream_code"],
            "amount_pence": int(share["amount_pence"]),
        }
        for row in spend
        for share in row.get("attribution") or []
        if share.get("department_code") == department_code
    ]


def spend_csv(rows: list[dict[str, Any]]) -> str:
    """One line per attributed share: pence exactly, and pounds with two decimals."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        pence = int(row.get("amount_pence") or 0)
        values = {**row, "amount_pence": pence, "amount_pounds": format_pounds_plain(pence)}
        writer.writerow([values.get(column) for column in CSV_COLUMNS])
    return out.getvalue()


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place, department = identifier_path(), identifier_path()

    async def load(page: Page, place_id: str, code: str) -> tuple[list[dict[str, Any]], Any]:
        principal = signed_in(page)
        require(principal, Permission.READ_DEPARTMENT_SPEND, place_id, code, what=f"{code}'s spend")
        async with page.gateway.pool.acquire() as connection:
            spend = await views.department_spend(connection, place_id, code)
            over_time = await views.spend_over_time(connection, place_id, code)
        return share_rows(list(spend), code), over_time

    @routes.get("/places/{place_id}/departments/{department_code}")
    async def department_page(
        place_id: str = place, department_code: str = department, page: Page = PAGE
    ) -> Response:
        rows, over_time = await load(page, place_id, department_code)
        async with page.gateway.pool.acquire() as connection:
            statement = await views.statement_by_year(
                connection, place_id, department_code=department_code
            )
            as_payer = await payers.payer_statement(connection, place_id, department_code)
        months = [str(row["month"]) for row in over_time]
        chart = charts.line_chart(
            "department-spend",
            f"Spend attributed to {department_code} over time",
            months,
            [(department_code, [int(row["cumulative_pence"]) for row in over_time])],
            caption=f"{department_code}'s cumulative share of payments, by month.",
            x_heading="Month",
        )
        return render(
            page,
            "department.html",
            title=f"Spend attributed to {department_code} in {place_id}",
            place_id=place_id,
            department_code=department_code,
            rows=rows,
            total_pence=sum(int(row.get("amount_pence") or 0) for row in rows),
            chart=chart,
            statement=statement,
            as_payer=as_payer,
        )

    @routes.get("/places/{place_id}/departments/{department_code}/spend.csv")
    async def department_csv(
        place_id: str = place, department_code: str = department, page: Page = PAGE
    ) -> Response:
        rows, _ = await load(page, place_id, department_code)
        filename = f"{place_id}-{department_code}-spend.csv"
        return Response(
            spend_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    return routes
