"""The citizens' events: all on `citizens.lifecycle.v1`, keyed by place, and none with a field
that would carry a resident's key or name who did something (they are public facts)."""

from __future__ import annotations

from datetime import date

from contracts import EVENT_TYPES, topics
from contracts.citizens import CitizensEvent, PanelQuestionAnswered

# Fields the citizens' tables keep that are not public: never in an event.
PRIVATE_FIELDS = {
    "resident_key", "voter_key", "proposer_key", "referred_by", "answered_by", "adopted_by",
    "opened_by", "counted_by", "set_by", "added_by", "principal_id", "supporters_keys",
}  # fmt: skip


def citizens_events() -> list[type[CitizensEvent]]:
    return [cls for cls in EVENT_TYPES.values() if issubclass(cls, CitizensEvent)]


def fields_of(cls: type) -> set[str]:
    """Every field name of a model and of the value objects inside it."""
    names: set[str] = set()
    schema = cls.model_json_schema()
    for part in [schema, *schema.get("$defs", {}).values()]:
        names |= set(part.get("properties", {}))
    return names


def test_the_citizens_topic_carries_exactly_the_citizens_events() -> None:
    on_topic = {
        name for name, cls in EVENT_TYPES.items() if topics.CITIZENS_LIFECYCLE in cls.topics
    }
    assert on_topic == {cls.event_type for cls in citizens_events()}
    assert len(on_topic) >= 9


def test_no_citizens_event_has_a_private_field() -> None:
    found = {
        cls.event_type: fields_of(cls) & PRIVATE_FIELDS
        for cls in citizens_events()
        if fields_of(cls) & PRIVATE_FIELDS
    }
    assert found == {}


def test_a_citizens_event_is_keyed_by_its_place() -> None:
    answered = PanelQuestionAnswered(
        place_id="GM",
        question_id="q-1",
        answer="Yes.",
        answered_on=date(2026, 2, 1),
        due_on=date(2026, 1, 30),
        late=True,
    )
    assert (answered.published_on(), answered.partition_key()) == (
        topics.CITIZENS_LIFECYCLE,
        "GM",
    )
