"""The web pages' routes: the start page, sign-in and sign-out and a person's own pages;
`install` mounts them, each role's pages (web/pages/) and the GOV.UK
Frontend assets on the gateway's app. Every page answers HTML, errors included."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from services.gateway.commands import uploads
from services.gateway.domain import EVERY_PLACE, Principal, Role
from services.gateway.errors import GatewayError
from services.gateway.identity import db, permissions, sessions, users
from services.gateway.identity.auth import RateLimiter, check_door, gateway_of
from services.gateway.identity.permissions import Door, Scope
from services.gateway.problems import ProblemError, field_problem
from services.gateway.projections import db as projections_db
from services.gateway.web import csrf
from services.gateway.web.rendering import Page, error_summary, field_errors, render

log = logging.getLogger(__name__)
STATIC = __import__("pathlib").Path(__file__).parent / "static"
FORM_FIELDS_MAX = 50
USER_ID_LENGTH_MAX = 128


class SignInRequired(GatewayError):
    """A page that needs a signed-in person was asked for by someone who is not."""


class WebRoute(APIRoute):
    """A page route: its door (`permissions.DOORS`, the same entry the API's route for the same
    figures has) is checked before the page is built; refusals become HTML pages (403, 404,
    422) or a redirect to sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        doors = permissions.route_doors(self.methods, self.path_format)

        async def page_handler(request: Request) -> Response:
            try:
                await _check_page_door(doors[request.method], request)
                return await handler(request)
            except SignInRequired:
                target = request.url.path
                return RedirectResponse(f"/sign-in?next={target}", status_code=303)
            except csrf.CsrfRefused as refused:
                return _error(
                    request,
                    403,
                    "This form has expired",
                    f"{refused}. Go back, reload the page and send the form again.",
                )
            except ProblemError as problem:
                title = {403: "You cannot see this page", 404: "Page not found"}.get(
                    problem.status, "There is a problem"
                )
                return _error(request, problem.status, title, problem.detail, problem.errors)
            except RequestValidationError as invalid:
                detail = "; ".join(str(error.get("msg")) for error in invalid.errors())
                return _error(request, 404, "Page not found", detail)

        return page_handler


def _error(request: Request, status: int, title: str, detail: str, problems: Any = ()) -> Response:
    page = getattr(request.state, "web_page", None) or Page(request, gateway_of(request), None)
    return render(page, "error.html", status, title=title, detail=detail, problems=list(problems))


async def _check_page_door(door: Door, request: Request) -> None:
    """Sign in first for a door that needs someone; 403 unless the door opens for them."""
    if door.scope is Scope.OPEN:
        return
    page = await current_page(request)
    principal = signed_in(page)
    await check_door(page.gateway, door, principal, request)


async def current_page(request: Request) -> Page:
    """The request as a page sees it, with the signed-in person (if any); looked up once."""
    known: Page | None = getattr(request.state, "web_page", None)
    if known is not None:
        return known
    gateway = gateway_of(request)
    async with gateway.pool.acquire() as connection:
        session = await sessions.current(connection, request, gateway.settings)
    page = Page(request, gateway, session)
    request.state.web_page = page
    return page


PAGE = Depends(current_page)


def signed_in(page: Page) -> Principal:
    """The signed-in person, or a redirect to the sign-in page."""
    if page.principal is None:
        raise SignInRequired()
    return page.principal


async def read_form(page: Page) -> FormData:
    """A url-encoded form, at most the gateway's request size, checked for this session's
    CSRF token before anything in it is used."""
    limited = uploads.limited(page.request, page.gateway.settings.gateway_request_bytes_max)
    form = await limited.form(max_files=0, max_fields=FORM_FIELDS_MAX)
    csrf.check(form.get(csrf.FIELD), page.csrf_secret)
    return form


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _safe_next(target: str) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/account"


# --- Pages for everyone -----------------------------------------------------------------------


def public_router() -> APIRouter:
    router = APIRouter(route_class=WebRoute, include_in_schema=False)

    @router.get("/")
    async def home(request: Request, page: Page = PAGE) -> Response:
        """Browsers get the start page; API clients (Accept: application/json) the JSON index."""
        accept = request.headers.get("accept", "")
        if "text/html" not in accept or "application/json" in accept.split(",")[0]:
            from fastapi.responses import JSONResponse

            return JSONResponse(
                {
                    "service": "singlepot gateway",
                    "api": "/api/v1",
                    "docs": str(request.url) + "docs",
                }
            )
        async with page.gateway.pool.acquire() as connection:
            places = await projections_db.known_places(connection)
        notice = "You have signed out." if request.query_params.get("signed_out") else None
        return render(page, "home.html", title="Pooled place budgets", places=places, notice=notice)

    return router


# --- Signing in and out -----------------------------------------------------------------------


def sign_in_router(limiter: RateLimiter) -> APIRouter:
    router = APIRouter(route_class=WebRoute, include_in_schema=False)
    fields = {"user_id": "user_id", "password": "password"}

    def sign_in_page(page: Page, status: int = 200, **context: Any) -> Response:
        settings = page.gateway.settings
        cookie = sessions.sign_in_cookie_name(settings)
        page.sign_in_secret = page.request.cookies.get(cookie) or sessions.new_session_id()
        context.setdefault("next", _safe_next(page.request.query_params.get("next", "/account")))
        context.setdefault("user_id", "")
        problems = context.pop("problems", [])
        response = render(
            page,
            "sign_in.html",
            status,
            title="Sign in",
            errors=error_summary(problems, fields),
            field_errors=field_errors(problems, fields),
            **context,
        )
        sessions.set_cookie(
            response, settings, cookie, page.sign_in_secret, sessions.SIGN_IN_COOKIE_S
        )
        return response

    @router.get("/sign-in")
    async def sign_in_form(page: Page = PAGE) -> Response:
        if page.principal is not None:
            return RedirectResponse("/account", status_code=303)
        return sign_in_page(page)

    @router.post("/sign-in")
    async def sign_in(page: Page = PAGE) -> Response:
        settings = page.gateway.settings
        page.session = None  # signing in again starts a new session: no session fixation
        page.sign_in_secret = page.request.cookies.get(sessions.sign_in_cookie_name(settings))
        form = await read_form(page)
        user_id, password = text(form, "user_id"), form.get("password")
        password = password if isinstance(password, str) else ""
        target = _safe_next(text(form, "next") or "/account")
        problems = []
        if not user_id:
            problems.append(field_problem("user_id", "required", "Enter your user ID"))
        if not password:
            problems.append(field_problem("password", "required", "Enter your password"))
        if problems:
            return sign_in_page(page, 400, problems=problems, user_id=user_id, next=target)
        wait_s = limiter.wait_s(("sign-in", user_id[:USER_ID_LENGTH_MAX].lower()))
        if wait_s > 0:
            message = (
                f"Too many sign-in attempts for this user ID. Wait {math.ceil(wait_s)} seconds "
                "and try again"
            )
            problems = [field_problem("user_id", "sign_in_rate_limit", message)]
            response = sign_in_page(page, 429, problems=problems, user_id=user_id, next=target)
            response.headers["Retry-After"] = str(math.ceil(wait_s))
            return response
        async with page.gateway.pool.acquire() as connection:
            valid = len(user_id) <= USER_ID_LENGTH_MAX and await users.check_password(
                connection, user_id, password
            )
            if not valid:
                # The same answer whether the user exists or not.
                message = "Enter a correct user ID and password"
                problems = [field_problem("user_id", "correct_credentials", message)]
                return sign_in_page(page, 400, problems=problems, user_id=user_id, next=target)
            session_id, _ = await sessions.start(connection, user_id, settings)
            if target == "/account":
                # Asked for nothing in particular: land on the person's own pages.
                grants = await db.grants_of(connection, user_id)
                places = await projections_db.known_places(connection)
                target = landing_page(Principal(user_id, grants), places)
        response = RedirectResponse(target, status_code=303)
        sessions.set_cookie(
            response,
            settings,
            settings.web_session_cookie_name,
            session_id,
            int(settings.web_session_lifetime_s),
        )
        sessions.clear_cookie(response, settings, sessions.sign_in_cookie_name(settings))
        return response

    @router.post("/sign-out")
    async def sign_out(page: Page = PAGE) -> Response:
        settings = page.gateway.settings
        response = RedirectResponse("/?signed_out=1", status_code=303)
        if page.session is not None:
            await read_form(page)
            async with page.gateway.pool.acquire() as connection:
                await sessions.end(connection, page.session.session_id)
        sessions.clear_cookie(response, settings, settings.web_session_cookie_name)
        return response

    @router.get("/account")
    async def account(page: Page = PAGE) -> Response:
        """The pages the signed-in person's roles open to them."""
        principal = signed_in(page)
        async with page.gateway.pool.acquire() as connection:
            places = await projections_db.known_places(connection)
        return render(page, "account.html", title="Your pages", links=links_for(principal, places))

    return router


ROLE_PAGES: dict[Role, tuple[str, str]] = {
    Role.FINANCE: ("The pot, receipts and period close", "/places/{place}/finance"),
    Role.AUDITOR: ("The pot (read only)", "/places/{place}/finance"),
    Role.ACCOUNTING_OFFICER: ("Proposals to sign off", "/places/{place}/board"),
    Role.CHAIR: ("Board proposals and votes", "/places/{place}/board"),
    Role.BOARD_MEMBER: ("Board proposals and votes", "/places/{place}/board"),
    Role.PROVIDER: ("Your contracts, evidence and payments", "/places/{place}/providers/{subject}"),
    Role.VERIFIER: ("Evidence samples to verify", "/places/{place}/verification"),
    Role.DEPARTMENT: ("Spend attributed to {subject}", "/places/{place}/departments/{subject}"),
    Role.PROGRAMME: ("Grant monitoring: reports, holds and claims", "/places/{place}/monitoring"),
    Role.AUDIT_COMMITTEE: (
        "The audit committee: referrals and reports",
        "/places/{place}/citizens",
    ),
}
# Grant monitoring (services/gateway/monitoring): the place's page for staff who read it, and
# each recipient's own grants.
MONITORING_PAGES: dict[Role, tuple[str, str]] = {
    Role.FINANCE: ("Grant monitoring: reports, holds and claims", "/places/{place}/monitoring"),
    Role.ACCOUNTING_OFFICER: ("Grant monitoring", "/places/{place}/monitoring"),
    Role.AUDITOR: ("Grant monitoring", "/places/{place}/monitoring"),
    Role.PROVIDER: ("Your grants: reports and claims", "/places/{place}/grants/{subject}"),
}


# The claims page, for the roles that answer claims or hold the place to account for them.
CLAIMS_PAGE = ("Right to Serve and Right to Request claims", "/places/{place}/claims")
CLAIMS_ROLES = frozenset(
    {Role.FINANCE, Role.CHAIR, Role.BOARD_MEMBER, Role.ACCOUNTING_OFFICER, Role.AUDITOR}
)


def links_for(principal: Principal, places: list[str]) -> list[dict[str, str]]:
    """One link per grant's page and place: a grant for every place opens every known place."""
    links: dict[str, dict[str, str]] = {}
    for grant in principal.grants:
        pages = [ROLE_PAGES[grant.role]] if grant.role in ROLE_PAGES else []
        pages += [CLAIMS_PAGE] if grant.role in CLAIMS_ROLES else []
        pages += [MONITORING_PAGES[grant.role]] if grant.role in MONITORING_PAGES else []
        for (label, pattern), place in (
            (page, place)
            for page in pages
            for place in (places if grant.place_id == EVERY_PLACE else [grant.place_id])
        ):
            href = pattern.format(place=place, subject=grant.subject_id)
            links.setdefault(
                href, {"href": href, "text": f"{place}: {label.format(subject=grant.subject_id)}"}
            )
    return sorted(links.values(), key=lambda link: link["text"])


def landing_page(principal: Principal, places: list[str]) -> str:
    """Where a person lands after signing in: their role's own page (a finance officer's pot,
    a provider's contracts, a department's spend) when they have one, else the list of their
    pages to choose from."""
    own = {
        ROLE_PAGES[grant.role][1].format(place=place, subject=grant.subject_id)
        for grant in principal.grants
        if grant.role in ROLE_PAGES
        for place in (places if grant.place_id == EVERY_PLACE else [grant.place_id])
    }
    return own.pop() if len(own) == 1 else "/account"
