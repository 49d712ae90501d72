"""The one shape in which every service decides and refuses: a domain function returns a
`Decision` (the state to save and the events to publish, or the rule it broke), and a refused
command is published as the one refusal event, `CommandRefused`, carrying the rule, a sentence
and the figures.

Domains import this module (it does no I/O); handlers turn a refused decision into a
`CommandRefused`, so the gateway reads every service's refusals the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field, model_validator

from contracts.base import Event
from contracts.topics import ALLOCATIONS_LIFECYCLE, LEDGER_RESULTS, OUTCOMES_LIFECYCLE
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


DecidingService = Literal["allocations", "outcomes", "ledger"]

REFUSAL_TOPICS: dict[str, str] = {
    "allocations": ALLOCATIONS_LIFECYCLE,
    "outcomes": OUTCOMES_LIFECYCLE,
    "ledger": LEDGER_RESULTS,
}
"""Where each deciding service publishes its refusals: beside the rest of what it decides."""


class CommandRefused(Event):
    """A command was refused: who decided, which command, about what, the rule, why, and the
    figures. The one refusal event of every service.

    Each service publishes it on its own topic, beside the rest of what it decides
    (`REFUSAL_TOPICS`), so this is the one event type published on several topics. Version 1
    was allocations' alone; the outcomes service's `OutcomesCommandRefused` and the ledger's
    `RequestRejected` are read as this type (`contracts.upcasting.RENAMED`).
    """

    topics: ClassVar[tuple[str, ...]] = tuple(REFUSAL_TOPICS.values())
    schema_version = 2

    decided_by: DecidingService
    command_type: Identifier
    subject_id: Identifier
    rule: Identifier
    reason: Text
    figures: Figures = Field(default_factory=dict)
    # The outcomes contract the command was about: the outcomes topics are keyed by contract,
    # so an outcomes refusal stays in order with the rest of its contract's events.
    contract_id: Identifier | None = None

    @model_validator(mode="after")
    def _outcomes_refusals_name_their_contract(self) -> CommandRefused:
        if self.decided_by == "outcomes" and self.contract_id is None:
            raise ValueError("an outcomes refusal names its contract_id (the topic's key)")
        return self

    def published_on(self) -> str:
        return REFUSAL_TOPICS[self.decided_by]

    def partition_key(self) -> str:
        if self.decided_by == "outcomes" and self.contract_id is not None:
            return self.contract_id
        return self.place_id
