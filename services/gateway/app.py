"""The gateway service: HTTP commands and queries for people, read models from public events,
and webhook delivery to departments. It runs as one process doing all three (`singlepot up`),
or as one process per role (`singlepot serve gateway --role api|projector|delivery`), each
scaled on its own: the API by CPU, the projector and delivery by the work waiting for them."""

from __future__ import annotations

import functools
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from contracts import topics
from services.gateway.api import extend_http
from services.gateway.citizens import handlers as citizens_handlers
from services.gateway.command_log import status as command_status
from services.gateway.delivery.webhooks import delivery_loop
from services.gateway.monitoring import handlers as monitoring_handlers
from services.gateway.opendata import history_handlers, pending_releases
from services.gateway.projections import handlers as projection_handlers
from services.gateway.refused_work import handlers as refused_work
from services.gateway.returns import handlers as returns_handlers
from services.gateway.settings import GatewaySettings
from services.runtime.batch_consumer import BatchHandler
from services.runtime.consumer_groups import SeparateGroup
from services.runtime.host import ServiceDefinition


class Role(StrEnum):
    """What one gateway process does. Every role relays the gateway's outbox (one relay is
    active per schema however many processes run) and answers /healthz and /readyz."""

    # Everything in one process: what `singlepot up` runs.
    ALL = "all"
    # HTTP: the API (commands, reads, command status, subscriptions, the feed and its
    # Server-Sent Events stream, which are requests like any other), the pages and open data.
    API = "api"
    # Consumes the services' public events into the read models and the department feed.
    PROJECTOR = "projector"
    # Posts due webhook deliveries from the feed, signed, with retries.
    DELIVERY = "delivery"


# The projector's handlers: the read models' own (projections), the rooms' own read models
# (refused work, returns, grant monitoring, a round's refused settlement), and rooms that keep
# something of the same events in the same transaction (open data keeps OCDS releases).
HANDLERS = history_handlers.alongside(
    projection_handlers.handlers_with(
        refused_work.HANDLERS,
        returns_handlers.HANDLERS,
        monitoring_handlers.HANDLERS,
        citizens_handlers.HANDLERS,
    )
)


def projector_batch_handler(settings: GatewaySettings) -> BatchHandler:
    """The projector's batch handler: in a batch, open data keeps each changed process's OCDS
    release at most once per `opendata_release_interval_s`, after the batch, and the batch's
    command progress is recorded in one statement."""
    return history_handlers.releases_once_per_batch(
        command_status.progress_once_per_batch(projection_handlers.batch_handler(HANDLERS)),
        timedelta(seconds=settings.opendata_release_interval_s),
    )


# On the settings' defaults (`model_construct` reads no environment).
handle_batch = projector_batch_handler(GatewaySettings.model_construct())

SUBSCRIPTIONS = (
    topics.LEDGER_RESULTS,
    topics.LEDGER_SPEND,
    topics.ALLOCATIONS_LIFECYCLE,
    topics.OUTCOMES_LIFECYCLE,
)

# Spend events are what departments wait for: they are consumed by a group of their own
# (`gateway-spend`), so that a spend never waits behind a fetch of the other topics' events
# (bench/NOTES.md, "The spend topic's own consumer group"). Same handlers, same inbox.
SPEND_GROUP = SeparateGroup("spend", (topics.LEDGER_SPEND,))


def definition(settings: GatewaySettings | None = None, role: Role = Role.ALL) -> ServiceDefinition:
    """The gateway with its own settings (read from the environment unless given), doing what
    `role` does. Every role is the service `gateway`: one schema; a projector's consumer
    groups are `gateway` and `gateway-spend`."""
    gateway_settings = settings or GatewaySettings()
    serves_http = role in (Role.ALL, Role.API)
    projects = role in (Role.ALL, Role.PROJECTOR)
    delivers = role in (Role.ALL, Role.DELIVERY)
    return ServiceDefinition(
        name="gateway",
        migrations=Path(__file__).parent / "migrations",
        subscriptions=SUBSCRIPTIONS if projects else (),
        handlers=HANDLERS if projects else {},
        batch_handler=projector_batch_handler(gateway_settings) if projects else None,
        separate_groups=(SPEND_GROUP,) if projects else (),
        extend_http=functools.partial(extend_http, settings=gateway_settings)
        if serves_http
        else None,
        background_tasks=(
            *((delivery_loop(gateway_settings),) if delivers else ()),
            *((pending_releases.waiting_releases_loop(gateway_settings),) if projects else ()),
        ),
        serves_latency_sensitive_requests=serves_http,
    )


def __getattr__(name: str) -> ServiceDefinition:
    # `DEFINITION` is built on first use rather than at import: importing this module never
    # reads the environment.
    if name == "DEFINITION":
        return definition()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
