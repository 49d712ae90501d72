"""Events on the citizens topic, keyed by place: what happened in the Citizens' Panel, scrutiny
triggers, the Local Public Audit Committee and participatory budgeting rounds. All of it is
public, as the citizens pages show it: no event carries a resident's pseudonymous key, who
supported a trigger, who proposed a project or how anyone voted."""

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from contracts.base import Event
from contracts.money import Pence, PositivePence
from contracts.topics import CITIZENS_LIFECYCLE
from contracts.values import Identifier, Text, ValueObject

REPORT_SUMMARY_LENGTH_MAX = 16_000
"""A committee report's summary may be longer than other texts (four times)."""

Count = Annotated[int, Field(ge=0, strict=True)]
Summary = Annotated[str, Field(min_length=1, max_length=REPORT_SUMMARY_LENGTH_MAX)]
Pseudonym = Annotated[str, Field(min_length=1, max_length=64)]
"""A panel member's published pseudonym (never a resident key)."""


class CitizensEvent(Event, abstract=True):
    """A public fact of the citizens' processes, on the citizens topic, keyed by place."""

    topic = CITIZENS_LIFECYCLE


# --- The Citizens' Panel ----------------------------------------------------------------------


class PanelQuestionAsked(CitizensEvent):
    """A panel member's question put to the board at a meeting, and the day its answer is due."""

    question_id: Identifier
    meeting_id: Identifier
    asked_by: Pseudonym
    question: Text
    asked_on: date
    due_on: date


class PanelQuestionAnswered(CitizensEvent):
    """The board's published answer; `late` when it came after the due day (flagged for good)."""

    question_id: Identifier
    answer: Text
    answered_on: date
    due_on: date
    late: bool


# --- Scrutiny triggers ------------------------------------------------------------------------


class ScrutinyTriggerOpened(CitizensEvent):
    """A resident started a petition for early scrutiny, under the place's threshold and window
    of the day (the resident is not named)."""

    trigger_id: Identifier
    subject_kind: Literal["service", "provider"]
    subject: Text
    concern: Text
    opened_on: date
    closes_on: date
    threshold: Annotated[int, Field(ge=1, strict=True)]


class ScrutinyTriggerReferred(CitizensEvent):
    """A trigger reached its threshold inside its window and was referred to the audit
    committee, which must respond by `respond_by`. Supporters are counted, never named."""

    trigger_id: Identifier
    referral_id: Identifier
    threshold: Annotated[int, Field(ge=1, strict=True)]
    supporters: Count
    referred_on: date
    respond_by: date


# --- The Local Public Audit Committee ---------------------------------------------------------


class AuditReferralReceived(CitizensEvent):
    """A matter referred to the committee, from the public, a councillor or a trigger, due a
    response by `respond_by`. Who referred it is not published."""

    referral_id: Identifier
    source: Literal["public", "councillor", "trigger"]
    subject: Text
    concern: Text
    referred_on: date
    respond_by: date


class AuditReferralMoved(CitizensEvent):
    """The committee took a referral up (investigating) or declined it, with a public note."""

    referral_id: Identifier
    status: Literal["investigating", "declined"]
    note: Text
    moved_on: date


class AdoptedRecommendation(ValueObject):
    """A report's recommendation, numbered in order, with its timescale."""

    number: Annotated[int, Field(ge=1, strict=True)]
    recommendation: Text
    addressed_to: Text
    due_on: date


class AuditReportAdopted(CitizensEvent):
    """The committee adopted a report, published as it is adopted, with its recommendations;
    the referral it answers (if any) is now reported."""

    report_id: Identifier
    referral_id: Identifier | None = None
    title: Text
    summary: Summary
    adopted_on: date
    recommendations: tuple[AdoptedRecommendation, ...] = Field(max_length=100)


class RecommendationCompleted(CitizensEvent):
    """A report's recommendation was completed; `late` when after its timescale."""

    report_id: Identifier
    number: Annotated[int, Field(ge=1, strict=True)]
    completed_on: date
    due_on: date
    late: bool
    note: Text


# --- Participatory budgeting rounds -----------------------------------------------------------


class BudgetRoundOpened(CitizensEvent):
    """A round opened on a funded partnership agreement: its reservation is the budget."""

    round_id: Identifier
    title: Text
    allocation_id: Identifier
    budget_pence: PositivePence
    proposals_open_on: date
    proposals_close_on: date
    voting_open_on: date
    voting_close_on: date
    eligible_areas: tuple[str, ...]
    eligible_purposes: tuple[str, ...]
    projects_start_on: date
    projects_end_on: date


class BudgetProposalSubmitted(CitizensEvent):
    """A resident's project proposal, waiting for moderation (the proposer is not named)."""

    round_id: Identifier
    proposal_id: Identifier
    title: Text
    area: Identifier
    purpose: Identifier
    cost_pence: PositivePence
    recipient_id: Identifier


class BudgetProposalModerated(CitizensEvent):
    """A proposal accepted or rejected, with the reason published with it (a later decision
    before voting opens replaces it)."""

    round_id: Identifier
    proposal_id: Identifier
    decision: Literal["accepted", "rejected"]
    reason: Text
    moderated_on: date


class CountedProposal(ValueObject):
    """An accepted proposal's published vote total and, if funded, its rank and allocation."""

    proposal_id: Identifier
    cost_pence: PositivePence
    votes: Count
    winner_rank: Annotated[int, Field(ge=1, strict=True)] | None = None
    allocation_id: Identifier | None = None


class BudgetRoundCounted(CitizensEvent):
    """A round counted after voting closed: every accepted proposal's total, the winners (sent
    to be funded from the round's reservation) and the money funded and released to the pot.
    Anyone can recount from `proposals` with `count_rule`."""

    round_id: Identifier
    allocation_id: Identifier
    budget_pence: PositivePence
    ballots_cast: Count
    count_rule: Text
    proposals: tuple[CountedProposal, ...]
    funded_pence: Pence
    released_pence: Pence
    counted_on: date
