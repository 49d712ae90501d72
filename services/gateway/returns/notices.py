"""The two payments notices of the Procurement Act 2023 and their approval: the six-monthly
payments compliance notice (s. 69) and the quarterly notice of payments over £30,000 (s. 70).
The system drafts each from its read models; the finance director approves the figures they
read (named by a digest, so a draft that changed since it was read is not approved blind); the
approved notice is then published as open data. Pure: the routes load, these rules decide.

Rules, each in one place below:
- A notice covers a half year (H1, H2) or a quarter (Q1-Q4) of a financial year.
- It is due within 30 days of its period's end (both notices; the Act's 30-day rule).
- It may be approved only once its period has ended, only once, and only with the figures
  as drafted at that moment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.gateway.errors import GatewayError
from services.gateway.opendata import transparency
from services.gateway.returns import prompt_payment

COMPLIANCE = "payments-compliance"
OVER_30000 = "payments-over-30000"
NOTICE_KINDS = (COMPLIANCE, OVER_30000)
NOTICE_DUE_DAYS = 30
"""Procurement Act 2023, ss. 69-70: each notice is published within 30 days of its period."""


class NoticeRefused(GatewayError, ValueError):
    """A notice request breaks a rule: `field` and `rule` name it, `status` is the HTTP answer."""

    def __init__(self, field: str, rule: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.status = status


@dataclass(frozen=True)
class NoticePeriod:
    """Which notice, for which span of days, and when it is due."""

    kind: str
    financial_year: str
    period_code: str
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        return f"{self.financial_year}-{self.period_code}"

    @property
    def due_on(self) -> date:
        return self.last_day + timedelta(days=NOTICE_DUE_DAYS)

    def as_period(self) -> prompt_payment.Period:
        return prompt_payment.Period(self.label, self.first_day, self.last_day)


def notice_period(kind: str, financial_year: str, period_code: str) -> NoticePeriod:
    """The notice named by a request's path, or a refusal naming the field."""
    if kind not in NOTICE_KINDS:
        raise NoticeRefused(
            "notice", "notice_kind", f"a notice is one of {', '.join(NOTICE_KINDS)}"
        )
    try:
        transparency.check_financial_year(financial_year)
    except transparency.QuarterRefused as refusal:
        # A well-formed year out of range (before 1900-01 or after 9998-99) has no notice: 404;
        # anything else is not a financial year: 422.
        start, _, end = financial_year.partition("-")
        well_formed = start.isdigit() and end.isdigit() and int(end) == (int(start) + 1) % 100
        status = 404 if well_formed else 422
        raise NoticeRefused("financial_year", "financial_year", str(refusal), status) from None
    if kind == COMPLIANCE:
        if period_code not in ("H1", "H2"):
            message = "the compliance notice covers H1 (April-September) or H2 (October-March)"
            raise NoticeRefused("period", "half_year", message)
        half = prompt_payment.half_year(financial_year, int(period_code[1]))
        return NoticePeriod(kind, financial_year, period_code, half.first_day, half.last_day)
    if period_code not in ("Q1", "Q2", "Q3", "Q4"):
        raise NoticeRefused("period", "quarter", "the over-£30,000 notice covers Q1 to Q4")
    quarter = transparency.Quarter(financial_year, int(period_code[1]))
    return NoticePeriod(kind, financial_year, period_code, quarter.first_day, quarter.last_day)


def figures_digest(figures: dict[str, Any]) -> str:
    """A SHA-256 of the figures' canonical JSON: what the approver read, in 64 hex digits."""
    canonical = json.dumps(figures, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_approval(
    notice: NoticePeriod,
    today: date,
    digest_read: str,
    digest_now: str,
    approved_already: bool,
) -> None:
    """Refuse an approval that breaks a rule of the module's docstring."""
    if approved_already:
        raise NoticeRefused(
            "period", "approved_once", f"the {notice.kind} notice {notice.label} is approved", 409
        )
    if today <= notice.last_day:
        raise NoticeRefused(
            "period",
            "period_ended",
            f"{notice.label} ends on {notice.last_day}; its notice is approved after that",
            409,
        )
    if digest_read != digest_now:
        raise NoticeRefused(
            "figures_digest",
            "figures_as_drafted",
            "the draft's figures changed since they were read (now "
            f"{digest_now}); read the draft again and approve what it says",
            409,
        )
