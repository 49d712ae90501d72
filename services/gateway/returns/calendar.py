"""The returns calendar: for a financial year, every return a place owes, when each is due, and
whether it was produced, approved and published. Pure: the page loads what was approved and
hands it here with today's date.

When each is due (README "Statutory returns"):
- Transparency Code return, quarterly: within a month of the quarter's end. Produced from the
  ledger's read models and published as open data as soon as the quarter ends; no approval.
- Payments compliance notice, six-monthly: within 30 days of the half year's end; approved by
  the finance director, published on approval.
- Notice of payments over £30,000, quarterly: within 30 days of the quarter's end; likewise.
- Partner returns, quarterly: within 30 days of the quarter's end (the pooling agreements'
  usual term); each partner's return is produced with the narrative finance staff write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from services.gateway.opendata import transparency
from services.gateway.returns import notices

PARTNER_RETURN_DUE_DAYS = 30
"""Partner returns are due within 30 days of the quarter (the pooling agreements' usual term)."""

RUNNING, DUE, OVERDUE, DONE = "period running", "due", "overdue", "done"


@dataclass(frozen=True)
class Obligation:
    """One return owed: what, for which period, when due, and what has happened to it."""

    return_name: str
    period: str
    first_day: date
    last_day: date
    due_on: date
    produced: bool
    approval_needed: bool
    approved_on: date | None
    published_on: date | None
    status: str


def month_after(quarter_end: date) -> date:
    """A month after a quarter's last day (always a month's last day): the next month's last."""
    months = quarter_end.year * 12 + quarter_end.month + 1  # the month after next, 0-based
    return date(months // 12, months % 12 + 1, 1) - timedelta(days=1)


def _status(last_day: date, due_on: date, done: bool, today: date) -> str:
    if done:
        return DONE
    if today <= last_day:
        return RUNNING
    return DUE if today <= due_on else OVERDUE


def year_calendar(
    financial_year: str,
    today: date,
    approved: Iterable[tuple[str, str, date, date]],
    partner_returns_produced: Iterable[str] = (),
) -> list[Obligation]:
    """Every return of the year in due-date order. `approved` holds (notice, period code,
    approved on, published on) of the year's approved notices; `partner_returns_produced` the
    quarter codes ("Q1") for which partner returns were produced."""
    approvals = {(notice, code): (on, published) for notice, code, on, published in approved}
    produced_quarters = set(partner_returns_produced)
    found = []
    for number in (1, 2, 3, 4):
        quarter = transparency.Quarter(financial_year, number)
        ended = today > quarter.last_day
        found.append(
            Obligation(
                "Transparency Code return",
                quarter.label(),
                quarter.first_day,
                quarter.last_day,
                month_after(quarter.last_day),
                ended,
                False,
                None,
                quarter.last_day + timedelta(days=1) if ended else None,
                _status(quarter.last_day, month_after(quarter.last_day), ended, today),
            )
        )
        code = f"Q{number}"
        due = quarter.last_day + timedelta(days=PARTNER_RETURN_DUE_DAYS)
        done = code in produced_quarters
        found.append(
            Obligation(
                "Partner returns",
                quarter.label(),
                quarter.first_day,
                quarter.last_day,
                due,
                done,
                False,
                None,
                None,
                _status(quarter.last_day, due, done, today),
            )
        )
    for kind, codes in (
        (notices.OVER_30000, ("Q1", "Q2", "Q3", "Q4")),
        (notices.COMPLIANCE, ("H1", "H2")),
    ):
        for code in codes:
            notice = notices.notice_period(kind, financial_year, code)
            approval = approvals.get((kind, code))
            found.append(
                Obligation(
                    NOTICE_NAMES[kind],
                    notice.label,
                    notice.first_day,
                    notice.last_day,
                    notice.due_on,
                    today > notice.last_day,
                    True,
                    approval[0] if approval else None,
                    approval[1] if approval else None,
                    _status(notice.last_day, notice.due_on, approval is not None, today),
                )
            )
    return sorted(found, key=lambda item: (item.due_on, item.return_name))


NOTICE_NAMES = {
    notices.COMPLIANCE: "Payments compliance notice",
    notices.OVER_30000: "Notice of payments over £30,000",
}
