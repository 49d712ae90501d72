"""The money types shared by every service: integer pence, never floats."""

from typing import Annotated

from pydantic import Field, Strict

# Strict so that 1.0, True and "1" are refused rather than quietly coerced: a float that
# happens to be whole today is a rounding error waiting to happen tomorrow.
Pence = Annotated[int, Strict(), Field(ge=0)]
"""A non-negative amount of money in pence."""

PositivePence = Annotated[int, Strict(), Field(gt=0)]
"""An amount of money in pence that must be more than zero (a request to move money)."""

SignedPence = Annotated[int, Strict()]
"""An amount of money in pence that may be negative (a balance or a delta)."""


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
