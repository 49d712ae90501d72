"""Tests of the money types: integer pence only, and how pounds are shown to people."""

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import Pence, SignedPence, format_pounds
from contracts.money import MINUS_SIGN, format_pounds_plain

pence = TypeAdapter(Pence)
signed_pence = TypeAdapter(SignedPence)


def test_pence_accepts_a_whole_number_of_pence() -> None:
    assert pence.validate_python(25_000) == 25_000


def test_pence_accepts_zero() -> None:
    assert pence.validate_python(0) == 0


def test_pence_rejects_a_float_even_when_whole() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        pence.validate_python(1.0)


def test_pence_rejects_a_bool() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        pence.validate_python(True)


def test_pence_rejects_a_string_of_digits() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        pence.validate_python("100")


def test_pence_rejects_a_negative_amount_naming_the_rule() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        pence.validate_python(-1)


def test_pence_rejects_a_float_in_json_too() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        pence.validate_json(b"1.0")


def test_signed_pence_allows_a_negative_balance() -> None:
    assert signed_pence.validate_python(-500) == -500


def test_signed_pence_still_rejects_a_float() -> None:
    with pytest.raises(ValidationError):
        signed_pence.validate_python(-1.0)


@pytest.mark.parametrize(
    ("amount_pence", "shown"),
    [
        (25_000_000, "£250,000.00"),
        (-1_234, "−£12.34"),
        (0, "£0.00"),
        (5, "£0.05"),
        (-5, "−£0.05"),
        (300_000_000_000, "£3,000,000,000.00"),
    ],
)
def test_format_pounds_shows_pence_as_pounds_with_separators(amount_pence: int, shown: str) -> None:
    assert format_pounds(amount_pence) == shown


@pytest.mark.parametrize(
    ("amount_pence", "written"),
    [(25_000_000, "250000.00"), (-1_234, "-12.34"), (0, "0.00"), (-5, "-0.05")],
)
def test_format_pounds_plain_writes_a_decimal_a_spreadsheet_parses(
    amount_pence: int, written: str
) -> None:
    assert format_pounds_plain(amount_pence) == written
    assert round(float(written) * 100) == amount_pence


def test_people_see_one_minus_sign_in_pages_and_charts() -> None:
    from services.gateway.web import charts, rendering

    negative = -1_000_000
    assert rendering.pounds(negative).startswith(MINUS_SIGN)
    assert charts.format_pence(negative) == rendering.pounds(negative)
    assert charts.format_pence_short(negative).startswith(MINUS_SIGN)
