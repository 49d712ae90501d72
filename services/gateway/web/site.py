"""Mounting the web pages on the gateway's app: every role's pages, sign-in, the assets, the
charts' stylesheet, and a GOV.UK "Page not found" page for browsers lost outside the API."""

from __future__ import annotations

import inspect
import logging

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.gateway.identity.auth import Gateway, RateLimiter
from services.gateway.web import charts
from services.gateway.web.pages import ROUTERS
from services.gateway.web.routes import STATIC, _error, public_router, sign_in_router

log = logging.getLogger(__name__)


def install(app: FastAPI, gateway: Gateway) -> None:
    """Mount the pages and their assets on the gateway's app, and the charts' stylesheet as a
    file (pages carry no inline style)."""
    settings = gateway.settings
    limiter = RateLimiter(
        settings.web_sign_in_attempts_per_s, settings.web_sign_in_attempts_burst_max
    )
    app.include_router(public_router())
    app.include_router(sign_in_router(limiter))
    for router in ROUTERS:
        app.include_router(router())
    assets = settings.web_assets_dir
    if not (assets / "govuk-frontend.min.css").exists():
        log.warning("GOV.UK Frontend assets missing at %s: run `make setup` (npm ci)", assets)
    app.mount("/assets", StaticFiles(directory=assets / "assets", check_dir=False), "assets")
    app.mount("/govuk-frontend", StaticFiles(directory=assets, check_dir=False), "govuk-frontend")
    app.mount("/web-static", StaticFiles(directory=STATIC), "web-static")

    @app.get("/web-charts.css", include_in_schema=False)
    async def chart_stylesheet() -> Response:
        return Response(charts.CHART_CSS, media_type="text/css")

    _answer_browsers_lost_with_a_page(app)


# Machine-readable surfaces keep problem+json whatever the client asks for.
API_PREFIXES = ("/api/", "/open-data/", "/docs", "/openapi.json", "/healthz", "/readyz")


def _answer_browsers_lost_with_a_page(app: FastAPI) -> None:
    """A browser that asks for a page that is not there gets a GOV.UK "Page not found" page;
    API clients (and every path under the API) keep the problem+json answer."""
    answer_with_problem = app.exception_handlers[StarletteHTTPException]

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        accept = request.headers.get("accept", "")
        wants_page = "text/html" in accept.split(",")[0]
        if error.status_code in (404, 405) and wants_page:
            if not request.url.path.startswith(API_PREFIXES):
                return _error(
                    request,
                    404,
                    "Page not found",
                    "If you typed the web address, check it is correct.",
                )
        answered = answer_with_problem(request, error)
        return await answered if inspect.isawaitable(answered) else answered

    app.add_exception_handler(StarletteHTTPException, on_http)
