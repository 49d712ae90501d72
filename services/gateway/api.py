"""The gateway's HTTP API under `/api/v1`, put together from its rooms: commands (one endpoint
per row of the command table, through the outbox, idempotently), identity (`/me`), the read
models, departments' spend subscriptions (a feed, Server-Sent Events and webhooks), command
status, uploads, reports, open data, returns and the web pages. Every error is problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.gateway import openapi_rules, problems
from services.gateway.citizens import api as citizens_api
from services.gateway.citizens import open_data as citizens_open_data
from services.gateway.citizens import rounds_api as citizens_rounds_api
from services.gateway.command_log import status as command_status
from services.gateway.commands import api as commands_api
from services.gateway.commands import uploads
from services.gateway.delivery import subscriptions
from services.gateway.identity import api as identity_api
from services.gateway.identity import security
from services.gateway.identity.auth import Gateway, RateLimiter
from services.gateway.insights import api as insights_api
from services.gateway.monitoring import api as monitoring_api
from services.gateway.monitoring import board as monitoring_board
from services.gateway.monitoring import diligence_api
from services.gateway.opendata import api as opendata_api
from services.gateway.opendata import register_api as organisations_api
from services.gateway.projections import api as projections_api
from services.gateway.projections import claim_results
from services.gateway.projections import db as projections_db
from services.gateway.refused_work import api as refused_work_api
from services.gateway.reports import api as ledger_reports
from services.gateway.returns import (
    agreement_api,
    notices_api,
    partner_returns_api,
    payment_tax_api,
    transparency_api,
)
from services.gateway.returns import api as returns_api
from services.gateway.settings import GatewaySettings
from services.gateway.web import site as web_site
from services.runtime.host import ServiceHost
from services.runtime.telemetry import ServiceSpanMiddleware

# --- Wiring -----------------------------------------------------------------------------------


def extend_http(app: FastAPI, host: ServiceHost, settings: GatewaySettings | None = None) -> None:
    """Mount the API, the problem handlers and the OpenAPI document on the gateway's app."""
    gateway_settings = settings or GatewaySettings()
    security.refuse_default_secrets(
        gateway_settings.local_secrets_in_use(), host.settings.local_defaults_allowed
    )
    gateway = Gateway(
        host,
        gateway_settings,
        RateLimiter(
            gateway_settings.gateway_rate_limit_per_s,
            gateway_settings.gateway_rate_limit_burst_max,
        ),
        projections_db.contract_provider,
    )
    app.state.gateway = gateway
    # FastAPI runs each request in a server span; this names the service on it.
    app.add_middleware(ServiceSpanMiddleware, service=host.name)
    problems.install(app)
    components: dict[str, Any] = {}
    app.include_router(commands_api.routes(gateway, components))
    app.include_router(identity_api.routes(gateway))
    app.include_router(projections_api.routes(gateway))
    app.include_router(subscriptions.routes(gateway))
    app.include_router(command_status.routes(gateway))
    app.include_router(claim_results.routes(gateway))
    app.include_router(uploads.routes(gateway))
    # Auditors' ledger reports, when this gateway holds the ledger's report credential.
    if gateway_settings.ledger_report_token is not None:
        app.include_router(ledger_reports.routes(gateway))
    # The catalogue also lists the open data the citizens room publishes at its own addresses.
    app.include_router(opendata_api.routes(gateway, citizens_open_data.catalogued(gateway)))
    app.include_router(organisations_api.routes(gateway))
    app.include_router(transparency_api.routes(gateway))
    app.include_router(returns_api.routes(gateway))
    app.include_router(refused_work_api.routes(gateway))
    app.include_router(notices_api.routes(gateway))
    app.include_router(agreement_api.routes(gateway))
    app.include_router(partner_returns_api.routes(gateway))
    app.include_router(payment_tax_api.routes(gateway))
    app.include_router(monitoring_api.routes(gateway))
    app.include_router(monitoring_board.routes(gateway))
    app.include_router(diligence_api.routes(gateway))
    app.include_router(insights_api.routes(gateway))
    app.include_router(insights_api.open_data_routes(gateway))
    app.include_router(insights_api.compare_routes(gateway))
    app.include_router(citizens_api.routes(gateway))
    app.include_router(citizens_rounds_api.routes(gateway))
    app.include_router(citizens_open_data.routes(gateway))
    # The web pages for people, their assets, and `/` (HTML to browsers, the JSON index to others).
    web_site.install(app, gateway)
    security.install(app, gateway_settings.web_swagger_ui_dir)
    app.add_middleware(openapi_rules.UnknownQueryRefusal, document=lambda: app.openapi())
    _publish_openapi(app, components)


def _publish_openapi(app: FastAPI, components: dict[str, Any]) -> None:
    """The OpenAPI document, with the command bodies' nested models among its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title="singlepot gateway",
                version="1",
                description=__doc__,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in components.items():
                schemas.setdefault(name, schema)
            app.openapi_schema = openapi_rules.with_storable_rules(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
