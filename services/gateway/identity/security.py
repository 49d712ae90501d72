"""Security headers on every answer of the gateway (pages, API, assets, errors) and the API's
documentation page served from the installed Swagger UI package rather than a CDN.

The Content-Security-Policy allows scripts and styles from the gateway itself only. The one
inline script allowed is GOV.UK Frontend's one-line "JavaScript is on" marker in its page
template (not ours to move), by its SHA-256 read from the installed template, so an upgrade
that changes it cannot break the pages silently; every script of our own is a static file."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.errors import GatewayError

_GOVUK_TEMPLATE = ("govuk_frontend_jinja", "templates/template.html")
_INLINE_SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.DOTALL)


def inline_script_hashes() -> list[str]:
    """CSP hash sources for each inline script of GOV.UK Frontend's installed page template."""
    spec = importlib.util.find_spec(_GOVUK_TEMPLATE[0])
    if spec is None or spec.origin is None:
        return []
    template = (Path(spec.origin).parent / _GOVUK_TEMPLATE[1]).read_text(encoding="utf-8")
    hashes = []
    for body in _INLINE_SCRIPT.findall(template):
        digest = hashlib.sha256(body.encode("utf-8")).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return hashes


def content_security_policy() -> str:
    """Everything from the gateway itself; no plugins, no framing, no other origins."""
    scripts = " ".join(["'self'", *inline_script_hashes()])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    }


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers().items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>singlepot gateway – API documentation</title>
  <link rel="stylesheet" href="/docs-assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs-assets/swagger-ui-bundle.js"></script>
  <script src="/web-static/swagger-init.js"></script>
</body>
</html>
"""


class DefaultSecretRefused(GatewayError, RuntimeError):
    """A secret is at its public local default outside the local launcher."""


def refuse_default_secrets(names: list[str], local_defaults_allowed: bool) -> None:
    """Refuse to start with a public default secret unless the local launcher said so
    (SINGLEPOT_LOCAL_DEFAULTS_ALLOWED): participant references hashed with a key everyone
    knows could be recovered by anyone holding a list of candidate references."""
    if names and not local_defaults_allowed:
        raise DefaultSecretRefused(
            f"{', '.join(names)} is at its public local default: set a secret value (from a "
            "Kubernetes Secret in production); only the local launcher may run with it"
        )


def install(app: FastAPI, swagger_ui_dir: Path) -> None:
    """The headers on every answer, and /docs from the installed Swagger UI."""
    app.add_middleware(SecurityHeadersMiddleware)

    @app.get("/docs", include_in_schema=False)
    async def documentation() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE)

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_dir, check_dir=False), "docs")
