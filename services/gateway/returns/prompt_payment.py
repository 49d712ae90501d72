"""Prompt-payment figures under the Procurement Act 2023, ss. 68-70, for outcomes contracts (public
contracts): days to pay each payment, from the day its valid claim (the evidence batch) was
received to the day it was paid; the six-monthly payments compliance notice (average days to
pay; the share paid within 1-30, 31-60 and 61 or more days); the quarterly list of payments over
£30,000. Pure: the routes load the payments and hand them here.

Rules, each in one place below:
- Only payments under a contract count (grant instalments are not invoices under a contract).
- Days are whole calendar days between the two UTC dates; a payment made the day its claim
  arrived (0 days) is within 30 days, so it is in the 1-30 band.
- A payment counts in the period in which it was paid.
- A payment without a claim date (kept before claim dates were recorded, or not paid against an
  evidence batch) cannot be timed: it is counted apart, never guessed.
- Shares and the average are decimals to one place, rounded half up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PAYMENT_DAYS_MAX = 30
"""Procurement Act 2023, s. 68: a valid invoice is paid within 30 days."""
BANDS = (("1_to_30", 0, 30), ("31_to_60", 31, 60), ("61_or_more", 61, None))
LARGE_PAYMENT_PENCE = 30_000_00
"""Procurement Act 2023, s. 70: every payment *over* £30,000 is published; £30,000 is not."""
ONE_PLACE = Decimal("0.1")


@dataclass(frozen=True)
class ContractPayment:
    """A payment made under a contract, with when its claim arrived and when it was paid."""

    payment_id: str
    contract_id: str
    provider_id: str
    amount_pence: int
    claim_batch_id: str | None
    claim_received_at: datetime | None
    paid_at: datetime

    @property
    def paid_on(self) -> date:
        return self.paid_at.astimezone(UTC).date()

    def days_to_pay(self) -> int | None:
        if self.claim_received_at is None:
            return None
        return (self.paid_on - self.claim_received_at.astimezone(UTC).date()).days


@dataclass(frozen=True)
class Period:
    """A span of days, both ends included: a half year or a quarter."""

    label: str
    first_day: date
    last_day: date

    def holds(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def half_year(financial_year: str, half: int) -> Period:
    """H1 is April to September, H2 October to March: the notice's six-month periods."""
    start = int(financial_year[:4])
    if half == 1:
        return Period(f"{financial_year}-H1", date(start, 4, 1), date(start, 9, 30))
    return Period(f"{financial_year}-H2", date(start, 10, 1), date(start + 1, 3, 31))


def compliance_notice(payments: Sequence[ContractPayment], period: Period) -> dict[str, Any]:
    """The payments compliance notice's figures for the period, with each timed payment and the
    ones that took longer than 30 days."""
    paid = [payment for payment in payments if period.holds(payment.paid_on)]
    timed = [(payment, days) for payment in paid if (days := payment.days_to_pay()) is not None]
    count = len(timed)
    bands = {
        name: sum(1 for _, days in timed if low <= days and (high is None or days <= high))
        for name, low, high in BANDS
    }
    return {
        "period": period.label,
        "first_day": period.first_day.isoformat(),
        "last_day": period.last_day.isoformat(),
        "payments_timed": count,
        "payments_without_claim_date": len(paid) - count,
        "average_days_to_pay": _one_place(Decimal(sum(days for _, days in timed)), count),
        "paid_within_days": {name: found for name, found in bands.items()},
        "paid_within_days_percent": {
            name: _one_place(Decimal(100 * found), count) for name, found in bands.items()
        },
        "payments": [_timed(payment, days) for payment, days in timed],
        "later_than_30_days": [
            _timed(payment, days) for payment, days in timed if days > PAYMENT_DAYS_MAX
        ],
    }


def large_payments(payments: Sequence[ContractPayment], period: Period) -> list[dict[str, Any]]:
    """Every payment over £30,000 paid in the period, in the order paid."""
    found = [
        payment
        for payment in payments
        if period.holds(payment.paid_on) and payment.amount_pence > LARGE_PAYMENT_PENCE
    ]
    return [
        {
            "payment_id": payment.payment_id,
            "contract_id": payment.contract_id,
            "provider_id": payment.provider_id,
            "paid_on": payment.paid_on.isoformat(),
            "amount_pence": payment.amount_pence,
        }
        for payment in sorted(found, key=lambda payment: (payment.paid_at, payment.payment_id))
    ]


def _timed(payment: ContractPayment, days: int) -> dict[str, Any]:
    assert payment.claim_received_at is not None, "only timed payments are listed"
    return {
        "payment_id": payment.payment_id,
        "contract_id": payment.contract_id,
        "claim_batch_id": payment.claim_batch_id,
        "claim_received_on": payment.claim_received_at.astimezone(UTC).date().isoformat(),
        "paid_on": payment.paid_on.isoformat(),
        "days_to_pay": days,
        "amount_pence": payment.amount_pence,
    }


def _one_place(numerator: Decimal, denominator: int) -> str | None:
    """numerator / denominator to one decimal place, rounded half up; None when nothing counts."""
    if denominator == 0:
        return None
    return str((numerator / denominator).quantize(ONE_PLACE, rounding=ROUND_HALF_UP))
