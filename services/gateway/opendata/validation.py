"""Validate exports against the standards' published JSON schemas, vendored in `schemas/`
(README.md there says where each came from), with no network access: `$ref`s between a package
schema and its item schema resolve from a local registry. Used by the tests and by anyone
checking a file; the services themselves never import it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator, FormatChecker
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMAS = Path(__file__).parent / "schemas"
GRANT_SCHEMA_URI = (
    "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/master/schema/"
    "360-giving-schema.json"
)
RELEASE_SCHEMA_URI = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"


# RFC 3339 date-time, as the standards' own tools check it; without a format checker
# jsonschema accepts any string as a date-time, and 360Giving's oneOf(date-time | date) would
# then fail every plain date.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    return (
        not isinstance(value, str) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value) is not None
    )


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return document


def _registry(uri: str, name: str) -> Registry:
    resource = Resource.from_contents(_load(name), default_specification=DRAFT4)
    return Registry().with_resource(uri, resource)


@cache
def threesixtygiving_validator() -> Validator:
    registry = _registry(GRANT_SCHEMA_URI, "360-giving-schema.json")
    return Draft4Validator(
        _load("360-giving-package-schema.json"), registry=registry, format_checker=FORMATS
    )


@cache
def ocds_validator() -> Validator:
    registry = _registry(RELEASE_SCHEMA_URI, "release-schema.json")
    return Draft4Validator(
        _load("release-package-schema.json"), registry=registry, format_checker=FORMATS
    )


INDIGO_SCHEMA = "indigo-project.json"
INDIGO_SCHEMA_LENGTH = 86_019
"""The vendored INDIGO project schema's length in characters, as the stored copy reports it
(schemas/README.md): a test checks the copy is whole."""


@cache
def indigo_validator() -> Validator:
    return Draft7Validator(indigo_schema(), format_checker=FORMATS)


def indigo_schema() -> dict[str, Any]:
    """The INDIGO project schema, vendored whole."""
    return _load(INDIGO_SCHEMA)


def errors(validator: Validator, document: object) -> list[str]:
    """Every schema error, each naming the path of the field and the rule it broke."""
    found = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    return [f"{'/'.join(map(str, error.path)) or '(root)'}: {error.message}" for error in found]
