"""Writing CSV that is safe to open in a spreadsheet: every CSV the project writes (the
department spend download, the public 360Giving CSV, the export command line) goes through
these writers, which neutralise cells a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

# Cells a spreadsheet would run as a formula start with one of these (OWASP, "CSV Injection");
# they are prefixed with ' so the spreadsheet shows them as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_TERMINATOR = "\r\n"


def safe_cell(value: Any) -> str:
    """The cell's text, with "'" put before anything a spreadsheet would run as a formula;
    a plain number (-5, -0.05) is left as it is, since it is no formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _is_plain_number(text):
        return "'" + text
    return text


def _is_plain_number(text: str) -> bool:
    digits = text.removeprefix("-")
    return digits.replace(".", "", 1).isdigit()


class SafeWriter:
    """`csv.writer` whose every cell goes through `safe_cell`."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = csv.writer(stream, lineterminator=LINE_TERMINATOR)

    def writerow(self, row: Sequence[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """`csv.DictWriter` whose every cell goes through `safe_cell`."""

    def __init__(self, stream: TextIO, fieldnames: Sequence[str]) -> None:
        self.fieldnames = list(fieldnames)
        self._writer = SafeWriter(stream)

    def writeheader(self) -> None:
        self._writer.writerow(self.fieldnames)

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow([row.get(name) for name in self.fieldnames])

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)
