"""Validate exports against the standards' published JSON schemas, vendored in `schemas/`
(README.md there says where each came from), with no network access: `$ref`s between a package
schema and its item schema resolve from a local registry. Used by the tests and by anyone
checking a file; the services themselves never import it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator, Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

SCHEMAS = Path(__file__).parent / "schemas"
# The `$ref`s the package schemas make to their item schemas. The 360Giving 1.4.3 files still
# name their 1.4.2 location (as published: the tag changed no schema since).
GRANT_SCHEMA_URI = (
    "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/schema/"
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


def _registry(uri: str, name: str, specification: Any = DRAFT4) -> Registry:
    resource = Resource.from_contents(_load(name), default_specification=specification)
    return Registry().with_resource(uri, resource)


@cache
def threesixtygiving_validator() -> Validator:
    """The 360Giving 1.4.3 grants package schema (JSON Schema 2020-12), grants included."""
    registry = _registry(GRANT_SCHEMA_URI, "360-giving-schema.json", DRAFT202012)
    return Draft202012Validator(
        _load("360-giving-package-schema.json"), registry=registry, format_checker=FORMATS
    )


@cache
def grant_schema() -> dict[str, Any]:
    """The 360Giving 1.4.3 grant schema, vendored whole."""
    return _load("360-giving-schema.json")


@cache
def ocds_validator() -> Validator:
    registry = _registry(RELEASE_SCHEMA_URI, "release-schema.json")
    return Draft4Validator(
        _load("release-package-schema.json"), registry=registry, format_checker=FORMATS
    )


VERSIONED_RELEASE_SCHEMA_URI = (
    "https://standard.open-contracting.org/schema/1__1__5/versioned-release-validation-schema.json"
)


@cache
def ocds_record_validator() -> Validator:
    """The OCDS 1.1.5 record package schema, its releases, compiled and versioned releases."""
    registry = _registry(RELEASE_SCHEMA_URI, "release-schema.json").with_resource(
        VERSIONED_RELEASE_SCHEMA_URI,
        Resource.from_contents(
            _load("versioned-release-validation-schema.json"), default_specification=DRAFT4
        ),
    )
    return Draft4Validator(
        _load("record-package-schema.json"), registry=registry, format_checker=FORMATS
    )


INDIGO_SCHEMA = "indigo-project.json"
VENDORED_BLOBS = {
    "release-schema.json": "38a70b5c58c42a24ae609b92f0dcb82618f742bb",
    "release-package-schema.json": "aefaa2df1cf93ab0c9320722e53185a797931db7",
    "360-giving-schema.json": "28687811c43be8c8dfc26b586b7541b3de442088",
    "360-giving-package-schema.json": "28a81072fdfbe5ce9bc8e4e9407dbd4321011f4c",
    "indigo-project.json": "4ea937ae2cc72e6c2c47ebc06bc595fbdeaf96ee",
    "indigo-organisation.json": "40950b73aa85678346771530db18177f139fe084",
    "versioned-release-validation-schema.json": "182ce17449d8f4388d9640adb08a48d595b8ccd4",
    "record-package-schema.json": "4448642702835f4aa1a9b0452759b4d1a0803aa9",
}
OCDS_CODELISTS = "ocds-codelists"
OCDS_CODELISTS_TREE = "ee61e03548fd41cf8e583e32c02b5e754eb1785a"
"""The git tree id of open-contracting/standard's `schema/codelists` at `1__1__5`."""
"""Each vendored file's git blob id in its standard's repository at the release tag
(schemas/README.md): a test recomputes them, so a copy is whole and unedited."""


def git_tree_id(folder: Path) -> str:
    """The id git gives a folder of plain files (`git rev-parse <tag>:<path>`)."""
    entries = b"".join(
        b"100644 " + path.name.encode() + b"\0" + bytes.fromhex(git_blob_id(path.read_bytes()))
        for path in sorted(folder.iterdir(), key=lambda path: path.name)
    )
    return hashlib.sha1(b"tree %d\0" % len(entries) + entries, usedforsecurity=False).hexdigest()


def ocds_standard_zip() -> bytes:
    """The vendored OCDS 1.1.5 schema files and codelists, laid out as the standard's
    repository ZIP that libcoveocds reads (its `standard_zip` setting), so the official tool
    runs with no network access."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("standard-1__1__5/", b"")
        for name in VENDORED_BLOBS:
            if name.startswith(("release", "record", "versioned")):
                archive.write(SCHEMAS / name, f"standard-1__1__5/schema/{name}")
        for path in sorted((SCHEMAS / OCDS_CODELISTS).iterdir()):
            archive.write(path, f"standard-1__1__5/schema/codelists/{path.name}")
    return buffer.getvalue()


def git_blob_id(content: bytes) -> str:
    """The id git gives a file's content (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


@cache
def indigo_validator() -> Validator:
    return Draft7Validator(indigo_schema(), format_checker=FORMATS)


@cache
def indigo_organisation_validator() -> Validator:
    """INDIGO 4.1.0's organisation schema: each entry of an export's `organisations`."""
    return Draft7Validator(_load("indigo-organisation.json"), format_checker=FORMATS)


def indigo_schema() -> dict[str, Any]:
    """The INDIGO project schema, vendored whole."""
    return _load(INDIGO_SCHEMA)


def errors(validator: Validator, document: object) -> list[str]:
    """Every schema error, each naming the path of the field and the rule it broke."""
    found = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    return [_describe(error) for error in found]


def _describe(error: ValidationError) -> str:
    """An error as a path and a rule; a `oneOf` failure (360Giving 1.4's grant is a grant to an
    organisation or to an individual) as the first alternative's own reasons."""
    if error.validator == "oneOf" and error.context:
        first = [e for e in error.context if e.schema_path and e.schema_path[0] == 0]
        if first:
            return "; ".join(_describe(e) for e in first)
    return f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
