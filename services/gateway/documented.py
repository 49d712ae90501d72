"""What the gateway's OpenAPI document says of a request path: the methods it takes and the
query parameters of each, for answers that must agree with the document (405's Allow, refusing
an undeclared query parameter)."""

from __future__ import annotations

import re
from typing import Any


class DocumentedOperations:
    """Which methods, and which query parameters of each, the OpenAPI document gives a path."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.paths = [
            (re.compile("^" + re.sub(r"\\{[^/}]+\\}", "[^/]+", re.escape(path)) + "$"), item)
            for path, item in document.get("paths", {}).items()
        ]

    def operations(self, path: str) -> dict[str, dict[str, Any]]:
        """{METHOD: operation} of the first documented path template matching `path`."""
        for template, item in self.paths:
            if template.match(path):
                return {
                    method.upper(): operation
                    for method, operation in item.items()
                    if isinstance(operation, dict) and "responses" in operation
                }
        return {}

    def query_names(self, path: str, method: str) -> set[str] | None:
        """The query parameters an operation declares; None when the document has none."""
        operation = self.operations(path).get(method)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        return {p["name"] for p in parameters if p.get("in") == "query"}
