"""RFC 9457 problem details: every error the gateway returns names the field and the rule.

Handlers raise `ProblemError`; the exception handlers installed by `install` turn it, FastAPI's
own validation and HTTP errors, and anything unexpected into `application/problem+json`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.gateway.documented import DocumentedOperations
from services.gateway.errors import GatewayError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://singlepot.dev/problems/"
# How long a caller is asked to wait when the database cannot be reached: long enough for a
# restart or fail-over, short enough that a retry soon finds it back.
DATABASE_RETRY_AFTER_S = 5

# What asyncpg raises when the database is unreachable, restarting or out of connections, as
# opposed to a query that went wrong: the world's fault, answered 503, not a bug's 500.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    OSError,  # connection refused or reset
    asyncio.TimeoutError,  # no connection within the pool's timeout
    asyncpg.PostgresConnectionError,  # includes a connection closed mid-query
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


class FieldProblem(BaseModel):
    """One broken rule: where (a dotted path into the request) and which rule."""

    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] = []


class ProblemError(GatewayError):
    """A request the gateway refuses, with everything the problem document needs."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        errors: Sequence[FieldProblem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}


def field_problem(field: str, rule: str, message: str) -> FieldProblem:
    return FieldProblem(field=field, rule=rule, message=message)


def invalid(field: str, rule: str, message: str, status: int = 422) -> ProblemError:
    """A request whose one field breaks one rule."""
    return ProblemError(
        status,
        "invalid-request",
        f"{field}: {message}",
        errors=[field_problem(field, rule, message)],
    )


def from_validation_errors(
    errors: Sequence[Any], *, location_prefix: Sequence[str | int] = ()
) -> ProblemError:
    """Every pydantic error of a request, each with its field path and rule. An error on a
    container that only echoes a failure inside it (a list left empty because its one item was
    invalid) is left out: the inner error names the real field."""
    located = [(tuple([*location_prefix, *error.get("loc", ())]), error) for error in errors]
    problems = []
    for location, error in located:
        if any(
            len(other) > len(location) and other[: len(location)] == location
            for other, _ in located
        ):
            continue
        path = ".".join(str(part) for part in location) or "body"
        problems.append(field_problem(path, str(error.get("type", "invalid")), str(error["msg"])))
    summary = "; ".join(f"{problem.field}: {problem.message}" for problem in problems[:5])
    detail = summary or "the request is invalid"
    return ProblemError(422, "invalid-request", detail, errors=problems)


def from_pydantic(error: ValidationError) -> ProblemError:
    return from_validation_errors(error.errors(include_url=False, include_context=False))


def response(problem: ProblemError, instance: str | None) -> JSONResponse:
    document = Problem(
        type=PROBLEM_TYPE_BASE + problem.slug,
        title=HTTPStatus(problem.status).phrase,
        status=problem.status,
        detail=problem.detail,
        instance=instance,
        errors=problem.errors,
    )
    return JSONResponse(
        document.model_dump(mode="json"),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


_HTTP_SLUGS = {
    404: "not-found",
    405: "method-not-allowed",
    401: "unauthorized",
    403: "forbidden",
    413: "too-large",
}


def install(app: FastAPI) -> None:
    """Make every error of `app` a problem document."""

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> JSONResponse:
        return response(error, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return response(from_validation_errors(error.errors()), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = _HTTP_SLUGS.get(error.status_code, "http-error")
        detail = str(error.detail)
        if error.status_code == 404:
            detail = f"there is nothing at {request.url.path}; see /docs for the API"
        elif error.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        rule = {404: ("path", "exists"), 405: ("method", "allowed")}.get(
            error.status_code, ("request", slug)
        )
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = allowed_methods(request, headers.get("Allow", ""))
        problem = ProblemError(
            error.status_code,
            slug,
            detail,
            errors=[field_problem(rule[0], rule[1], detail)],
            headers=headers,
        )
        return response(problem, request.url.path)

    async def on_database_outage(request: Request, error: Exception) -> JSONResponse:
        return response(database_unavailable(error), request.url.path)

    # Registered per class (not caught inside the catch-all below) so that they are answered
    # like any refusal, not re-raised to the server as a crash.
    for outage in DATABASE_OUTAGES:
        app.add_exception_handler(outage, on_database_outage)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        # A bug, not the caller's fault: logged in full, answered without internals.
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        problem = ProblemError(500, "internal-error", "the gateway failed; the error is logged")
        return response(problem, request.url.path)


def allowed_methods(request: Request, fallback: str) -> str:
    """Every method the OpenAPI document gives this path: Starlette's own 405 names only the
    first route that matched the path, though others may serve it with other methods."""
    methods = set(DocumentedOperations(request.app.openapi()).operations(request.url.path))
    if not methods:
        return fallback
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def database_unavailable(error: BaseException) -> ProblemError:
    """503 with Retry-After: the database is out of reach for now; the request may be retried
    (with its Idempotency-Key, a command is still applied at most once)."""
    log.warning("database unavailable: %s: %s", type(error).__name__, error)
    return ProblemError(
        503,
        "database-unavailable",
        f"the database cannot be reached just now; retry in {DATABASE_RETRY_AFTER_S} seconds",
        errors=[field_problem("request", "database_available", "the database is unavailable")],
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def openapi_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses an endpoint documents, for the OpenAPI document."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
