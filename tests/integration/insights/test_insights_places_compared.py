"""Places compared from their open data read over HTTP: two places of a real gateway served by
uvicorn, read by `singlepot compare` and its fetching function, and this installation's
comparison API and page; figures worked out by hand in the comments."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from singlepot.cli import app as cli
from singlepot.insights_cli import compare_urls
from tests.integration.gateway.gateway_support import client_for, gateway_settings, served
from tests.integration.insights.insights_support import connect, write_place
from tests.integration.web.web_support import browser_client

pytestmark = pytest.mark.integration


async def write_two_places(database_url: str) -> None:
    """GM and WM as insights_support writes them, then WM made different: one JOB claim
    clawed back, a target of 20 JOB outcomes, its grant tagged, and slower payment."""
    await write_place(database_url, "GM")
    await write_place(database_url, "WM")
    connection = await connect(database_url)
    try:
        await connection.executemany(
            "INSERT INTO evidence_batches (place_id, contract_id, batch_id, status, received_at)"
            " VALUES ($1, 'OC-1', 'B-1', 'paid', '2026-09-01T09:00:00Z')",
            [("GM",), ("WM",)],
        )
        await connection.execute(
            "UPDATE payments SET claim_batch_id = 'B-1', paid_at = CASE place_id"
            " WHEN 'GM' THEN '2026-09-11T09:00:00Z'::timestamptz"
            " ELSE '2026-09-21T09:00:00Z'::timestamptz END WHERE payment_id = 'PAY-1'"
        )
        await connection.execute(
            "INSERT INTO clawbacks (place_id, contract_id, clawback_id, payment_id, metric_id,"
            " amount_pence, status, reason, recovered_pence) VALUES ('WM', 'OC-1', 'CB-1',"
            " 'PAY-1', 'JOB', 100000, 'recovered', 'invalid', 100000)"
        )
        await connection.execute(
            "UPDATE contracts SET terms = jsonb_set(terms, '{metrics}',"
            ' \'[{"metric_id": "JOB", "definition": "a job", "target_count": 20}]\')'
            " WHERE place_id = 'WM'"
        )
        await connection.execute(
            'UPDATE allocations SET purpose_tags = \'["early-intervention", "housing"]\''
            " WHERE place_id = 'WM' AND allocation_id = 'A-GRANT'"
        )
    finally:
        await connection.close()


async def test_two_places_are_compared_from_their_open_data_over_http(
    settings, database_url
) -> None:
    await write_two_places(database_url)
    async with served(settings, gateway_settings()) as url:
        comparison = await compare_urls(
            [f"{url}/open-data/places/GM", f"{url}/open-data/places/WM"]
        )
        printed = await asyncio.to_thread(
            CliRunner().invoke, cli, ["compare", f"{url}/open-data/places/GM/", "--json"]
        )
        missing = await asyncio.to_thread(
            CliRunner().invoke, cli, ["compare", f"{url}/open-data/places/NOWHERE"]
        )

    gm, wm = comparison["places"]  # type: ignore[misc]
    # GM: 5 JOB outcomes paid £5,000 = £1,000 each; nothing clawed back; paid 10 days after
    # its evidence arrived; its pot untagged.
    assert (gm["place_id"], gm["outcomes_paid"], gm["unit_cost_pence"]) == ("GM", 5, 100_000)
    assert gm["clawback_rate_basis_points"] == 0
    assert gm["evidence_to_payment_median_days"] == "10"
    assert gm["pot_by_purpose"] == [
        {"purpose": "untagged", "amount_pence": 7_200_000, "share_basis_points": 10_000}
    ]
    # WM: one outcome clawed back, its £1,000 recovered: 4 outcomes for £4,000 = £1,000 each;
    # £1,000 of £5,000 paid out was recovered (20%); paid 20 days after the evidence.
    assert (wm["outcomes_paid"], wm["unit_cost_pence"]) == (4, 100_000)
    assert wm["clawback_rate_basis_points"] == 2_000
    assert wm["evidence_to_payment_median_days"] == "20"
    # The grant's £12,000 is split between its two tags: £6,000 of £72,000 = 8.33% each.
    assert wm["pot_by_purpose"] == [
        {"purpose": "untagged", "amount_pence": 6_000_000, "share_basis_points": 8_333},
        {"purpose": "early-intervention", "amount_pence": 600_000, "share_basis_points": 833},
        {"purpose": "housing", "amount_pence": 600_000, "share_basis_points": 833},
    ]
    (job,) = comparison["metrics"]  # type: ignore[misc]
    assert [(p["place_id"], p["outcomes_paid"], p["target_count"],
             p["outcomes_to_target_basis_points"]) for p in job["places"]] == [
        ("GM", 5, None, None),
        ("WM", 4, 20, 2_000),  # 4 of 20
    ]  # fmt: skip
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output)["places"][0]["unit_cost_pence"] == 100_000
    assert missing.exit_code == 1 and "answered 404" in missing.output


async def test_this_installations_places_are_compared_by_the_public_api_and_page(
    settings, database_url
) -> None:
    await write_two_places(database_url)
    async with client_for(settings, gateway_settings()) as client:
        every = await client.get("/api/v1/places-compared")
        one = await client.get("/api/v1/places-compared?place=WM")
        unknown = await client.get("/api/v1/places-compared?place=NOWHERE")
    async with browser_client(settings) as client:
        page = await client.get("/places-compared")

    assert every.status_code == 200, every.text
    assert [p["place_id"] for p in every.json()["places"]] == ["GM", "WM"]
    assert [p["place_id"] for p in one.json()["places"]] == ["WM"]
    # A place this installation does not know is named apart, not compared.
    assert unknown.json()["places"] == [] and unknown.json()["unknown_places"] == ["NOWHERE"]
    assert page.status_code == 200
    assert 'role="img"' in page.text and "JOB, WM: 4 against a target of 20" in page.text
