"""Reading a unit-cost table from CSV text (the API's body, the CLI's file) into the rows the
pure `domain.parse_unit_costs` checks."""

from __future__ import annotations

import csv
import io
import re

from services.gateway.insights import domain


def rows_of(text: str) -> list[dict[str, str]]:
    """The CSV's rows by header; a missing column is refused naming it."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in domain.UNIT_COST_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise domain.UnitCostsRefused(
            "header",
            "columns",
            f"the CSV's header must name {', '.join(domain.UNIT_COST_COLUMNS)}; missing: "
            + ", ".join(missing),
        )
    rows = []
    for row in reader:
        rows.append({key: value for key, value in row.items() if isinstance(key, str)})
        if len(rows) > domain.UNIT_COST_ROWS_MAX:
            break
    return rows


def table_of(text: str) -> list[domain.UnitCost]:
    """A checked table from CSV text of the documented shape (`UNIT_COST_CSV_PATTERN`)."""
    if not re.search(domain.UNIT_COST_CSV_PATTERN, text):
        raise domain.UnitCostsRefused(
            "body",
            "pattern",
            "the CSV must be the header "
            + ",".join(domain.UNIT_COST_COLUMNS)
            + " then 1 to 10,000 rows: text, text, whole pence, whole pence, text, text (none "
            "blank; a text holding a comma in double quotes)",
        )
    return domain.parse_unit_costs(rows_of(text))
