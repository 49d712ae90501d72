"""Value objects and constrained strings shared by the event models."""

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from contracts.money import Pence, PositivePence, check_total_within_limit

IDENTIFIER_LENGTH_MAX = 128
TEXT_LENGTH_MAX = 4000

Identifier = Annotated[str, Field(min_length=1, max_length=IDENTIFIER_LENGTH_MAX)]
"""A human-readable id such as "GM" or "A-17": never empty."""

Text = Annotated[str, Field(min_length=1, max_length=TEXT_LENGTH_MAX)]
"""Free text a person reads (a purpose, a reason): never empty, bounded."""

Figures = dict[Identifier, int]
"""The numbers a refusal rests on, by name ("amount_pence", "owed_pence"), exactly as the
deciding service gave them: a person reads the rule, the reason and these."""


def _check_financial_year(value: str) -> str:
    first, second = value.split("-")
    expected = (int(first) + 1) % 100
    if int(second) != expected:
        raise ValueError(
            f"financial year {value!r} must end with the next year: {first}-{expected:02d}"
        )
    return value


def _exact_financial_year_pattern() -> str:
    """A regular expression for "YYYY-YY" whose second year follows the first ("2026-27",
    "2099-00"): the rule `_check_financial_year` applies, written so that the JSON schema (and
    the OpenAPI document) states it too, and a schema-valid year is never refused."""
    by_tens = []
    for tens in range(10):
        pairs = [f"{units}-{(tens * 10 + units + 1) % 100:02d}" for units in range(10)]
        by_tens.append(f"{tens}(?:{'|'.join(pairs)})")
    return r"^\d{2}(?:" + "|".join(by_tens) + ")$"


FINANCIAL_YEAR_PATTERN_SHAPE = r"^\d{4}-\d{2}$"
FINANCIAL_YEAR_PATTERN = _exact_financial_year_pattern()

# Validated by shape and then by the next-year rule, for a message a person can read; the
# schema shows the exact pattern, which says the same in one expression.
FinancialYear = Annotated[
    str,
    Field(pattern=FINANCIAL_YEAR_PATTERN_SHAPE),
    AfterValidator(_check_financial_year),
    WithJsonSchema({"type": "string", "pattern": FINANCIAL_YEAR_PATTERN}),
]
"""A UK financial year, April to March, written "2026-27"."""


def next_financial_year(financial_year: str) -> str:
    """'2026-27' -> '2027-28'."""
    start = int(financial_year[:4]) + 1
    return f"{start}-{(start + 1) % 100:02d}"


def financial_year_on(day: date) -> str:
    """The UK financial year (April to March) a day falls in: 7 Dec 2026 -> '2026-27'."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def repeated_values(values: list[str]) -> list[str]:
    """The values that occur more than once, sorted, for "each ... once" rules."""
    return sorted({value for value in values if values.count(value) > 1})


class ValueObject(BaseModel):
    """Base for small immutable values nested inside events."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FinancialYearAmount(ValueObject):
    """An amount of money for one financial year, e.g. one year of a settlement's profile."""

    financial_year: FinancialYear
    amount_pence: Pence


def _check_years_unique(
    profile: tuple[FinancialYearAmount, ...],
) -> tuple[FinancialYearAmount, ...]:
    repeated = repeated_values([entry.financial_year for entry in profile])
    if repeated:
        raise ValueError(f"profile lists a financial year more than once: {', '.join(repeated)}")
    check_total_within_limit(sum(entry.amount_pence for entry in profile), "the profile's years")
    return profile


Profile = Annotated[
    tuple[FinancialYearAmount, ...], Field(min_length=1), AfterValidator(_check_years_unique)
]
"""Money per financial year: at least one year, each year once, adding up to at most
`PENCE_MAX`."""


class AttributionShare(ValueObject):
    """The part of an amount that came from one department's funding stream."""

    department_code: Identifier
    funding_stream_code: Identifier
    amount_pence: Pence


Attribution = tuple[AttributionShare, ...]


def check_attribution_adds_up(attribution: Attribution, amount_pence: int) -> None:
    """Raise ValueError unless the shares add up to the amount exactly, to the penny."""
    shares_pence = sum(share.amount_pence for share in attribution)
    if shares_pence != amount_pence:
        raise ValueError(
            f"attribution shares add up to {shares_pence} pence but amount_pence is {amount_pence}"
        )


class TransferLeg(ValueObject):
    """One side of a double-entry transfer: an account debited or credited."""

    account: Identifier
    direction: Literal["debit", "credit"]
    amount_pence: PositivePence
