"""The gateway service: HTTP commands and queries for people, read models from public events,
and webhook delivery to departments."""

from __future__ import annotations

import functools
from pathlib import Path

from contracts import topics
from services.gateway.api import extend_http
from services.gateway.handlers import HANDLERS, handle_batch
from services.gateway.settings import GatewaySettings
from services.gateway.webhooks import delivery_loop
from services.runtime.host import ServiceDefinition


def definition(settings: GatewaySettings | None = None) -> ServiceDefinition:
    """The gateway with its own settings (read from the environment unless given)."""
    gateway_settings = settings or GatewaySettings()
    return ServiceDefinition(
        name="gateway",
        migrations=Path(__file__).parent / "migrations",
        subscriptions=(
            topics.LEDGER_RESULTS,
            topics.LEDGER_SPEND,
            topics.ALLOCATIONS_LIFECYCLE,
            topics.OUTCOMES_LIFECYCLE,
        ),
        handlers=HANDLERS,
        batch_handler=handle_batch,
        extend_http=functools.partial(extend_http, settings=gateway_settings),
        background_tasks=(delivery_loop(gateway_settings),),
    )


def __getattr__(name: str) -> ServiceDefinition:
    # `DEFINITION` is built on first use rather than at import: importing this module never
    # reads the environment.
    if name == "DEFINITION":
        return definition()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
