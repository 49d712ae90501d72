"""`singlepot compare URL…` (places side by side from their open data, over HTTP, from this
installation or any other) and `singlepot unit-costs load` (a place's unit-cost table from CSV,
as its next version)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from contracts.money import format_pounds
from services.gateway.insights import db as insights_db
from services.gateway.insights import domain, unit_costs
from services.runtime.db import create_pool
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings

console = Console()
unit_costs_app = typer.Typer(help="A place's unit-cost table for the reform dividend.")
FETCH_TIMEOUT_S = 30.0
DOCUMENT_BYTES_MAX = 50_000_000


def insights_url(url: str) -> str:
    """A place's open-data address, or its insights.json itself, as the document's address."""
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith("/insights.json") else f"{trimmed}/insights.json"


async def fetch_documents(
    urls: Sequence[str], timeout_s: float = FETCH_TIMEOUT_S
) -> list[tuple[str, object]]:
    """Each place's insights open data, read over HTTP; a failure names the URL."""
    documents: list[tuple[str, object]] = []
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
        for url in urls:
            address = insights_url(url)
            try:
                response = await client.get(address, headers={"Accept": "application/json"})
            except httpx.HTTPError as error:
                raise domain.ComparisonRefused(f"{address} could not be read: {error}") from None
            if response.status_code != 200 or len(response.content) > DOCUMENT_BYTES_MAX:
                raise domain.ComparisonRefused(f"{address} answered {response.status_code}")
            try:
                documents.append((address, response.json()))
            except ValueError:
                raise domain.ComparisonRefused(f"{address} is not JSON") from None
    return documents


async def compare_urls(urls: Sequence[str]) -> dict[str, object]:
    return domain.compare(await fetch_documents(urls))


def _share(points: object) -> str:
    return "–" if points is None else f"{int(str(points)) / 100:.2f}%"


def _pounds(pence: object) -> str:
    return "–" if pence is None else format_pounds(int(str(pence)))


def _print(comparison: dict[str, Any]) -> None:
    table = Table(title="Places compared")
    for heading in ("Place", "Outcomes paid", "Paid per outcome", "Clawback rate",
                    "Median days, evidence to payment", "Public value per £1"):  # fmt: skip
        table.add_column(heading)
    for place in comparison["places"]:
        table.add_row(
            str(place["place_id"]),
            str(place["outcomes_paid"]),
            _pounds(place["unit_cost_pence"]),
            _share(place["clawback_rate_basis_points"]),
            str(place["evidence_to_payment_median_days"] or "–"),
            f"£{place['public_value_per_pound_paid']}"
            if place["public_value_per_pound_paid"]
            else "–",
        )
    console.print(table)
    metrics = Table(title="By outcome metric")
    for heading in ("Metric", "Place", "Outcomes paid", "Target", "Paid per outcome"):
        metrics.add_column(heading)
    for metric in comparison["metrics"]:
        for place in metric["places"]:
            metrics.add_row(
                str(metric["metric_id"]),
                str(place["place_id"]),
                str(place["outcomes_paid"]),
                str(place["target_count"] if place["target_count"] is not None else "–"),
                _pounds(place["unit_cost_pence"]),
            )
    console.print(metrics)


def compare(
    urls: list[str] = typer.Argument(
        ..., help="Places' open-data addresses, e.g. http://localhost:8000/open-data/places/GM"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Compare places from their open data (this installation's or any other's, by URL)."""
    try:
        comparison = asyncio.run(compare_urls(urls))
    except domain.ComparisonRefused as refusal:
        console.print(f"[bold red]singlepot:[/] {refusal}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(comparison, indent=2, ensure_ascii=False))
    else:
        _print(comparison)


@unit_costs_app.command(name="load")
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The table as CSV."),
    place: str = typer.Option(..., "--place", help="The place, e.g. GM."),
    loaded_by: str = typer.Option("cli", "--by", help="Who loads it (kept with each row)."),
) -> None:
    """Load a unit-cost table (metric_id, beneficiary_agency, fiscal_saving_pence,
    public_value_pence, source, source_year) as the place's next version."""
    try:
        table = unit_costs.table_of(file.read_text(encoding="utf-8"))
    except domain.UnitCostsRefused as refusal:
        console.print(f"[bold red]singlepot:[/] {refusal} (field {refusal.field})")
        raise typer.Exit(2) from None
    version = asyncio.run(_store(place, table, loaded_by))
    console.print(f"Loaded {len(table)} unit costs for {place} as version {version}.")


async def _store(place: str, table: list[domain.UnitCost], loaded_by: str) -> int:
    settings = RuntimeSettings()
    try:
        pool = await create_pool(settings.effective_database_url(), "gateway", 2)
    except RuntimeFailure as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(1) from None
    try:
        async with pool.acquire() as connection:
            return await insights_db.load_unit_costs(connection, place, table, loaded_by)
    finally:
        await pool.close()
