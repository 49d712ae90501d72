"""Compare two schema snapshots and list the changes that would break a producer or consumer."""

import json
from collections.abc import Callable, Mapping
from typing import Any

from contracts.money import PENCE_MAX
from contracts.upcasting import RENAMED, UPCASTERS, Renamed
from contracts.values import FINANCIAL_YEAR_PATTERN, FINANCIAL_YEAR_PATTERN_SHAPE

Schema = dict[str, Any]
Snapshot = dict[str, Any]

# Keys that describe a schema for people but do not change what validates.
_ANNOTATION_KEYS = frozenset({"title", "description", "default", "examples"})
_VALUE_KEYS = frozenset({"enum", "const"})
# The money bounds added once to every amount (README, "Money limits"): an amount beyond them
# could never be stored or totalled (the ledger dead-lettered it), so no event that worked is
# refused by them. Adding exactly these bounds is allowed; any other new or changed bound is not.
_MONEY_BOUNDS = {"maximum": PENCE_MAX, "minimum": -PENCE_MAX}
# Patterns replaced by ones that accept exactly what the old pattern and its validator
# accepted together: the schema now states a rule that was always applied (issue 14).
_EQUIVALENT_PATTERNS = {FINANCIAL_YEAR_PATTERN_SHAPE: FINANCIAL_YEAR_PATTERN}


def breaking_changes(
    old: Snapshot,
    new: Snapshot,
    *,
    upcasters: Mapping[tuple[str, int], Callable[..., Any]] | None = None,
    renames: Mapping[str, Renamed] | None = None,
) -> list[str]:
    """List every breaking change from old to new; an empty list means new is compatible.

    A schema_version bump is allowed when upcasters bridge every version in between, and an
    event type may go when its messages are read as another type published on its topics
    (the live UPCASTERS and RENAMED registries unless others are given).
    """
    bridges = UPCASTERS if upcasters is None else upcasters
    renamed = RENAMED if renames is None else renames
    old_envelope, new_envelope = old["envelope"]["schema"], new["envelope"]["schema"]
    problems = _compare("Envelope", _root(old_envelope), _root(new_envelope))
    for event_type, old_entry in sorted(old["events"].items()):
        new_entry = new["events"].get(event_type)
        if new_entry is not None:
            problems += _compare_event(event_type, old_entry, new_entry, bridges)
        elif event_type in renamed:
            problems += _renamed_problems(event_type, old_entry, new, bridges, renamed)
        else:
            problems.append(f"{event_type}: event type removed")
    for former, entry in sorted(old.get("renamed", {}).items()):
        if former not in renamed:
            problems.append(f"{former}: former event type no longer read")
        elif renamed[former].last_version < entry["last_version"]:
            problems.append(f"{former}: version {entry['last_version']} no longer read")
    return problems


def _renamed_problems(
    event_type: str,
    old: Snapshot,
    new: Snapshot,
    bridges: Mapping[tuple[str, int], Any],
    renames: Mapping[str, Renamed],
) -> list[str]:
    """What stops the messages of a former event type from reading as the type it became."""
    renamed = renames[event_type]
    read_as = new["events"].get(renamed.read_as)
    if read_as is None:
        return [f"{event_type}: read as {renamed.read_as}, which is not an event type"]
    problems = []
    if old["schema_version"] > renamed.last_version:
        problems.append(
            f"{event_type}: schema_version {old['schema_version']} is newer than the "
            f"{renamed.last_version} read as {renamed.read_as}"
        )
    problems += _missing_upcasters(event_type, old["schema_version"], renamed.last_version, bridges)
    problems += _missing_upcasters(
        renamed.read_as, renamed.read_as_version, read_as["schema_version"], bridges
    )
    unpublished = _topics(old) - _topics(read_as)
    if unpublished:
        problems.append(
            f"{event_type}: read as {renamed.read_as}, which is not published on "
            + ", ".join(sorted(unpublished))
        )
    return problems


def _topics(entry: Snapshot) -> set[str]:
    """The topics a snapshot entry's type is published on (`topics` when several)."""
    return set(entry["topics"]) if "topics" in entry else {entry["topic"]}


def _compare_event(
    event_type: str, old: Snapshot, new: Snapshot, bridges: Mapping[tuple[str, int], Any]
) -> list[str]:
    problems = []
    unpublished = _topics(old) - _topics(new)
    if unpublished and "topic" in old and "topic" in new:
        problems.append(f"{event_type}: topic changed from {old['topic']} to {new['topic']}")
    elif unpublished:
        problems.append(f"{event_type}: no longer published on {', '.join(sorted(unpublished))}")
    old_version, new_version = old["schema_version"], new["schema_version"]
    if new_version < old_version:
        problems.append(
            f"{event_type}: schema_version went down from {old_version} to {new_version}"
        )
    elif new_version > old_version:
        problems += _missing_upcasters(event_type, old_version, new_version, bridges)
    else:
        problems += _compare(event_type, _root(old["schema"]), _root(new["schema"]))
    return problems


def _missing_upcasters(
    event_type: str, old_version: int, new_version: int, bridges: Mapping[tuple[str, int], Any]
) -> list[str]:
    return [
        f"{event_type}: schema_version bumped from {old_version} to {new_version} "
        f"without an upcaster from {version} to {version + 1}"
        for version in range(old_version, new_version)
        if (event_type, version) not in bridges
    ]


def _root(schema: Schema) -> Schema:
    """Inline every $ref, so a change inside a nested model is compared where it is used."""
    inlined: Schema = _inline(schema, schema.get("$defs", {}))
    return inlined


def _inline(node: Any, defs: Schema) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    return {key: _inline(value, defs) for key, value in node.items() if key != "$defs"}


def _compare(where: str, old: Schema, new: Schema) -> list[str]:
    if "properties" in old or "properties" in new:
        return _compare_objects(where, old, new)
    old_variants, new_variants = old.get("anyOf"), new.get("anyOf")
    if old_variants and new_variants and len(old_variants) == len(new_variants):
        pairs = zip(old_variants, new_variants, strict=True)
        return [problem for o, n in pairs for problem in _compare(where, o, n)]
    if "items" in old and "items" in new:
        problems = _compare(f"{where}[]", old["items"], new["items"])
        return problems + _compare_leaf(where, _without(old, {"items"}), _without(new, {"items"}))
    return _compare_leaf(where, old, new)


def _compare_objects(where: str, old: Schema, new: Schema) -> list[str]:
    if "properties" not in old or "properties" not in new:
        return [_type_changed(where, old, new)]
    old_fields, new_fields = old["properties"], new["properties"]
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    problems = []
    for name, old_field in old_fields.items():
        if name not in new_fields:
            problems.append(f"{where}.{name}: field removed")
            continue
        if name in new_required and name not in old_required:
            problems.append(f"{where}.{name}: field became required")
        problems += _compare(f"{where}.{name}", old_field, new_fields[name])
    for name in sorted(new_fields.keys() - old_fields.keys()):
        if name in new_required:
            problems.append(f"{where}.{name}: new required field without a default")
    return problems


def _compare_leaf(where: str, old: Schema, new: Schema) -> list[str]:
    problems = []
    new = _without_added_money_bounds(old, new)
    if "pattern" in old and _EQUIVALENT_PATTERNS.get(old["pattern"]) == new.get("pattern"):
        new = {**new, "pattern": old["pattern"]}
    old_values, new_values = _allowed_values(old), _allowed_values(new)
    if old_values is not None and new_values is not None and old_values - new_values:
        removed = ", ".join(sorted(old_values - new_values))
        problems.append(f"{where}: allowed value(s) removed: {removed}")
    if old_values is None and new_values is not None:
        problems.append(f"{where}: now restricted to the values {', '.join(sorted(new_values))}")
    if _signature(old) != _signature(new):
        problems.append(_type_changed(where, old, new))
    return problems


def _without_added_money_bounds(old: Schema, new: Schema) -> Schema:
    added = {
        key
        for key, bound in _MONEY_BOUNDS.items()
        if key not in old and new.get(key) == bound and new.get("type") == "integer"
    }
    return _without(new, added)


def _allowed_values(schema: Schema) -> set[str] | None:
    """The literal values a schema allows, as JSON text, or None when it does not list them."""
    if "enum" in schema:
        return {json.dumps(value) for value in schema["enum"]}
    if "const" in schema:
        return {json.dumps(schema["const"])}
    return None


def _type_changed(where: str, old: Schema, new: Schema) -> str:
    return f"{where}: type changed from {_signature(old)} to {_signature(new)}"


def _signature(schema: Schema) -> str:
    return json.dumps(_strip(_without(schema, _VALUE_KEYS)), sort_keys=True)


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if isinstance(node, dict):
        return {key: _strip(value) for key, value in node.items() if key not in _ANNOTATION_KEYS}
    return node


def _without(schema: Schema, keys: frozenset[str] | set[str]) -> Schema:
    return {key: value for key, value in schema.items() if key not in keys}
