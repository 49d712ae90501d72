"""`singlepot unit-costs load`: a CSV file becomes the place's next unit-cost version in the
gateway's database; a bad file is one sentence naming the field, and nothing is stored."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from singlepot.cli import app
from singlepot.demo import DEMO_UNIT_COSTS
from tests.integration.insights.insights_support import connect

pytestmark = pytest.mark.integration


def _load(database_url: str, *arguments: str):
    return CliRunner().invoke(
        app,
        ["unit-costs", "load", *arguments],
        env={"DATABASE_URL": database_url, "COLUMNS": "200"},
        catch_exceptions=False,
    )


async def _versions(database_url: str) -> list[tuple[int, int]]:
    connection = await connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT version, count(*) AS rows FROM insights_unit_costs WHERE place_id = 'GM'"
            " GROUP BY version ORDER BY version"
        )
    finally:
        await connection.close()
    return [(row["version"], row["rows"]) for row in rows]


async def test_a_csv_file_loads_as_the_next_version_and_a_bad_one_is_refused(
    database_url, tmp_path
) -> None:
    table = tmp_path / "unit-costs.csv"
    table.write_text(DEMO_UNIT_COSTS, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(DEMO_UNIT_COSTS.replace("250000", "2.5"), encoding="utf-8")

    first = await asyncio.to_thread(_load, database_url, str(table), "--place", "GM")
    second = await asyncio.to_thread(_load, database_url, str(table), "--place", "GM")
    refused = await asyncio.to_thread(_load, database_url, str(bad), "--place", "GM")

    assert first.exit_code == 0 and "as version 1" in first.output, first.output
    assert "as version 2" in second.output
    assert refused.exit_code == 2 and "field body" in refused.output
    assert await _versions(database_url) == [(1, 5), (2, 5)]  # the demo table has 5 rows
