"""Tests of the event registry and topics: every event has one name and a known topic."""

import pytest

from contracts import (
    ALL_TOPICS,
    EVENT_TYPES,
    CommandRefused,
    ContractError,
    ContractEvent,
    Event,
    EvidenceVerified,
    RecordSettlement,
    SpendRecorded,
    UnknownEventType,
    event_class,
    prefixed,
    topics,
)


def test_every_event_class_is_published_on_a_known_topic() -> None:
    unknown = {
        name: set(cls.topics) - set(ALL_TOPICS)
        for name, cls in EVENT_TYPES.items()
        if set(cls.topics) - set(ALL_TOPICS)
    }
    assert unknown == {}


def test_only_the_one_refusal_event_is_published_on_several_topics() -> None:
    several = {name for name, cls in EVENT_TYPES.items() if len(cls.topics) > 1}
    assert several == {"CommandRefused"}
    assert all(
        cls.topics == (cls.topic,) for cls in EVENT_TYPES.values() if cls is not CommandRefused
    )


def test_every_event_class_is_registered_under_its_own_unique_name() -> None:
    assert all(cls.event_type == name == cls.__name__ for name, cls in EVENT_TYPES.items())
    assert len({cls.event_type for cls in EVENT_TYPES.values()}) == len(EVENT_TYPES)


def test_every_event_subclass_is_registered() -> None:
    def concrete(cls: type[Event]) -> set[type[Event]]:
        found = {cls} if "topics" in dir(cls) else set()
        return found.union(*(concrete(sub) for sub in cls.__subclasses__()))

    assert concrete(Event) == set(EVENT_TYPES.values())


def test_every_topic_carries_at_least_one_event_type() -> None:
    used = {topic for cls in EVENT_TYPES.values() for topic in cls.topics}
    assert used | {topics.DEAD_LETTER} == set(ALL_TOPICS)


def test_only_record_settlement_and_command_refused_are_at_schema_version_2() -> None:
    versions = {name: cls.schema_version for name, cls in EVENT_TYPES.items()}
    assert {name for name, version in versions.items() if version != 1} == {
        "RecordSettlement",
        "CommandRefused",  # every service's refusal since version 2 (allocations' alone in 1)
    }
    assert RecordSettlement.schema_version == 2


def test_event_class_finds_a_class_by_its_event_type() -> None:
    assert event_class("SpendRecorded") is SpendRecorded


def test_event_class_names_an_unknown_event_type() -> None:
    with pytest.raises(UnknownEventType, match="'NoSuchEvent'"):
        event_class("NoSuchEvent")


def test_unknown_event_type_is_a_contract_error() -> None:
    assert issubclass(UnknownEventType, ContractError)


def test_ledger_events_are_keyed_by_place(spend: SpendRecorded) -> None:
    assert spend.partition_key() == "GM"


def test_outcomes_events_are_keyed_by_contract() -> None:
    verified = EvidenceVerified(
        place_id="GM", contract_id="C-9", batch_id="B-1", verified_count=3, amount_pence=900
    )
    assert verified.partition_key() == "C-9"


def test_outcomes_topics_carry_only_contract_keyed_events() -> None:
    outcomes_topics = {topics.OUTCOMES_COMMANDS, topics.OUTCOMES_LIFECYCLE}
    for cls in EVENT_TYPES.values():
        if cls is CommandRefused:
            continue  # keyed by contract when outcomes decides (test_one_refusal_event.py)
        assert (cls.topic in outcomes_topics) == issubclass(cls, ContractEvent), cls.event_type


def test_prefixed_puts_a_test_prefix_before_the_topic_name() -> None:
    assert prefixed(topics.LEDGER_SPEND, "t123.") == "t123.ledger.spend.v1"


def test_all_topics_lists_each_topic_once() -> None:
    assert len(set(ALL_TOPICS)) == len(ALL_TOPICS) == 10


def test_events_are_frozen(spend: SpendRecorded) -> None:
    with pytest.raises(ValueError, match="frozen"):
        spend.amount_pence = 1  # type: ignore[misc]


def test_events_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        EvidenceVerified(
            place_id="GM",
            contract_id="C-9",
            batch_id="B-1",
            verified_count=3,
            amount_pence=900,
            bonus_pence=1,  # type: ignore[call-arg]
        )
