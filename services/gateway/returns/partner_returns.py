"""Pooled-budget partner returns (Better Care Fund / section 75 practice): per partner (each
department contributing to the pot) and quarter, its income into the pool and its share of the
pool's spending, in the quarter and the year to date, against a straight-line plan of its
contribution, with the variance finance staff explain in a narrative; and, once the ledger has
applied the year's risk share, each partner's figures under it. Pure: the routes load.

Rules, each in one place below:
- Income is the partner's receipts dated in the period; spending is its share of every
  payment dated in the period, less its share of recoveries.
- The plan to date is the year's contribution spread evenly over the quarters (a quarter's
  plan is a quarter of it, rounded down to the penny); the variance is spending to date less
  the plan to date (positive: spending ahead of plan).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from services.gateway.opendata import transparency

QUARTERS_IN_YEAR = 4


def bounds(first_day: Any, last_day: Any) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a span of days, both days included."""
    start = datetime.combine(first_day, time(0), tzinfo=UTC)
    return start, datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=UTC)


def year_start(quarter: transparency.Quarter) -> transparency.Quarter:
    return transparency.Quarter(quarter.financial_year, 1)


def planned_to_date(committed_pence: int, quarter_number: int) -> int:
    return committed_pence * quarter_number // QUARTERS_IN_YEAR


def partner_lines(
    quarter: transparency.Quarter,
    committed: Mapping[str, int],
    income: tuple[Mapping[str, int], Mapping[str, int]],
    spending: tuple[Mapping[str, int], Mapping[str, int]],
    narratives: Mapping[str, Mapping[str, Any]],
    risk_share: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One line per partner: `income` and `spending` are (the quarter's, the year to date's)."""
    partners = sorted(set(committed) | set(income[1]) | set(spending[1]))
    lines = []
    for code in partners:
        planned = planned_to_date(committed.get(code, 0), quarter.number)
        spent_to_date = spending[1].get(code, 0)
        narrative = narratives.get(code)
        lines.append(
            {
                "department_code": code,
                "committed_pence": committed.get(code, 0),
                "income_pence": income[0].get(code, 0),
                "income_to_date_pence": income[1].get(code, 0),
                "spending_pence": spending[0].get(code, 0),
                "spending_to_date_pence": spent_to_date,
                "planned_to_date_pence": planned,
                "variance_pence": spent_to_date - planned,
                "variance_narrative": narrative["narrative"] if narrative else None,
                "narrative_by": narrative["written_by"] if narrative else None,
                "risk_share": dict(risk_share[code]) if code in risk_share else None,
            }
        )
    return lines
