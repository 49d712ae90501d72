"""`singlepot users ...`: who may call the gateway. Add people and services with roles, issue
tokens (shown once; only their hashes are stored), revoke them, set web sign-in passwords, and
list everyone.

A grant is written `role@PLACE[:SUBJECT]`: `finance@GM`, `chair@GM`, `auditor@LPL`,
`provider@GM:PROV-1` (a provider acts for its own id only), `department@GM:DWP` (DWP's spend
in GM only). `@*` is the national grant, for every place: `department@*:DWP`, `auditor@*`.
The place is never left out.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from services.gateway.domain import Grant, Role, explicit_grant
from services.gateway.identity import users
from services.gateway.identity.passwords import PasswordRuleError, check_rules, generate_password
from services.gateway.settings import GatewaySettings
from services.runtime.db import connect
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()
T = TypeVar("T")


def _run(action: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `action` on a connection to the gateway's schema; errors of the world are one line."""

    async def main() -> T:
        connection = await connect(RuntimeSettings().effective_database_url())
        try:
            await connection.execute("SET search_path TO gateway")
            return await action(connection)
        finally:
            await connection.close()

    try:
        return asyncio.run(main())
    except (RuntimeFailure, LookupError, ValueError, asyncpg.PostgresError) as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(1) from None


@app.command()
def add(
    principal_id: str = typer.Argument(..., help="The user's or service's id, e.g. jo.bloggs"),
    grant: list[str] = typer.Option(
        ...,
        "--grant",
        "-g",
        help="role@PLACE[:SUBJECT], or role@*[:SUBJECT] for every place; repeat for several.",
    ),
    service: bool = typer.Option(False, help="A service (a machine), not a person."),
    name: str = typer.Option("", help="A display name."),
) -> None:
    """Add a user or service with roles (adding again adds roles; none are removed)."""
    grants = _grants(grant)
    kind = "service" if service else "user"
    _run(lambda c: users.add_principal(c, principal_id, grants, kind=kind, display_name=name))
    console.print(f"{principal_id}: {', '.join(grant)}")


@app.command(name="grant")
def grant_roles(
    principal_id: str = typer.Argument(..., help="An existing user's or service's id."),
    grant: list[str] = typer.Argument(..., help="role@PLACE[:SUBJECT] or role@*[:SUBJECT]."),
) -> None:
    """Give an existing user or service more roles (none are removed)."""
    grants = _grants(grant)

    async def add_to_existing(connection: asyncpg.Connection) -> None:
        known = {row["principal_id"] for row in await users.list_principals(connection)}
        if principal_id not in known:
            raise LookupError(f"no user or service {principal_id!r}; add it first")
        await users.add_grants(connection, principal_id, grants)

    _run(add_to_existing)
    console.print(f"{principal_id}: {', '.join(grant)}")


def _grants(texts: list[str]) -> list[Grant]:
    """The grants as written, each naming its place (or `@*`); exit 2 naming a bad one."""
    try:
        return [explicit_grant(text) for text in texts]
    except ValueError as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(2) from None


@app.command()
def token(
    principal_id: str = typer.Argument(..., help="Whose token."),
    days: int = typer.Option(0, help="Days it lasts (0: SINGLEPOT_GATEWAY_TOKEN_LIFETIME_DAYS)."),
    description: str = typer.Option("", help="What the token is for."),
) -> None:
    """Issue a new token and print it once: keep it, it cannot be shown again."""
    lifetime = timedelta(days=days or GatewaySettings().gateway_token_lifetime_days)
    issued = _run(
        lambda c: users.issue_token(c, principal_id, lifetime=lifetime, description=description)
    )
    console.print(f"token id {issued.token_id}, expires {issued.expires_at:%Y-%m-%d %H:%M} UTC")
    typer.echo(issued.token)


@app.command()
def revoke(
    what: str = typer.Argument(..., help="A token id, or a user's id to revoke all its tokens."),
) -> None:
    """Revoke a token, or every token of a user or service."""
    count = _run(lambda c: users.revoke(c, what))
    console.print(f"revoked {count} token(s)")
    if count == 0:
        raise typer.Exit(1)


@app.command()
def password(
    principal_id: str = typer.Argument(..., help="Whose web sign-in password."),
    generate: bool = typer.Option(
        False, "--generate", help="Make a random password and print it once, instead of stdin."
    ),
) -> None:
    """Set a user's password for the web pages, read from stdin (first line), or generated and
    printed once with --generate. Their open web sessions end."""
    if generate:
        secret = generate_password()
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    try:
        check_rules(secret)
    except PasswordRuleError as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(2) from None
    _run(lambda c: users.set_password(c, principal_id, secret))
    console.print(f"password set for {principal_id}; their web sessions have ended")
    if generate:
        typer.echo(secret)


@app.command(name="list")
def list_users() -> None:
    """Everyone who may call the gateway, their roles and live tokens."""
    table = Table(title="gateway users and services")
    for column in ("id", "kind", "name", "grants", "live tokens"):
        table.add_column(column)
    for row in _run(users.list_principals):
        table.add_row(
            str(row["principal_id"]),
            str(row["kind"]),
            str(row["display_name"]),
            ", ".join(row["grants"]),  # type: ignore[arg-type]
            str(row["live_tokens"]),
        )
    console.print(table)


@app.command()
def roles() -> None:
    """The roles a grant may name."""
    for role in Role:
        console.print(role.value)
