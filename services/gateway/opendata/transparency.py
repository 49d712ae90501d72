"""The Local Government Transparency Code 2015 return: every item of expenditure over £500 in a
quarter, one CSV per place, in the Code's columns (date, body, beneficiary, summary of purpose,
amount, irrecoverable VAT, merchant category), built from the same read models as the other
open data. Pure: the routes load a place's data and write what `return_rows` gives.

Rules, each in one place below:
- A payment is published when it is over £500 (more than 50,000 pence) and was made in the
  quarter (its date is the day it was paid, UTC; for rows kept before payment dates were
  recorded, the day the gateway recorded it).
- A recovery is a credit note: a negative amount on the day it was settled, published when the
  payment it takes back was over £500, so the published payments and credit notes net.
- The beneficiary is named from the organisations register. A beneficiary that is not in the
  register may be a person: it is published as `REDACTED`, never by its reference in singlepot,
  because the Code requires payments to individuals to be redacted and an unregistered reference
  cannot be told apart from a person (register the organisation to have it named).
- Irrecoverable VAT is left blank unless finance staff recorded it on the payment (grants and
  outcome payments are usually outside its scope, but that is for them to state, not for us to
  assume); a merchant category they recorded replaces the one taken from the allocation's type.
  A credit note carries the recovered part of the payment's VAT, negative (pro rata, rounded
  down to the penny).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TextIO

from contracts.money import format_pounds_plain
from services.gateway.errors import GatewayError
from services.gateway.opendata.publishing import Payment, PlaceData

THRESHOLD_PENCE = 500_00
"""The Code asks for expenditure *over* £500: exactly £500 is not published."""
REDACTED = "REDACTED"
COLUMNS = (
    "Date",
    "Body",
    "Beneficiary",
    "Summary of purpose",
    "Amount",
    "Irrecoverable VAT",
    "Merchant category",
    "Transaction number",
    "Beneficiary registration number",
)
MERCHANT_CATEGORIES = {
    "grant": "Grants",
    "partnership_agreement": "Partnership agreements",
    "outcomes_contract": "Outcomes payments (payment by results)",
}
QUARTER_START_MONTHS = {1: 4, 2: 7, 3: 10, 4: 1}


@dataclass(frozen=True)
class PaymentTax:
    """What finance staff recorded on a payment: its irrecoverable VAT and merchant category."""

    irrecoverable_vat_pence: int
    merchant_category: str | None = None


@dataclass(frozen=True)
class Quarter:
    """A quarter of a financial year (April to March): Q1 is April to June."""

    financial_year: str
    number: int

    @property
    def first_day(self) -> date:
        start_year = int(self.financial_year[:4]) + (1 if self.number == 4 else 0)
        return date(start_year, QUARTER_START_MONTHS[self.number], 1)

    @property
    def last_day(self) -> date:
        first = self.first_day
        month = first.month + 3
        following = date(first.year + (month > 12), (month - 1) % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)

    def holds(self, moment: datetime) -> bool:
        return self.first_day <= moment.astimezone(UTC).date() <= self.last_day

    def label(self) -> str:
        return f"{self.financial_year}-Q{self.number}"


class QuarterRefused(GatewayError, ValueError):
    """The financial year or quarter named is not one; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def quarter_of(financial_year: str, quarter: str) -> Quarter:
    """A financial year ("2026-27") and a quarter ("Q1") as a Quarter, or a refusal naming the
    field."""
    check_financial_year(financial_year)
    if quarter not in ("Q1", "Q2", "Q3", "Q4"):
        raise QuarterRefused("quarter", "a quarter is Q1 (April to June) to Q4 (January to March)")
    return Quarter(financial_year, int(quarter[1]))


def check_financial_year(financial_year: str) -> None:
    """Refuse what is not a financial year "2026-27" (the second part is the next year)."""
    start, _, end = financial_year.partition("-")
    if not (start.isdigit() and end.isdigit() and len(start) == 4 and len(end) == 2):
        raise QuarterRefused("financial_year", 'a financial year is written "2026-27"')
    if not 1900 <= int(start) <= 9998 or int(end) != (int(start) + 1) % 100:
        raise QuarterRefused(
            "financial_year", f"{financial_year} is not a financial year from 1900-01 to 9998-99"
        )


def return_rows(
    data: PlaceData, quarter: Quarter, tax: Mapping[str, PaymentTax] | None = None
) -> list[dict[str, str]]:
    """The quarter's rows, in date then transaction order; `tax` holds the VAT and merchant
    category recorded on payments, by payment id."""
    payments = {payment.payment_id: payment for payment in data.payments}
    recorded = tax or {}
    rows = [
        (
            payment.paid_moment,
            _row(data, payment, payment.amount_pence, payment.paid_moment, "", recorded),
        )
        for payment in data.payments
        if payment.status == "made"
        and payment.amount_pence > THRESHOLD_PENCE
        and quarter.holds(payment.paid_moment)
    ]
    for recovery in data.recoveries:
        paid = payments.get(recovery.payment_id)
        moment = recovery.settled_at or (paid.paid_moment if paid else None)
        if paid is None or moment is None or paid.amount_pence <= THRESHOLD_PENCE:
            continue
        if quarter.holds(moment):
            note = f"Credit note: recovery {recovery.clawback_id} of payment {paid.payment_id}. "
            row = _row(data, paid, -recovery.amount_pence, moment, note, recorded)
            rows.append((moment, row))
    rows.sort(key=lambda pair: (pair[0].astimezone(UTC).date(), pair[1]["Transaction number"]))
    return [row for _, row in rows]


def _row(
    data: PlaceData,
    payment: Payment,
    amount_pence: int,
    moment: datetime,
    note: str,
    tax: Mapping[str, PaymentTax],
) -> dict[str, str]:
    allocation = next(
        (a for a in data.allocations if a.allocation_id == payment.allocation_id), None
    )
    beneficiary = data.organisations.get(payment.provider_id)
    purpose = allocation.purpose if allocation else f"allocation {payment.allocation_id}"
    category = MERCHANT_CATEGORIES.get(allocation.allocation_type, "") if allocation else ""
    recorded = tax.get(payment.payment_id)
    vat = ""
    if recorded is not None:
        category = recorded.merchant_category or category
        vat = format_pounds_plain(_vat_part(recorded, payment.amount_pence, amount_pence))
    return {
        "Date": moment.astimezone(UTC).date().isoformat(),
        "Body": _body(data),
        "Beneficiary": beneficiary.name if beneficiary else REDACTED,
        "Summary of purpose": f"{note}{purpose}",
        "Amount": format_pounds_plain(amount_pence),
        "Irrecoverable VAT": vat,
        "Merchant category": category,
        "Transaction number": payment.payment_id,
        "Beneficiary registration number": beneficiary.org_id if beneficiary else "",
    }


def _vat_part(recorded: PaymentTax, paid_pence: int, amount_pence: int) -> int:
    """The VAT of the row's amount: all of it for the payment, pro rata for a credit note
    (rounded towards zero, so a credit note never takes back more VAT than was paid)."""
    if amount_pence == paid_pence:
        return recorded.irrecoverable_vat_pence
    part = abs(amount_pence) * recorded.irrecoverable_vat_pence // paid_pence
    return -part if amount_pence < 0 else part


def _body(data: PlaceData) -> str:
    """The combined authority's registered name, else its name as singlepot knows the place."""
    registered = data.organisations.get(data.place_id)
    return registered.name if registered else data.authority().name


def write_csv(stream: TextIO, rows: list[dict[str, str]]) -> None:
    """The one place a Transparency Code return is written as CSV."""
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)


def csv_text(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    write_csv(buffer, rows)
    return buffer.getvalue()
