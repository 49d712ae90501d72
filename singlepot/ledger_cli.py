"""`singlepot ledger ...`: an auditor's checks and a finance officer's reports, from the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from contracts.money import format_pounds
from services.ledger import db
from services.ledger.verification import PlaceVerification, verify_all
from services.runtime.db import create_pool
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings

app = typer.Typer(help="Verify the ledger and print its reports.", no_args_is_help=True)
console = Console()


@app.command()
def verify(
    place: str | None = typer.Option(None, help="Only this place (default: every place)."),
) -> None:
    """Recompute each place's hash chain and balances; exit 1 at the first broken link."""
    results = asyncio.run(_verify(place))
    for result in results:
        style = "green" if result.intact else "bold red"
        console.print(result.summary(), style=style)
    if not results:
        console.print("The ledger has no places yet.")
    if not all(result.intact for result in results):
        raise typer.Exit(1)


async def _verify(place: str | None) -> list[PlaceVerification]:
    async with _ledger_connection() as connection:
        return await verify_all(connection, place)


@app.command(name="trial-balance")
def trial_balance(
    place: str = typer.Argument(..., help="The place, e.g. GM."),
    financial_year: str = typer.Argument(..., help="The financial year, e.g. 2026-27."),
) -> None:
    """Every account's balance for a place and year; debits and credits agree."""
    rows = asyncio.run(_trial_balance(place, financial_year))
    table = Table(title=f"Trial balance: {place} {financial_year}")
    table.add_column("account")
    table.add_column("debit", justify="right")
    table.add_column("credit", justify="right")
    for row in rows:
        balance = row["balance_pence"]
        debit, credit = (
            (format_pounds(-balance), "") if balance < 0 else ("", format_pounds(balance))
        )
        table.add_row(row["account"], debit, credit)
    debits = -sum(row["balance_pence"] for row in rows if row["balance_pence"] < 0)
    credits = sum(row["balance_pence"] for row in rows if row["balance_pence"] > 0)
    table.add_row("total", format_pounds(debits), format_pounds(credits), style="bold")
    console.print(table)


async def _trial_balance(place: str, financial_year: str) -> list[dict]:
    async with _ledger_connection() as connection:
        return await db.trial_balance(connection, place, financial_year)


@asynccontextmanager
async def _ledger_connection() -> AsyncIterator[asyncpg.Connection]:
    """A connection to the ledger's schema; a database that cannot be reached is one sentence."""
    settings = RuntimeSettings()
    try:
        pool = await create_pool(settings.effective_database_url(), "ledger", 2)
    except RuntimeFailure as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(1) from None
    try:
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()
