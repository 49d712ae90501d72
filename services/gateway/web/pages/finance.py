"""Finance staff's pages: the pot at a glance (by stream and department, with a year selector),
whether the last reconciliation with the ledger was clean, spend over time, recording a
receipt, and closing a financial year after confirmation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import RedirectResponse, Response

from contracts import ClosePeriod, RecordReceipt
from services.gateway.command_log import db
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.problems import FieldProblem, field_problem
from services.gateway.projections import views
from services.gateway.web import charts, outcomes
from services.gateway.web.commands import IDEMPOTENCY_FIELD, send
from services.gateway.web.rendering import Page, error_summary, field_errors, parse_pounds, render
from services.gateway.web.routes import PAGE, WebRoute, read_form, signed_in, text

RECEIPT_FIELDS = {
    "receipt_id": "receipt_id",
    "settlement_id": "settlement_id",
    "department_code": "stream",
    "funding_stream_code": "stream",
    "financial_year": "financial_year",
    "amount_pence": "amount",
    "amount": "amount",
    "stream": "stream",
    IDEMPOTENCY_FIELD: "receipt_id",
}
CLOSE_FIELDS = {"financial_year": "financial_year", "confirm": "confirm"}
NOTICES = {
    "receipt": "The receipt was sent to the ledger; the pot shows it once the ledger posts it.",
    "close": "The request to close the year was sent to the ledger.",
}


def pot_chart(streams: list[dict[str, Any]]) -> Any:
    """Per stream (department / stream) one bar as long as its settlement, split into what is
    paid, what is reserved but not yet paid, and what is still available."""
    categories = [f"{s['department_code']} / {s['funding_stream_code']}" for s in streams]

    def part(stream: dict[str, Any], name: str) -> int:
        return int(stream.get(name) or 0)

    series = [
        ("Paid", [max(0, part(s, "paid_pence")) for s in streams]),
        (
            "Reserved, not yet paid",
            [max(0, part(s, "reserved_pence") - part(s, "paid_pence")) for s in streams],
        ),
        ("Available", [max(0, part(s, "available_pence")) for s in streams]),
    ]
    return charts.stacked_bars(
        "pot-by-stream",
        "The pot by stream: each bar is the amount settled",
        categories,
        series,
        caption="Paid, reserved and available money of each funding stream, in pounds.",
        category_heading="Department / stream",
    )


def spend_chart(months: list[dict[str, Any]]) -> Any:
    """Cumulative spend per department, month by month (a month without spend carries over)."""
    labels = sorted({str(row["month"]) for row in months})
    departments = sorted({str(row["department_code"]) for row in months})
    series = []
    for department in departments:
        cumulative = {
            str(row["month"]): int(row["cumulative_pence"])
            for row in months
            if row["department_code"] == department
        }
        values, running = [], 0
        for month in labels:
            running = cumulative.get(month, running)
            values.append(running)
        series.append((department, values))
    return charts.line_chart(
        "spend-over-time",
        "Spend over time, by department",
        labels,
        series,
        caption="Cumulative spend attributed to each department, by month.",
        x_heading="Month",
    )


def _allowed(principal: Principal, place_id: str) -> dict[str, bool]:
    return {
        "receipt": principal.may(Permission.RECORD_RECEIPT, place_id, None),
        "close": principal.may(Permission.CLOSE_PERIOD, place_id, None),
        "returns": principal.may(Permission.READ_RETURNS, place_id, None),
    }


# The ledger's commands whose refusals finance staff see on this page, where the money lives.
LEDGER_COMMANDS = frozenset(
    {"RecordSettlement", "RecordReceipt", "VirementRequested", "ClosePeriod"}
)
REFUSALS_SHOWN = 10


async def _ledger_refusals(
    connection: Any, principal: Principal, place_id: str
) -> list[dict[str, Any]]:
    """The place's latest refused ledger commands, for those who may send them."""
    if not principal.sees_everything(Permission.RECORD_RECEIPT, place_id):
        return []
    rows = await db.command_refusals_for_place(connection, place_id, REFUSALS_SHOWN * 4)
    return [row for row in rows if row["command_type"] in LEDGER_COMMANDS][:REFUSALS_SHOWN]


async def finance_page(
    page: Page,
    place_id: str,
    year: str | None,
    *,
    problems: list[FieldProblem] = (),  # type: ignore[assignment]
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    principal = signed_in(page)
    require(principal, Permission.READ_SPEND, place_id, what="the pot and its spend")
    async with page.gateway.pool.acquire() as connection:
        # Without a year asked for, the page opens on the current financial year.
        overview = await views.pot_overview(connection, place_id, year, datetime.now(UTC).date())
        spend = await views.spend_over_time(connection, place_id, None)
        reconciliation = await views.last_reconciliation(connection, place_id)
        refused = await _ledger_refusals(connection, principal, place_id)
    streams = list(overview.get("streams", []))
    years = list(overview.get("financial_years") or [])
    shown_year = year or overview.get("financial_year") or (years[-1] if years else None)
    notice = NOTICES.get(page.request.query_params.get("sent", ""))
    return render(
        page,
        "finance.html",
        status,
        title=f"The pot of {place_id}",
        place_id=place_id,
        overview=overview,
        streams=streams,
        years=years,
        year=shown_year,
        pot_chart=pot_chart(streams) if streams else None,
        spend_chart=spend_chart(spend) if spend else None,
        allowed=_allowed(principal, place_id),
        errors=error_summary(list(problems), RECEIPT_FIELDS),
        field_errors=field_errors(list(problems), RECEIPT_FIELDS),
        values=values or {},
        notice=notice,
        reconciliation=reconciliation,
        command_outcome=await outcomes.command_notice(page, notice),
        refused=refused,
    )


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/finance")
    async def finance(
        place_id: str = place, year: str | None = Query(None, max_length=7), page: Page = PAGE
    ) -> Response:
        return await finance_page(page, place_id, year or None)

    @routes.post("/places/{place_id}/finance/receipts")
    async def record_receipt(place_id: str = place, page: Page = PAGE) -> Response:
        principal = signed_in(page)
        form = await read_form(page)
        values = {
            name: text(form, name)
            for name in ("receipt_id", "settlement_id", "stream", "financial_year", "amount")
        }
        problems: list[FieldProblem] = []
        department, _, stream = values["stream"].partition("/")
        if not department or not stream:
            problems.append(field_problem("stream", "required", "Choose the funding stream"))
        try:
            amount_pence = parse_pounds(values["amount"])
        except ValueError as error:
            problems.append(field_problem("amount", "pounds", str(error)))
            amount_pence = 0
        if not problems:
            body = {
                "receipt_id": values["receipt_id"],
                "settlement_id": values["settlement_id"],
                "department_code": department,
                "funding_stream_code": stream,
                "financial_year": values["financial_year"],
                "amount_pence": amount_pence,
            }
            problems = await send(
                page,
                principal,
                RecordReceipt,
                body,
                {"place_id": place_id},
                form.get(IDEMPOTENCY_FIELD),
            )
        if problems:
            return await finance_page(
                page,
                place_id,
                values["financial_year"] or None,
                problems=problems,
                values=values,
                status=422,
            )
        command_id = outcomes.command_id_for(principal, form.get(IDEMPOTENCY_FIELD))
        query = {"sent": "receipt", "year": values["financial_year"]}
        target = outcomes.sent_to(f"/places/{place_id}/finance", command_id, **query)
        return RedirectResponse(target, status_code=303)

    @routes.get("/places/{place_id}/finance/close")
    async def close_form(
        place_id: str = place, year: str | None = Query(None, max_length=7), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        require(principal, Permission.CLOSE_PERIOD, place_id, what="closing a year")
        return render(
            page,
            "close_period.html",
            title=f"Close a financial year of {place_id}",
            place_id=place_id,
            year=year or "",
            field_errors={},
        )

    @routes.post("/places/{place_id}/finance/close")
    async def close_period(place_id: str = place, page: Page = PAGE) -> Response:
        principal = signed_in(page)
        require(principal, Permission.CLOSE_PERIOD, place_id, what="closing a year")
        form = await read_form(page)
        year = text(form, "financial_year")
        problems: list[FieldProblem] = []
        if text(form, "confirm") != "yes":
            message = "Confirm that nothing more may be posted into this year"
            problems.append(field_problem("confirm", "confirmed", message))
        else:
            problems = await send(
                page,
                principal,
                ClosePeriod,
                {},
                {"place_id": place_id, "financial_year": year},
                form.get(IDEMPOTENCY_FIELD),
            )
        if problems:
            return render(
                page,
                "close_period.html",
                422,
                title=f"Close a financial year of {place_id}",
                place_id=place_id,
                year=year,
                errors=error_summary(problems, CLOSE_FIELDS),
                field_errors=field_errors(problems, CLOSE_FIELDS),
            )
        command_id = outcomes.command_id_for(principal, form.get(IDEMPOTENCY_FIELD))
        target = outcomes.sent_to(f"/places/{place_id}/finance", command_id, sent="close")
        return RedirectResponse(target, status_code=303)

    return routes
