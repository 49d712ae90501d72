"""Which service publishes on which topic, found in the services' code, for the AsyncAPI document.

A service publishes an event by building it (a domain function returning it, a handler adding
it to the outbox, the ledger answering with it) and the outbox relay sends it to the event
class's own topic. So each event class that a service's source constructs — `SomeEvent(...)`
or `SomeEvent.model_validate(...)` — names a topic it sends on (the one refusal event,
`CommandRefused`, goes to the deciding service's own refusal topic). The gateway also publishes the
command of every HTTP command route (built from the request body by the route's table, not by
name), and every service that consumes sends dead letters.
"""

from __future__ import annotations

import ast
from pathlib import Path

from contracts import topics
from contracts.base import EVENT_TYPES, Event
from contracts.decisions import REFUSAL_TOPICS, CommandRefused

SERVICES_ROOT = Path(__file__).resolve().parent.parent / "services"
CONSTRUCTORS = frozenset({"model_validate", "model_validate_json"})


def events_built_in(folder: Path) -> set[type[Event]]:
    """Every event class that the Python source under `folder` constructs."""
    by_name = {event_class.__name__: event_class for event_class in EVENT_TYPES.values()}
    built: set[type[Event]] = set()
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = _constructed_name(node)
            if name in by_name:
                built.add(by_name[name])
    return built


def events_published_by(service: str) -> set[type[Event]]:
    """The event classes `service` publishes (dead letters aside)."""
    published = events_built_in(SERVICES_ROOT / service)
    if service == "gateway":
        from services.gateway.command_table import COMMAND_ROUTES

        published |= {route.command for route in COMMAND_ROUTES}
    return published


def topics_sent_by(service: str, event_class: type[Event]) -> tuple[str, ...]:
    """The topics `service` sends `event_class` on: the class's topic, or for the one refusal
    event (published on several), the topic of the refusals `service` decides."""
    if event_class is CommandRefused:
        return (REFUSAL_TOPICS[service],)
    return event_class.topics


def producers(services: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Topic → the services sending on it, for `services` (name → the topics it consumes)."""
    sending: dict[str, list[str]] = {}
    for service, subscriptions in services.items():
        sent = {
            topic
            for event_class in events_published_by(service)
            for topic in topics_sent_by(service, event_class)
        }
        if subscriptions:
            sent.add(topics.DEAD_LETTER)  # the shared consumer dead-letters what it cannot take
        for topic in sorted(sent):
            sending.setdefault(topic, []).append(service)
    return sending


def _constructed_name(node: ast.AST) -> str | None:
    """`Name` for `Name(...)` and `Name.model_validate(...)`; else None."""
    if not isinstance(node, ast.Call):
        return None
    function = node.func
    if isinstance(function, ast.Name):
        return function.id
    if (
        isinstance(function, ast.Attribute)
        and function.attr in CONSTRUCTORS
        and isinstance(function.value, ast.Name)
    ):
        return function.value.id
    return None
