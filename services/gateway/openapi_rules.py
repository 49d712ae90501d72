"""Rules every API request obeys that the models alone do not put in the OpenAPI document,
stated in it (and enforced) so that a request valid by the document is one the gateway
accepts, and a request the document calls invalid is refused.

- Text may not hold NUL characters (PostgreSQL cannot store them; `intake.check_storable`
  refuses them with rule `no_nul`): every free-text string gets a pattern saying so.
- Integers lie within ±(2^63 - 1) (`intake.check_storable`, rule `int64`): every integer
  without tighter bounds gets them.
- A query parameter an operation does not declare is refused (422, rule `known_parameter`)
  rather than silently ignored, as the document lists every parameter there is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway import problems
from services.gateway.documented import DocumentedOperations
from services.gateway.intake import INTEGER_MAX

NO_NUL_PATTERN = "^[^\\x00]*$"
# Strings already narrowed some other way: by their own pattern, a format, or a list of values.
_NARROWED = ("pattern", "format", "enum", "const", "contentMediaType")
API_PREFIX = "/api/"


def with_storable_rules(node: Any) -> Any:
    """`node` (a part of the OpenAPI document) with every plain string refusing NUL and every
    integer bounded to 64 bits."""
    if isinstance(node, list):
        return [with_storable_rules(item) for item in node]
    if not isinstance(node, dict):
        return node
    changed = {key: with_storable_rules(value) for key, value in node.items()}
    if changed.get("type") == "string" and not any(key in changed for key in _NARROWED):
        changed["pattern"] = NO_NUL_PATTERN
    if changed.get("type") == "integer":
        changed.setdefault("maximum", INTEGER_MAX)
        changed.setdefault("minimum", -INTEGER_MAX)
    return changed


class UnknownQueryRefusal:
    """Refuses an API request whose query names a parameter its operation does not declare."""

    def __init__(self, app: ASGIApp, document: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.document = document
        self._operations: DocumentedOperations | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unknown = self._unknown(scope) if scope["type"] == "http" else []
        if not unknown:
            await self.app(scope, receive, send)
            return
        name = unknown[0]
        refusal = problems.invalid(
            f"query.{name}", "known_parameter", f"{name!r} is not a parameter of this operation"
        )
        await problems.response(refusal, scope["path"])(scope, receive, send)

    def _unknown(self, scope: Scope) -> list[str]:
        if not scope["path"].startswith(API_PREFIX) or not scope.get("query_string"):
            return []
        if self._operations is None:
            self._operations = DocumentedOperations(self.document())
        declared = self._operations.query_names(scope["path"], scope["method"])
        if declared is None:
            return []
        given = {name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), True)}
        return sorted(given - declared)
