"""The 360Giving CSV carries what the JSON carries: flatten-tool (the library 360Giving's own
Data Quality Tool uses to read spreadsheets) turns the CSV back into exactly the JSON grants,
with the vendored 1.4.3 schema's titles, and the result validates against that schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.gateway.opendata import threesixtygiving, validation
from tests.unit.opendata.opendata_sample import MOMENT, sample

flattentool = pytest.importorskip("flattentool")
SOURCE = "https://example.org/open-data/places/GM"


def test_flatten_tool_reads_the_360giving_csv_back_into_the_json_grants(tmp_path: Path) -> None:
    data = sample()
    sheets = tmp_path / "csv"
    sheets.mkdir()
    (sheets / "grants.csv").write_text(
        threesixtygiving.csv_text(threesixtygiving.csv_rows(data, SOURCE)),
        encoding="utf-8",
        newline="",
    )
    unflattened = tmp_path / "grants.json"

    flattentool.unflatten(
        str(sheets),
        output_name=str(unflattened),
        input_format="csv",
        schema=str(validation.SCHEMAS / "360-giving-schema.json"),
        root_list_path="grants",
        root_id="",
        id_name="id",
        convert_titles=True,
    )

    grants = json.loads(unflattened.read_text(encoding="utf-8"))["grants"]
    package = threesixtygiving.package(data, MOMENT, SOURCE)
    assert grants == package["grants"]
    assert any("disbursementTransaction" in grant for grant in grants)
    assert validation.errors(validation.threesixtygiving_validator(), package) == []
