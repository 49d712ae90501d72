"""`singlepot serve`: one service in the foreground, as `singlepot up` starts each of its
processes and a Kubernetes Deployment runs it.

Kept apart from the rest of the command line so that a service process imports only what it
runs: `up` starts four or more service processes at once, and importing every other command's
modules too (open data exports, the demo, the ledger's audit, user administration) cost each
of them about 0.4 s of CPU on a 2-core machine (measured with `python -X importtime`).
`python -m singlepot.serve <service>` runs it alone; `singlepot serve` is the same command.
"""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings
from singlepot.local.errors import LocalStackError
from singlepot.system import SERVICE_NAMES, service_definition

console = Console()


def serve(
    service: str = typer.Argument(..., help=f"One of: {', '.join(SERVICE_NAMES)}"),
    role: str = typer.Option(
        "all",
        "--role",
        help="The gateway only: api (HTTP: API, pages, open data, the feed and SSE), projector "
        "(events into the read models), delivery (webhooks), or all (what `up` runs).",
    ),
) -> None:
    """Run one service in the foreground (what a Kubernetes Deployment runs)."""
    import uvicorn

    from services.runtime.host import build_http_app

    try:
        config = RuntimeSettings()
    except ValueError as error:
        console.print(f"[bold red]singlepot:[/] a setting is invalid: {error}")
        raise typer.Exit(2) from None
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(name)s %(message)s")
    try:
        try:
            definition = service_definition(service, role)
        except ValueError as error:
            raise LocalStackError(str(error)) from None
        logging.getLogger(__name__).info("%s: code loaded, starting", service)
        host = config.gateway_host if service == "gateway" else config.service_host
        uvicorn.run(
            build_http_app(definition, config),
            host=host,
            port=config.health_port(service),
            log_level=config.log_level.lower(),
        )
    except (LocalStackError, RuntimeFailure) as error:
        # Errors of the world get one sentence, not a traceback (as every command's do).
        console.print(f"[bold red]singlepot:[/] {error}")
        raise typer.Exit(1) from None


if __name__ == "__main__":  # pragma: no cover
    typer.run(serve)
