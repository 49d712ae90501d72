"""The Event base class and the registry that maps an event type name to its class."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from contracts.errors import UnknownEventType
from contracts.values import Identifier

EVENT_TYPES: dict[str, type["Event"]] = {}
"""Every concrete event class, by event_type. Filled as each class is defined."""


class Event(BaseModel):
    """A message on a topic: a past-tense fact, or an imperative command or request.

    Subclasses are registered automatically under their class name. Pass `abstract=True`
    in the class statement for a base that only shares fields.

    A class names the `topic` it is published on. The one type published on several (the one
    refusal event, `contracts.decisions.CommandRefused`) names them all in `topics` instead and
    says in `published_on` which one each of its events goes to.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str]
    topics: ClassVar[tuple[str, ...]]
    """Every topic events of this type are published on: `(topic,)` unless the class says."""

    place_id: Identifier

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not abstract:
            _register(cls)

    def published_on(self) -> str:
        """The topic this event is published on: its class's topic."""
        return self.topic

    def partition_key(self) -> str:
        """The aggregate id used as the Kafka key: the place, unless a subclass says otherwise."""
        return self.place_id


def _register(cls: type[Event]) -> None:
    # Failing at import time is deliberate: a clash or a missing topic is a programmer error.
    if "topics" not in vars(cls):
        if not hasattr(cls, "topic"):
            raise TypeError(f"{cls.__name__} must set the topic it is published on")
        cls.topics = (cls.topic,)
    cls.event_type = cls.__name__
    if cls.event_type in EVENT_TYPES:
        raise TypeError(f"event type {cls.event_type} is defined twice")
    EVENT_TYPES[cls.event_type] = cls


def event_class(event_type: str) -> type[Event]:
    """Return the class registered under event_type, or raise UnknownEventType."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
