"""`singlepot export ...`: a place's open data (360Giving, OCDS, INDIGO) and the auditor's
hash-chain export, written to a file or to standard output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from services.gateway.opendata import db as opendata_db
from services.gateway.opendata import history, history_db, indigo, records, threesixtygiving
from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import (
    PlaceData,
    Publisher,
    PublishingRefused,
    resolve_publisher,
)
from services.gateway.settings import GatewaySettings
from services.ledger import audit
from services.runtime.db import create_pool
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings

app = typer.Typer(help="Export a place's open data or its audit trail.", no_args_is_help=True)
# Messages go to stderr, so that an export written to stdout stays clean.
console = Console(stderr=True)

PLACE = typer.Option(..., "--place", help="The place, e.g. GM.")
OUT = typer.Option(None, "--out", help="Write to this file (default: standard output).")


class GrantFormat(StrEnum):
    json = "json"
    csv = "csv"


@app.command(name="360giving")
def threesixty_giving(
    place: str = PLACE,
    format: GrantFormat = typer.Option(GrantFormat.json, "--format", help="json or csv."),
    out: Path | None = OUT,
) -> None:
    """Awards and payments as 360Giving data: a grants package (JSON) or the flat CSV."""
    data = asyncio.run(_place_data(place))
    with _output(out) as stream:
        if format is GrantFormat.csv:
            threesixtygiving.write_csv(stream, threesixtygiving.csv_rows(data))
        else:
            _write_json(stream, threesixtygiving.package(data, _dated(data)))
    _done(out, f"{len(data.grants())} grants")


@app.command(name="ocds")
def ocds_release_package(
    place: str = PLACE,
    out: Path | None = OUT,
) -> None:
    """Contracts, milestones and payments as an OCDS 1.1 release package: every release kept."""
    data = asyncio.run(_place_data(place))
    kept = asyncio.run(_kept_releases(data))
    uri = f"singlepot:open-data/places/{place}/ocds.json"
    with _output(out) as stream:
        published_at = history.last_released(kept, _dated(data))
        _write_json(stream, history.release_package_of(data, kept, published_at, uri))
    _done(out, f"{len(kept)} releases")


@app.command(name="ocds-records")
def ocds_record_package(place: str = PLACE, out: Path | None = OUT) -> None:
    """Contracts as an OCDS 1.1 record package: compiled and versioned releases."""
    data = asyncio.run(_place_data(place))
    kept = asyncio.run(_kept_releases(data))
    releases = [history.identified(k, data.identity()) for k in kept]
    uri = f"singlepot:open-data/places/{place}/ocds-records.json"
    releases_uri = f"singlepot:open-data/places/{place}/ocds.json"
    with _output(out) as stream:
        published_at = history.last_released(kept, _dated(data))
        package = records.record_package(data, releases, published_at, uri, releases_uri)
        _write_json(stream, package)
    _done(out, f"{len(data.contracted())} records")


async def _kept_releases(data: PlaceData) -> list[history.KeptRelease]:
    """The place's kept OCDS releases, after keeping one for any process that changed since."""
    async with _connection("gateway") as connection:
        await history_db.catch_up(connection, data, _now())
        return await history_db.kept_releases(connection, data.place_id)


@app.command(name="indigo")
def indigo_projects(place: str = PLACE, out: Path | None = OUT) -> None:
    """Outcomes contracts as INDIGO project data."""
    data = asyncio.run(_place_data(place))
    with _output(out) as stream:
        _write_json(stream, indigo.projects(data, _dated(data)))
    _done(out, f"{len(data.contracts)} projects")


@app.command(name="audit")
def audit_export(
    place: str = PLACE,
    out: Path | None = OUT,
    up_to_sequence: int | None = typer.Option(
        None,
        "--up-to-sequence",
        min=0,
        help="Stop at this chain position (the one a balance as at a date names).",
    ),
) -> None:
    """The place's whole transfer log with its hash chain, as JSON Lines; check it with
    `python tools/verify_audit.py FILE`."""
    with _output(out) as stream:
        count = asyncio.run(_write_audit(place, stream, out is not None, up_to_sequence))
    _done(out, f"{count} transfers")


async def _write_audit(
    place: str, stream: TextIO, shown: bool, up_to_sequence: int | None = None
) -> int:
    """Write the export line by line as the ledger's cursor yields it; the number of transfers."""
    async with _connection("ledger") as connection:
        lines = audit.stream_lines(connection, place, _now(), up_to_sequence=up_to_sequence)
        header = await anext(lines)
        stream.write(header + "\n")
        total: int = json.loads(header)["transfer_count"]
        with _progress_bar("transfers", shown, total) as advance:
            async for text in lines:
                stream.write(text + "\n")
                advance()
    return total


async def _place_data(place: str) -> PlaceData:
    """The place's data with its publishing identity, as the HTTP files have it; a place that
    registered no prefixes is refused outside the demo, in one sentence."""
    settings = GatewaySettings()
    entry = settings.opendata_publishers.get(place)

    def publisher(authority: Organisation | None) -> Publisher:
        return resolve_publisher(
            place,
            entry.threesixtygiving_prefix if entry else None,
            entry.ocds_prefix if entry else None,
            entry.publication_policy_url if entry else None,
            authority,
            settings.opendata_demo,
        )

    async with _connection("gateway") as connection:
        try:
            return await opendata_db.place_data(connection, place, publisher=publisher)
        except PublishingRefused as refusal:
            console.print(f"[bold red]singlepot:[/] {refusal}")
            raise typer.Exit(1) from None


@asynccontextmanager
async def _connection(schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to one service's schema; a database that cannot be reached is one sentence."""
    settings = RuntimeSettings()
    try:
        pool = await create_pool(settings.effective_database_url(), schema, 2)
    except RuntimeFailure as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(1) from None
    try:
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()


@contextmanager
def _output(out: Path | None) -> Iterator[TextIO]:
    if out is None:
        yield sys.stdout
        return
    # newline="" keeps the CSV's CRLF line ends as the csv module wrote them.
    with out.open("w", encoding="utf-8", newline="") as stream:
        yield stream


@contextmanager
def _progress_bar(what: str, shown: bool, total: int | None) -> Iterator[Callable[[], None]]:
    """A function to call once per item written: a progress bar on stderr, or nothing."""
    if not shown:
        yield lambda: None
        return
    with Progress(
        TextColumn(f"writing {what}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task(what, total=total)
        yield lambda: progress.advance(task)


def _write_json(stream: TextIO, document: object) -> None:
    json.dump(document, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


def _done(out: Path | None, what: str) -> None:
    if out is not None:
        console.print(f"[green]✓[/] wrote {what} to {out}")


def _dated(data: PlaceData) -> datetime:
    """The data's latest change, as the HTTP files are dated."""
    # Imported here: the HTTP module brings FastAPI and the service host, which every command
    # would otherwise load, `singlepot up` on the way to its first service included.
    from services.gateway.opendata.api import EPOCH

    return data.last_changed() or EPOCH


def _now() -> datetime:
    return datetime.now(UTC)
