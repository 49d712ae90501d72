"""Validators for custom resources, built from the operators' own CRDs vendored in deploy/k8s/crds.

A CRD's `openAPIV3Schema` is OpenAPI's dialect of JSON Schema; the API server reads it with a
few rules of its own, which this module applies so that jsonschema judges an object as a
server with strict field validation (`kubectl apply --validate=strict`) would:
- a field the schema does not declare is refused, unless the object says
  `x-kubernetes-preserve-unknown-fields` (e.g. a KafkaTopic's free-form `config`);
- `x-kubernetes-int-or-string` takes an integer or a string; `nullable` also takes null.
CEL rules (`x-kubernetes-validations`) are not evaluated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

Schema = dict[str, Any]
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Keywords whose value is a map of name -> schema, a schema, or a list of schemas.
SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
SCHEMA_VALUES = ("items", "additionalProperties", "not")
SCHEMA_LISTS = ("anyOf", "allOf", "oneOf")


def as_json_schema(node: Schema) -> Schema:
    """One OpenAPI schema node (and everything under it) with the API server's rules made
    explicit, so a plain JSON Schema validator applies them."""
    schema = dict(node)
    for keyword in SCHEMA_MAPS:
        if isinstance(schema.get(keyword), dict):
            schema[keyword] = {
                name: as_json_schema(child) for name, child in schema[keyword].items()
            }
    for keyword in SCHEMA_VALUES:
        if isinstance(schema.get(keyword), dict):
            schema[keyword] = as_json_schema(schema[keyword])
    for keyword in SCHEMA_LISTS:
        if isinstance(schema.get(keyword), list):
            schema[keyword] = [as_json_schema(child) for child in schema[keyword]]
    if schema.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.pop("nullable", False) and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    closed = schema.get("type") == "object" and "properties" in schema
    if closed and "additionalProperties" not in schema:
        schema["additionalProperties"] = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    return schema


@cache
def load(path: Path) -> list[dict[str, Any]]:
    """The YAML documents in one vendored file (libyaml's loader: the CRDs are large)."""
    return [document for document in yaml.load_all(path.read_bytes(), Loader=LOADER) if document]


def validators(crd_files: Iterable[Path]) -> dict[tuple[str, str], jsonschema.Draft4Validator]:
    """A validator per (apiVersion, kind) that the CRDs serve."""
    found = {}
    for path in crd_files:
        (crd,) = load(path)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = as_json_schema(version["schema"]["openAPIV3Schema"])
                found[(f"{group}/{version['name']}", kind)] = jsonschema.Draft4Validator(schema)
    return found


def errors(validator: jsonschema.Draft4Validator, manifest: dict[str, Any]) -> list[str]:
    """Each way `manifest` breaks its schema, as `path: message`."""
    return [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]
