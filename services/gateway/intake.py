"""Reading requests safely: bounded bodies, strict JSON, and commands built from body, path and
the caller, each failure a problem naming the field and the rule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import Path, Request
from pydantic import ValidationError

from contracts import Event
from contracts.json_limits import nesting_exceeds
from contracts.values import (
    FINANCIAL_YEAR_PATTERN,
    FINANCIAL_YEAR_PATTERN_SHAPE,
    IDENTIFIER_LENGTH_MAX,
)
from services.gateway import problems
from services.gateway.command_table import CommandRoute
from services.gateway.problems import ProblemError, invalid

# PostgreSQL bigint: the ledger stores pence in it, so larger integers are refused at the door.
INTEGER_MAX = 2**63 - 1


def identifier_path() -> Any:
    """A path parameter holding an id: 1 to 128 characters, as contracts' Identifier."""
    return Path(min_length=1, max_length=IDENTIFIER_LENGTH_MAX)


def financial_year_path() -> Any:
    """A path parameter holding a financial year ("2026-27"). Its shape is checked here and
    the next-year rule by the command, with a readable message; the OpenAPI document states
    both in one exact pattern so that a schema-valid year is never refused."""
    return Path(
        pattern=FINANCIAL_YEAR_PATTERN_SHAPE,
        json_schema_extra={"pattern": FINANCIAL_YEAR_PATTERN},
        description='A financial year, "2026-27".',
    )


def path_parameter(name: str) -> Any:
    """The path parameter a command route's field `name` takes."""
    return financial_year_path() if name == "financial_year" else identifier_path()


async def read_body(request: Request, bytes_max: int) -> bytes:
    """The request body, refusing (413) anything over `bytes_max` before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > bytes_max:
        raise too_large(bytes_max)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > bytes_max:
            raise too_large(bytes_max)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(bytes_max: int) -> ProblemError:
    return ProblemError(
        413,
        "too-large",
        f"the body is larger than the {bytes_max} bytes allowed",
        errors=[problems.field_problem("body", "size_max", f"at most {bytes_max} bytes")],
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json_object(raw: bytes, depth_max: int) -> dict[str, Any]:
    """A JSON object from the body: malformed JSON is a 400, any other JSON value a 422, and
    JSON nested deeper than `depth_max` a 422 before it is parsed."""
    if nesting_exceeds(raw.decode("utf-8", errors="replace"), depth_max):
        raise invalid("body", "depth_max", f"arrays and objects may nest at most {depth_max} deep")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        where = ""
        if isinstance(error, json.JSONDecodeError):
            where = f" at line {error.lineno} column {error.colno}: {error.msg}"
        raise ProblemError(
            400,
            "malformed-json",
            f"the body is not valid JSON{where}",
            errors=[problems.field_problem("body", "json", f"malformed JSON{where}")],
        ) from None
    if not isinstance(value, dict):
        raise invalid("body", "object", "the body must be a JSON object")
    check_storable(value, "body")
    return value


def check_storable(value: Any, field: str) -> None:
    """Refuse what no database column can hold: NUL characters and integers beyond 64 bits."""
    if isinstance(value, str) and "\x00" in value:
        raise invalid(field, "no_nul", "text must not contain NUL characters")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INTEGER_MAX:
        raise invalid(field, "int64", f"integers must lie within ±{INTEGER_MAX}")
    if isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, field)
            check_storable(item, f"{field}.{key}" if field != "body" else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{field}.{index}")


def build_command(
    route: CommandRoute, body: Mapping[str, Any], path: Mapping[str, str], actor_id: str
) -> Event:
    """The contract command from the body, the path's ids and the caller as actor."""
    for name, value in path.items():
        if name in body and body[name] != value:
            raise invalid(
                name,
                "matches_path",
                f"{name} in the body ({body[name]!r}) differs from the path ({value!r})",
            )
    for name in route.actor_fields:
        if name in body and body[name] != actor_id:
            raise invalid(
                name,
                "is_caller",
                f"{name} is taken from your token ({actor_id!r}); leave it out of the body",
            )
    actors = dict.fromkeys(route.actor_fields, actor_id)
    try:
        return route.command.model_validate({**body, **path, **actors})
    except ValidationError as error:
        raise problems.from_pydantic(error) from None
