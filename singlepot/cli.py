"""The `singlepot` command line: run the whole system, one service, or its housekeeping steps."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.money import format_pounds
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings
from singlepot import asyncapi, export_cli, insights_cli, ledger_cli, reconcile, serve, users_cli
from singlepot.background import InBackground
from singlepot.demo import load_demo
from singlepot.local.errors import LocalStackError
from singlepot.local.ports import accepts_connections
from singlepot.supervisor import STATE_FILE, LocalSystem, gateway_url, read_state
from singlepot.system import SERVICE_NAMES, create_all_topics, migrate_all, service_definition

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
app.add_typer(ledger_cli.app, name="ledger")
app.add_typer(users_cli.app, name="users")
app.add_typer(export_cli.app, name="export")
app.command(name="reconcile")(reconcile.command)
app.command(name="compare")(insights_cli.compare)
app.add_typer(insights_cli.unit_costs_app, name="unit-costs")
console = Console()
T = TypeVar("T")

# Errors of the world (bad configuration, a port in use) get one sentence, not a traceback.
EXPECTED_FAILURES = (LocalStackError, RuntimeFailure)


@contextmanager
def one_sentence_errors() -> Iterator[None]:
    try:
        yield
    except EXPECTED_FAILURES as error:
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(1) from None


def settings() -> RuntimeSettings:
    try:
        return RuntimeSettings()
    except ValueError as error:
        console.print(f"[bold red]singlepot:[/] a setting is invalid: {error}")
        raise typer.Exit(2) from None


def step(progress: Progress, description: str, action: Callable[[], T]) -> T:
    """Run one long step with a spinner, then leave a tick and its duration behind."""
    task = progress.add_task(description, total=1)
    result = action()
    progress.update(task, completed=1, description=f"[green]✓[/] {description}")
    return result


@app.command()
def up(
    demo: bool = typer.Option(True, help="Load the demo place once the system is up."),
    replicas: int | None = typer.Option(
        None,
        min=1,
        max=16,
        help="Processes of each service, sharing one schema and consumer group "
        "(default SINGLEPOT_REPLICAS).",
    ),
) -> None:
    """Start PostgreSQL, the broker, topics, migrations, the four services and demo data, and
    keep them running (a process that dies is restarted); Ctrl-C stops everything it started."""
    config = settings()
    system = LocalSystem(config, replicas=replicas, say=_say)
    # Installed explicitly: a shell starts background jobs with SIGINT ignored, and Python keeps
    # that; SIGTERM (from a process manager) should stop everything just as Ctrl-C does.
    signal.signal(signal.SIGINT, _stop_requested)
    signal.signal(signal.SIGTERM, _stop_requested)
    with one_sentence_errors():
        try:
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                where = step(
                    progress, "Starting PostgreSQL and the broker", system.start_infrastructure
                )
                step(progress, "Applying migrations and creating topics", system.prepare)
                pot = step(
                    progress,
                    "Starting the services and loading the demo place (GM)"
                    if demo
                    else f"Starting the services ({', '.join(SERVICE_NAMES)})",
                    lambda: start_services_and_demo(system, gateway_url(config) if demo else None),
                )
            console.print(f"Running: {where}.")
            if pot is not None:
                _print_pot(pot)
            url = gateway_url(config)
            console.print(
                f"\n[bold]singlepot is up.[/] Gateway: [link={url}]{url}[/link]  "
                f"(API docs at {url}/docs). Press Ctrl-C to stop."
            )
            _watch(system)
        except KeyboardInterrupt:
            console.print("\nStopping…")
        finally:
            system.stop()
            console.print("Stopped every process singlepot started.")


def start_services_and_demo(system: LocalSystem, demo_gateway: str | None) -> dict[str, Any] | None:
    """Start every service and, given the gateway's URL, load the demo place meanwhile; return
    the demo's pot once every service is ready and the demo is loaded.

    The demo needs only the gateway's API: its commands wait in the gateway's outbox until the
    services consume them, and each of its waits polls for the effect. So it starts as soon as
    the gateway serves HTTP, while the services still join their consumer groups (seconds of
    waiting on the broker), instead of after: on a warm start, which sends nothing, it is done
    before they are (bench/NOTES.md, "Start-up wall clock")."""
    system.spawn_all_services()
    loading = (
        InBackground(lambda: _load_demo_once_serving(system, demo_gateway))
        if demo_gateway is not None
        else None
    )
    system.wait_until_all_ready()
    return loading.result() if loading is not None else None


def _load_demo_once_serving(system: LocalSystem, gateway: str) -> dict[str, Any]:
    system.wait_until_serving("gateway")
    return load_demo(gateway)


def _stop_requested(signal_number: int, frame: object) -> None:
    raise KeyboardInterrupt


def _watch(system: LocalSystem) -> None:
    """Until Ctrl-C: restart what dies (see `LocalSystem.supervise`)."""
    while True:
        system.supervise()
        time.sleep(0.5)


def _say(message: str) -> None:
    console.print(f"[yellow]{time.strftime('%H:%M:%S')}[/] {message}")


def _print_pot(pot: dict[str, Any]) -> None:
    table = Table(title=f"Demo place {pot['place_id']}: the single pot")
    for column in ("year", "department", "stream", "settled", "reserved", "paid", "available"):
        table.add_column(column, justify="right" if column[0] in "srpa" else "left")
    for row in pot["streams"]:
        table.add_row(
            row["financial_year"],
            row["department_code"],
            row["funding_stream_code"],
            *(
                format_pounds(row[f"{k}_pence"])
                for k in ("settled", "reserved", "paid", "available")
            ),
        )
    console.print(table)


# Its own module, so that a service process imports only what it runs (see singlepot/serve.py).
app.command(name="serve")(serve.serve)


@app.command()
def migrate(
    service_roles: bool = typer.Option(
        False,
        "--service-roles",
        help="Then grant each service's role (singlepot_<service>) rights on its own schema "
        "only, and singlepot_auditor read rights on all (README: one database role per service).",
    ),
) -> None:
    """Apply every service's migrations to its own schema."""
    config = settings()
    with one_sentence_errors():
        applied = asyncio.run(
            migrate_all(
                config.effective_database_url(),
                create_database=config.database_url is None,
                service_roles=service_roles,
            )
        )
    for name, migrations in applied.items():
        console.print(f"{name}: {', '.join(migrations) if migrations else 'up to date'}")


@app.command()
def topics() -> None:
    """Create every topic (partitions from SINGLEPOT_TOPIC_PARTITIONS); existing ones are kept."""
    config = settings()
    with one_sentence_errors():
        names = asyncio.run(create_all_topics(config))
    console.print("\n".join(names))


@app.command()
def status() -> None:
    """Show what is running, where, and whether it is healthy."""
    config = settings()
    table = Table(title="singlepot")
    for column in ("part", "where", "state"):
        table.add_column(column)
    database = config.effective_database_url().split("@")[-1]
    host, _, port = database.split("/")[0].partition(":")
    table.add_row("postgresql", database, _up(accepts_connections(host, int(port or 5432))))
    bootstrap = config.effective_bootstrap_servers().split(",")[0]
    broker_host, _, broker_port = bootstrap.partition(":")
    table.add_row("broker", bootstrap, _up(accepts_connections(broker_host, int(broker_port))))
    state = read_state(config.data_dir / STATE_FILE)
    if state is None:
        for name in SERVICE_NAMES:
            url = f"http://127.0.0.1:{config.health_port(name)}/readyz"
            table.add_row(name, url, _readiness(url))
    else:
        for process in state["services"]:
            url = f"http://127.0.0.1:{process['port']}/readyz"
            restarts = f"restarts {process['restarts']}"
            if process["last_exit_code"] is not None:
                restarts += f", last exit code {process['last_exit_code']}"
            table.add_row(process["name"], url, f"{_readiness(url)} ({restarts})")
        table.add_row("broker restarts", "", str(state["broker"]["restarts"]))
    console.print(table)


def _up(accepting: bool) -> str:
    return "[green]accepting connections[/]" if accepting else "[red]not running[/]"


def _readiness(url: str) -> str:
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return "[red]not running[/]"
    if response.status_code == 200:
        return "[green]ready[/]"
    return f"[yellow]not ready[/] {json.dumps(response.json())}"


gateway_app = typer.Typer(help="Gateway housekeeping.", no_args_is_help=True)
app.add_typer(gateway_app, name="gateway")


@gateway_app.command(name="rebuild")
def rebuild_gateway() -> None:
    """Empty the gateway's read models and rewind its consumer group, so that its next start
    rebuilds them from the topics. Stop the gateway first."""
    from services.gateway.projections.rebuild import rebuild_read_models

    config = settings()
    with one_sentence_errors():
        rewound = asyncio.run(rebuild_read_models(service_definition("gateway"), config))
    console.print(f"Read models emptied; {rewound} partition(s) rewound. Start the gateway now.")


@app.command()
def republish() -> None:
    """Queue every service's outbox for publishing again: after the broker lost its data (the
    local one keeps nothing across restarts), consumers' inboxes absorb the duplicates."""
    config = settings()
    with one_sentence_errors():
        counts = asyncio.run(_republish_all(config))
    for name, count in counts.items():
        console.print(f"{name}: {count} event(s) queued again")


async def _republish_all(config: RuntimeSettings) -> dict[str, int]:
    from services.runtime.db import create_pool
    from services.runtime.outbox import mark_all_for_republish

    counts = {}
    for name in SERVICE_NAMES:
        pool = await create_pool(config.effective_database_url(), name, 1)
        try:
            counts[name] = await mark_all_for_republish(pool)
        finally:
            await pool.close()
    return counts


@app.command(name="asyncapi")
def write_asyncapi(
    output: Path = typer.Option(Path("asyncapi.json"), help="Where to write the document."),
) -> None:
    """Write the AsyncAPI document of every topic and event."""
    output.write_text(json.dumps(asyncapi.document(), indent=2) + "\n", encoding="utf-8")
    console.print(f"Wrote {output}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
