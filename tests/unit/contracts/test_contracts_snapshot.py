"""Tests of schema compatibility: the committed snapshot, and what counts as breaking."""

import copy
from typing import Any

from contracts.snapshot import breaking_changes, current_snapshot, load_snapshot
from contracts.upcasting import Renamed


def test_schemas_match_the_committed_snapshot() -> None:
    committed, current = load_snapshot(), current_snapshot()
    problems = breaking_changes(committed, current)
    assert problems == [], (
        "Breaking contract change(s). Bump schema_version and add an upcaster, "
        "or publish on a new topic version:\n" + "\n".join(problems)
    )
    assert current == committed, (
        "The schemas changed compatibly but contracts/schema_snapshot.json is stale: "
        "run `python -m contracts.snapshot` and commit the result."
    )


def _field(schema_type: str = "string") -> dict[str, Any]:
    return {"type": schema_type, "title": "A field"}


def _snapshot(properties: dict[str, Any], required: list[str], version: int = 1) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "envelope": {"schema": {"type": "object", "properties": {}, "required": []}},
        "events": {"Thing": {"schema_version": version, "topic": "t.v1", "schema": schema}},
    }


OLD = _snapshot({"thing_id": _field(), "note": _field()}, ["thing_id"])


def _changed(change: Any) -> dict[str, Any]:
    new = copy.deepcopy(OLD)
    change(new["events"]["Thing"])
    return new


def test_an_unchanged_snapshot_has_no_breaking_changes() -> None:
    assert breaking_changes(OLD, copy.deepcopy(OLD)) == []


def test_a_removed_field_is_breaking() -> None:
    new = _changed(lambda thing: thing["schema"]["properties"].pop("note"))
    assert breaking_changes(OLD, new) == ["Thing.note: field removed"]


def test_a_changed_field_type_is_breaking() -> None:
    new = _changed(lambda thing: thing["schema"]["properties"].update(note=_field("integer")))
    [problem] = breaking_changes(OLD, new)
    assert problem.startswith("Thing.note: type changed")


def test_a_new_required_field_is_breaking() -> None:
    def add_required(thing: dict[str, Any]) -> None:
        thing["schema"]["properties"]["amount_pence"] = _field("integer")
        thing["schema"]["required"].append("amount_pence")

    assert breaking_changes(OLD, _changed(add_required)) == [
        "Thing.amount_pence: new required field without a default"
    ]


def test_a_new_optional_field_is_not_breaking() -> None:
    new = _changed(lambda thing: thing["schema"]["properties"].update(extra=_field()))
    assert breaking_changes(OLD, new) == []


def test_an_optional_field_becoming_required_is_breaking() -> None:
    new = _changed(lambda thing: thing["schema"]["required"].append("note"))
    assert breaking_changes(OLD, new) == ["Thing.note: field became required"]


def test_a_removed_event_type_is_breaking() -> None:
    new = copy.deepcopy(OLD)
    new["events"].clear()
    assert breaking_changes(OLD, new) == ["Thing: event type removed"]


def test_a_changed_topic_is_breaking() -> None:
    new = _changed(lambda thing: thing.update(topic="t.v2"))
    assert breaking_changes(OLD, new) == ["Thing: topic changed from t.v1 to t.v2"]


def test_a_removed_literal_value_is_breaking_but_an_added_one_is_not() -> None:
    old = _snapshot({"kind": {"enum": ["a", "b"], "type": "string"}}, ["kind"])
    fewer = _snapshot({"kind": {"enum": ["a"], "type": "string"}}, ["kind"])
    more = _snapshot({"kind": {"enum": ["a", "b", "c"], "type": "string"}}, ["kind"])
    assert breaking_changes(old, fewer) == ['Thing.kind: allowed value(s) removed: "b"']
    assert breaking_changes(old, more) == []


def test_a_field_removed_inside_a_nested_model_is_breaking() -> None:
    nested = {"type": "object", "properties": {"year": _field()}, "required": ["year"]}
    old = _snapshot({"profile": {"type": "array", "items": {"$ref": "#/$defs/Year"}}}, [])
    old["events"]["Thing"]["schema"]["$defs"] = {"Year": nested}
    new = copy.deepcopy(old)
    new["events"]["Thing"]["schema"]["$defs"]["Year"]["properties"].clear()
    assert breaking_changes(old, new) == ["Thing.profile[].year: field removed"]


def test_a_version_bump_with_an_upcaster_is_allowed() -> None:
    new = _snapshot({"thing_id": _field("integer")}, ["thing_id"], version=2)
    bridges = {("Thing", 1): lambda payload: payload}
    assert breaking_changes(OLD, new, upcasters=bridges) == []


def test_a_version_bump_without_an_upcaster_is_breaking() -> None:
    new = _snapshot({"thing_id": _field("integer")}, ["thing_id"], version=2)
    assert breaking_changes(OLD, new, upcasters={}) == [
        "Thing: schema_version bumped from 1 to 2 without an upcaster from 1 to 2"
    ]


def test_record_settlement_v2_is_compatible_with_its_v1_schema_through_the_upcaster() -> None:
    current = current_snapshot()
    old = copy.deepcopy(current)
    old["events"]["RecordSettlement"]["schema_version"] = 1
    assert breaking_changes(old, current) == []


def _with_other(topic: str = "t.v1", version: int = 1) -> dict[str, Any]:
    """OLD plus a type `Other` on `topic`, which a test may then rename to `Thing`."""
    snapshot = copy.deepcopy(OLD)
    snapshot["events"]["Other"] = {**snapshot["events"]["Thing"], "topic": topic}
    snapshot["events"]["Other"]["schema_version"] = version
    return snapshot


RENAMED_TO_THING = {"Other": Renamed("Thing", 1, 1, lambda payload: payload)}


def test_a_type_read_as_another_on_its_topic_may_go() -> None:
    new = copy.deepcopy(OLD)
    new["renamed"] = {"Other": {"read_as": "Thing", "last_version": 1}}
    assert breaking_changes(_with_other(), new, renames=RENAMED_TO_THING) == []


def test_a_removed_type_that_nothing_reads_is_still_breaking() -> None:
    assert breaking_changes(_with_other(), copy.deepcopy(OLD), renames={}) == [
        "Other: event type removed"
    ]


def test_a_type_read_as_one_not_published_on_its_topic_is_breaking() -> None:
    assert breaking_changes(
        _with_other(topic="u.v1"), copy.deepcopy(OLD), renames=RENAMED_TO_THING
    ) == ["Other: read as Thing, which is not published on u.v1"]


def test_a_type_read_from_an_older_version_than_it_reached_is_breaking() -> None:
    [problem] = breaking_changes(
        _with_other(version=2), copy.deepcopy(OLD), renames=RENAMED_TO_THING
    )
    assert problem == "Other: schema_version 2 is newer than the 1 read as Thing"


def test_a_former_type_no_longer_read_is_breaking() -> None:
    old = copy.deepcopy(OLD)
    old["renamed"] = {"Other": {"read_as": "Thing", "last_version": 1}}
    assert breaking_changes(old, copy.deepcopy(OLD), renames={}) == [
        "Other: former event type no longer read"
    ]


def test_a_type_may_be_published_on_more_topics_but_not_on_fewer() -> None:
    several = _changed(lambda thing: thing.update(topics=["t.v1", "u.v1"]))
    del several["events"]["Thing"]["topic"]
    fewer = copy.deepcopy(several)
    fewer["events"]["Thing"]["topics"] = ["u.v1"]
    assert breaking_changes(OLD, several) == []
    assert breaking_changes(several, fewer) == ["Thing: no longer published on t.v1"]


def test_the_former_refusal_events_are_compatible_with_the_one_refusal_event() -> None:
    """The three refusal events as they were before there was one, against today's contracts."""
    current = current_snapshot()
    old = copy.deepcopy(current)
    del old["renamed"]
    refused = old["events"]["CommandRefused"]
    old["events"]["CommandRefused"] = {
        "schema_version": 1,
        "topic": "allocations.lifecycle.v1",
        "schema": refused["schema"],
    }
    old["events"]["OutcomesCommandRefused"] = {
        "schema_version": 1,
        "topic": "outcomes.lifecycle.v1",
        "schema": refused["schema"],
    }
    old["events"]["RequestRejected"] = {
        "schema_version": 2,
        "topic": "ledger.results.v1",
        "schema": refused["schema"],
    }
    assert breaking_changes(old, current) == []
    assert breaking_changes(old, current, renames={}) == [
        "OutcomesCommandRefused: event type removed",
        "RequestRejected: event type removed",
    ]
