"""The money types shared by every service: integer pence, never floats, never unbounded."""

from typing import Annotated

from pydantic import Field, Strict

PENCE_MAX = 2**53 - 1
"""The most any amount or total may be, in pence: 9,007,199,254,740,991 (about £90 trillion).

Chosen so that every amount and every total the system keeps (a stream's or a pot's money in a
financial year) stays exact both in PostgreSQL's signed 64-bit `bigint` and in a JSON number
read as an IEEE double by a browser or a department's client (integers are exact up to 2^53 - 1
there). The ledger refuses a request that would take a stream or pot total over it, so sums of
a few thousand totals still fit in 64 bits."""

# Strict so that 1.0, True and "1" are refused rather than quietly coerced: a float that
# happens to be whole today is a rounding error waiting to happen tomorrow.
Pence = Annotated[int, Strict(), Field(ge=0, le=PENCE_MAX)]
"""A non-negative amount of money in pence, at most `PENCE_MAX`."""

PositivePence = Annotated[int, Strict(), Field(gt=0, le=PENCE_MAX)]
"""An amount of money in pence that must be more than zero (a request to move money)."""

SignedPence = Annotated[int, Strict(), Field(ge=-PENCE_MAX, le=PENCE_MAX)]
"""An amount of money in pence that may be negative (a balance or a delta)."""


def check_total_within_limit(total_pence: int, what: str) -> None:
    """Raise ValueError when a sum of amounts (`what`: "the profile's years") is over the
    limit: each amount may be within it while their total is not."""
    if total_pence > PENCE_MAX:
        raise ValueError(
            f"{what} add up to {total_pence} pence, over the limit of {PENCE_MAX} pence "
            "(2^53 - 1, the most kept exactly in a 64-bit integer and a JSON number)"
        )


# People read a negative amount with a true minus sign (U+2212), which screen readers say as
# "minus"; machine formats (CSV, JSON) use the ASCII hyphen that spreadsheets parse.
MINUS_SIGN = "\u2212"


def format_pounds(pence: int) -> str:
    """Pence as pounds for people, the one formatter for pages, charts, messages and the CLI:
    25000000 -> "£250,000.00", -1234 -> "−£12.34"."""
    sign = MINUS_SIGN if pence < 0 else ""
    pounds, remainder = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{remainder:02d}"


def format_pounds_plain(pence: int) -> str:
    """Pence as a plain decimal of pounds for machine formats: -1234 -> "-12.34"."""
    sign = "-" if pence < 0 else ""
    pounds, remainder = divmod(abs(pence), 100)
    return f"{sign}{pounds}.{remainder:02d}"
