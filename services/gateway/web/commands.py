"""Sending a command from a web form down the API's own path: the same route table, permission
check, command building (actor fields from the signed-in person) and idempotent `accept`, with
the form's hidden idempotency key, so a double-submitted form sends the command once."""

from __future__ import annotations

from typing import Any

from contracts import Event
from services.gateway import domain, intake
from services.gateway.command_table import COMMAND_ROUTES, CommandRoute, Subject
from services.gateway.commands import references
from services.gateway.commands.api import accept
from services.gateway.domain import Principal
from services.gateway.identity.auth import require, require_some_subject
from services.gateway.problems import FieldProblem, ProblemError, field_problem
from services.gateway.projections import db
from services.gateway.web.rendering import Page

ROUTES: dict[type[Event], CommandRoute] = {route.command: route for route in COMMAND_ROUTES}
IDEMPOTENCY_FIELD = "idempotency_key"


async def send(
    page: Page,
    principal: Principal,
    command_class: type[Event],
    body: dict[str, Any],
    path: dict[str, str],
    idempotency_key: object,
) -> list[FieldProblem]:
    """Send the command as its API route would; [] when accepted (or replayed), else the
    problems naming each field and rule. A permission refusal is raised (a 403 page)."""
    gateway = page.gateway
    route = ROUTES[command_class]
    key_max = gateway.settings.gateway_idempotency_key_length_max
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= key_max:
        message = "the form lost its idempotency key; reload the page and send it again"
        return [field_problem(IDEMPOTENCY_FIELD, "required", message)]
    place_id = path["place_id"]
    subject: str | None = None
    try:
        for name, value in path.items():
            intake.check_storable(value, name)
        intake.check_storable(body, "body")
        if route.subject is Subject.CONTRACT_PROVIDER:
            async with gateway.pool.acquire() as connection:
                subject = await db.contract_provider(connection, place_id, path["contract_id"])
            what = f"contract {path['contract_id']}"
            require(principal, route.permission, place_id, subject, what=what)
        else:
            require_some_subject(principal, route.permission, place_id)
        command = intake.build_command(route, body, path, principal.principal_id)
        await references.check(gateway, command)
        event_id = domain.command_event_id(principal.principal_id, idempotency_key)
        await accept(
            gateway, principal, page.request, idempotency_key, command, event_id, {**body, **path}
        )
    except ProblemError as problem:
        if problem.status == 403:
            raise
        return problem.errors or [field_problem("form", problem.slug, problem.detail)]
    return []
