"""Rendering the web pages: the Jinja environment (our templates, then the govuk-frontend-jinja
macros), money and date filters, and the per-request context every page template gets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse

from contracts.money import format_pounds
from services.gateway.domain import Principal
from services.gateway.identity.auth import Gateway
from services.gateway.identity.sessions import Session
from services.gateway.problems import FieldProblem
from services.gateway.web import csrf, words

TEMPLATES = Path(__file__).parent / "templates"
SERVICE_NAME = "singlepot"


def pounds(pence: Any) -> str:
    """Whole pence as pounds for people: 123456 → "£1,234.56", -5 → "−£0.05"."""
    if pence is None or pence == "":
        return "–"
    return format_pounds(int(pence))


def when(value: Any) -> str:
    """A date or time as people in the UK write it."""
    if isinstance(value, str):
        try:
            # A date alone ("2026-09-01") is a day, not midnight of it.
            day_only = len(value) == len("2026-09-01")
            value = date.fromisoformat(value) if day_only else datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%-d %B %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%-d %B %Y")
    return "" if value is None else str(value)


def _environment() -> Environment:
    environment = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(TEMPLATES),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pounds"] = pounds
    environment.filters["when"] = when
    environment.filters["status_words"] = words.status_words
    environment.filters["status_tag"] = words.status_tag
    return environment


ENVIRONMENT = _environment()


@dataclass
class Page:
    """One web request as the pages see it: who is signed in (if anyone) and the token their
    forms must carry."""

    request: Request
    gateway: Gateway
    session: Session | None
    # The sign-in form's anti-forgery secret, for someone not signed in yet.
    sign_in_secret: str | None = None

    @property
    def principal(self) -> Principal | None:
        return self.session.principal if self.session else None

    @property
    def csrf_secret(self) -> str | None:
        return self.session.session_id if self.session else self.sign_in_secret

    @property
    def csrf_token(self) -> str:
        secret = self.csrf_secret
        return csrf.token_for(secret) if secret else ""


def error_summary(problems: list[FieldProblem], fields: dict[str, str]) -> list[dict[str, str]]:
    """GOV.UK error summary items: each links to its form field when the field is on the form
    (`fields` maps a problem's field to the input's id)."""
    items = []
    for problem in problems:
        target = fields.get(problem.field) or fields.get(problem.field.split(".")[0])
        text = f"{problem.field}: {problem.message} (rule: {problem.rule})"
        items.append({"text": text, "href": f"#{target}" if target else "#main-content"})
    return items


def field_errors(problems: list[FieldProblem], fields: dict[str, str]) -> dict[str, str]:
    """The message to show beside each form field (by input id)."""
    found: dict[str, str] = {}
    for problem in problems:
        target = fields.get(problem.field) or fields.get(problem.field.split(".")[0])
        if target and target not in found:
            found[target] = problem.message
    return found


def render(page: Page, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template, with what every page needs: who is signed in, the CSRF token,
    a fresh idempotency key for its forms, and the service navigation."""
    principal = page.principal
    html = ENVIRONMENT.get_template(template).render(
        principal=principal,
        csrf_field=csrf.FIELD,
        csrf_token=page.csrf_token,
        idempotency_key=str(uuid.uuid4()),
        service_name=SERVICE_NAME,
        current_path=page.request.url.path,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


_POUNDS = __import__("re").compile(r"^£?\s*(\d{1,3}(,\d{3})+|\d+)(\.(\d{1,2}))?$")


def parse_pounds(text: str) -> int:
    """Pence from what a person types as pounds: "1,250.5" → 125050. ValueError otherwise."""
    match = _POUNDS.match(text.strip())
    if not match:
        raise ValueError("enter an amount in pounds, like 1250.00")
    whole = int(match.group(1).replace(",", ""))
    fraction = (match.group(4) or "0").ljust(2, "0")
    return whole * 100 + int(fraction)
