"""`singlepot ledger ...`: an auditor's checks and a finance officer's reports, from the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from contracts.money import format_pounds
from services.ledger import db
from services.ledger.as_at import AsAtBasis, BalanceFilter
from services.ledger.as_at import balances_as_at as as_at_balances
from services.ledger.verification import PlaceVerification, verify_all
from services.runtime.db import create_pool
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings

app = typer.Typer(help="Verify the ledger and print its reports.", no_args_is_help=True)
console = Console()


class Basis(StrEnum):
    """Which date a balance as at a date goes by."""

    effective = "effective"
    recorded = "recorded"


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


@app.command()
def balances(
    place: str = typer.Argument(..., help="The place, e.g. GM."),
    as_at: datetime = typer.Option(
        ..., "--as-at", formats=["%Y-%m-%d"], help="The day, e.g. 2027-03-31 (its end, UTC)."
    ),
    by: Basis = typer.Option(Basis.effective, help="By effective date or by recorded date."),
    department: str | None = typer.Option(None, help="Only this department's accounts."),
    stream: str | None = typer.Option(None, help="Only this funding stream's accounts."),
    allocation: str | None = typer.Option(None, help="Only this allocation's accounts."),
    account: str | None = typer.Option(None, help="Only this account."),
) -> None:
    """Every account's balance as at a date, naming the chain position it was computed to; the
    audit export up to that position re-derives it (docs/audit-export.md)."""
    wanted = BalanceFilter(account, department, stream, allocation)
    answer = asyncio.run(_balances(place, as_at.date(), by.value, wanted))
    position = answer["chain_position"]
    table = Table(title=f"Balances of {place} as at {answer['as_at']} by {answer['by']} date")
    for column in ("financial year", "account", "balance"):
        table.add_column(column, justify="right" if column == "balance" else "left")
    for row in answer["balances"]:
        table.add_row(row["financial_year"], row["account"], format_pounds(row["balance_pence"]))
    console.print(table)
    console.print(f"chain position {position['sequence']}, hash {position['chain_hash']}")
    console.print(f"recorded through sequence {answer['recorded_through_sequence']}")
    if answer["left_out_sequences"]:
        later = ", ".join(str(sequence) for sequence in answer["left_out_sequences"])
        console.print(f"left out (effective after {answer['as_at']}): {later}")
    if answer["added_sequences"]:
        earlier = ", ".join(str(sequence) for sequence in answer["added_sequences"])
        console.print(f"added (recorded later, effective by {answer['as_at']}): {earlier}")


async def _balances(place: str, day: date, by: AsAtBasis, wanted: BalanceFilter) -> dict[str, Any]:
    async with _ledger_connection() as connection:
        return await as_at_balances(connection, place, day, by, wanted)


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
