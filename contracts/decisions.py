"""The one shape in which every service decides and refuses: a domain function returns a
`Decision` (the state to save and the events to publish, or the rule it broke), and a refused
command is published as a `CommandRefusal` event carrying the rule, a sentence and the figures.

Domains import this module (it does no I/O); handlers turn a refused decision into the
service's refusal event, so the gateway reads every service's refusals the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import Field

from contracts.base import Event
from contracts.values import Figures, Identifier, Text

State = TypeVar("State")


@dataclass(frozen=True)
class RuleBroken:
    """Why a command is refused: the rule's name, one sentence a person reads, the figures."""

    rule: str
    reason: str
    figures: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision(Generic[State]):
    """What a domain decided about one command.

    Accepted: `state` is what to save (None when a repeated command changes nothing) and
    `events` what to publish. Refused: `refusal` names the rule; nothing is saved.
    """

    state: State | None = None
    events: tuple[Event, ...] = ()
    refusal: RuleBroken | None = None

    @property
    def refused(self) -> bool:
        return self.refusal is not None

    @staticmethod
    def refuse(rule: str, reason: str, figures: Mapping[str, int] | None = None) -> Decision[Any]:
        """A refusal of the command under `rule`, saying why in `reason`."""
        return Decision(refusal=RuleBroken(rule, reason, dict(figures or {})))


class CommandRefusal(Event, abstract=True):
    """A command was refused: which command, about what, the rule, why, and the figures.

    The one refusal shape: each service publishes a subclass of it on its own lifecycle topic
    (a class names its topic), and `contracts.refusals` reads every one, and the older
    refusal events, as one `Refusal`.
    """

    command_type: Identifier
    subject_id: Identifier
    rule: Identifier
    reason: Text
    figures: Figures = Field(default_factory=dict)
