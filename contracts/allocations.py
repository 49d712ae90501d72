"""Events on the allocations topics: board commands and what happened to each allocation.

Commands (imperative names) travel on ALLOCATIONS_COMMANDS; the gateway posts them through its
outbox. Facts (past-tense names) travel on ALLOCATIONS_LIFECYCLE and are public: decisions,
votes, recusals and refusals are taken in the open. Every message is keyed by place.
"""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from contracts.base import Event
from contracts.ledger import FundingStreams
from contracts.money import Pence, PositivePence
from contracts.topics import ALLOCATIONS_COMMANDS, ALLOCATIONS_LIFECYCLE
from contracts.values import (
    FinancialYear,
    Identifier,
    Text,
    ValueObject,
    repeated_values,
)


def _when(field: str, value: str, needs: list[str]) -> dict[str, Any]:
    """JSON Schema for "when `field` is `value`, the fields `needs` are given (not null)": a
    model validator's rule stated in the schema too, so that schema-valid is accepted."""
    given: dict[str, Any] = {name: {"not": {"type": "null"}} for name in needs}
    return {
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": {"required": needs, "properties": given},
    }


AllocationType = Literal["grant", "partnership_agreement", "outcomes_contract"]
VariationKind = Literal["value_up", "value_down", "extension", "purpose"]
Seat = Literal[
    "council",
    "nhs_icb",
    "police",
    "dwp",
    "schools",
    "probation",
    "universities",
    "voluntary_sector",
    "business",
    "citizens",
    "combined_authority",
]
"""Who a board member represents. Which seats a board has is the place's choice."""
ChairRole = Literal["mayor", "council_leader"]
Majority = Literal["simple", "two_thirds", "unanimous"]
VoteChoice = Literal["for", "against", "abstain"]
ClaimKind = Literal["right_to_serve", "right_to_request"]
ClaimantKind = Literal["community_group", "council"]
ClaimOutcome = Literal["accepted", "accepted_in_part", "rejected"]
EarmarkKind = Literal["minimum_share", "excluded_purpose"]
PurposeTag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
"""A tag naming a purpose an earmark cares about, e.g. "early-intervention"."""

BASIS_POINTS_MAX = 10_000
INSTALMENTS_MAX = 120
BOARD_MEMBERS_MAX = 100
MISSIONS_MAX = 100


def _each_once(values: list[str], what: str) -> None:
    repeated = repeated_values(values)
    if repeated:
        raise ValueError(f"{what} must each appear once; repeated: {', '.join(repeated)}")


# --- Value objects ------------------------------------------------------------------------------


class Instalment(ValueObject):
    """One scheduled payment of a grant."""

    due_date: date
    amount_pence: PositivePence


class CitizenInvolvement(ValueObject):
    """Evidence that citizens shaped an allocation (a panel, a consultation, co-design)."""

    method: Identifier
    description: Text
    participants_count: int = Field(ge=0, strict=True)
    evidence_reference: Identifier | None = None


class BoardMember(ValueObject):
    """A member of a Public Service Reform Board and the seat they hold."""

    member_id: Identifier
    name: Text
    seat: Seat
    voting: bool = True


class Mission(ValueObject):
    """A local mission of a plan, linked to a metro mission and national mission metrics."""

    mission_id: Identifier
    title: Text
    metro_mission_id: Identifier | None = None
    national_mission_metrics: tuple[Identifier, ...] = ()


# --- Proposals ----------------------------------------------------------------------------------


class _AllocationProposal(Event, abstract=True):
    """The fields of a proposal, shared by the command and the event that records it."""

    allocation_id: Identifier
    allocation_type: AllocationType
    recipient_id: Identifier
    purpose: Text
    mission_id: Identifier
    start_date: date
    # Every allocation ends: contracts rolled over by default are a failure the papers document.
    end_date: date
    value_pence: PositivePence
    financial_year: FinancialYear
    proposed_by: Identifier
    # Grants only; a grant proposed without one is paid in one instalment on its start date.
    instalments: tuple[Instalment, ...] = Field(default=(), max_length=INSTALMENTS_MAX)
    # Tags the place's earmarks are checked against (e.g. "early-intervention").
    purpose_tags: tuple[PurposeTag, ...] = ()
    citizen_involvement: tuple[CitizenInvolvement, ...] = ()
    # Funding rules: only these streams of the pot may fund it (any stream when none is named),
    # and these never do; the place's excluded_purpose earmarks add to the excluded ones.
    funding_streams: FundingStreams = ()
    excluded_funding_streams: FundingStreams = ()

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "_AllocationProposal":
        if self.end_date <= self.start_date:
            raise ValueError(
                f"end_date ({self.end_date}) must be after start_date ({self.start_date})"
            )
        return self

    @model_validator(mode="after")
    def _instalments_fit(self) -> "_AllocationProposal":
        problem = _instalment_problem(self)
        if problem:
            raise ValueError(problem)
        _each_once(list(self.purpose_tags), "purpose_tags")
        return self


def _instalment_problem(proposal: _AllocationProposal) -> str | None:
    if not proposal.instalments:
        return None
    if proposal.allocation_type != "grant":
        return f"instalments are for grants only, not a {proposal.allocation_type}"
    scheduled_pence = sum(instalment.amount_pence for instalment in proposal.instalments)
    if scheduled_pence > proposal.value_pence:
        return (
            f"instalments add up to {scheduled_pence} pence, more than value_pence "
            f"({proposal.value_pence})"
        )
    for number, instalment in enumerate(proposal.instalments, start=1):
        if not proposal.start_date <= instalment.due_date <= proposal.end_date:
            return (
                f"instalment {number} is due on {instalment.due_date}, outside the allocation's "
                f"dates ({proposal.start_date} to {proposal.end_date})"
            )
    due_dates = [instalment.due_date for instalment in proposal.instalments]
    if due_dates != sorted(due_dates):
        return "instalments must be listed in order of due_date"
    return None


# --- Commands (ALLOCATIONS_COMMANDS) ----------------------------------------------------------


class ProposeAllocation(_AllocationProposal):
    """Propose committing part of the pot to a programme or provider."""

    topic = ALLOCATIONS_COMMANDS


class DecideAllocation(Event):
    """Record a decision taken without recorded votes. Only for a place with no board
    configured; a configured board decides by CastVote and CloseVote."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    decision: Literal["approved", "rejected"]
    decided_by: Identifier
    reason: str = ""
    # Set when the decision is on a proposed variation rather than on the allocation itself.
    variation_id: Identifier | None = None


class _BoardConfiguration(Event, abstract=True):
    board_version: int = Field(ge=1, strict=True)
    chair_id: Identifier
    chair_role: ChairRole
    accounting_officer_id: Identifier
    members: tuple[BoardMember, ...] = Field(min_length=1, max_length=BOARD_MEMBERS_MAX)

    @model_validator(mode="after")
    def _members_once_and_chair_among_them(self) -> "_BoardConfiguration":
        ids = [member.member_id for member in self.members]
        _each_once(ids, "board members")
        if self.chair_id not in ids:
            raise ValueError(f"chair_id {self.chair_id!r} must be one of the members")
        return self


class ConfigureBoard(_BoardConfiguration):
    """Set a place's board: chair, accounting officer and members with seats. Versioned: each
    configuration names the next board_version."""

    topic = ALLOCATIONS_COMMANDS


class _DecisionRules(Event, abstract=True):
    rules_version: int = Field(ge=1, strict=True)
    quorum_members: int = Field(ge=1, strict=True)
    majority: Majority = "simple"
    # GovS 015 asks for a robust approval above £100k: the default threshold.
    sign_off_threshold_pence: Pence = 10_000_000
    # Who may propose: member or officer ids, and/or seats. Both empty: anyone.
    proposer_ids: tuple[Identifier, ...] = ()
    proposer_seats: tuple[Seat, ...] = ()
    claim_response_days: int = Field(default=56, ge=1, le=366, strict=True)


class SetDecisionRules(_DecisionRules):
    """Set a place's decision rules as a new version; votes and decisions record the version."""

    topic = ALLOCATIONS_COMMANDS


class _InterestDeclaration(Event, abstract=True):
    # The rule below in the schema's own words, so a schema-valid declaration is accepted.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["recipient_id"], "properties": {"recipient_id": {"type": "string"}}},
                {
                    "required": ["allocation_id"],
                    "properties": {"allocation_id": {"type": "string"}},
                },
            ]
        }
    )

    interest_id: Identifier
    member_id: Identifier
    recipient_id: Identifier | None = None
    allocation_id: Identifier | None = None
    description: Text

    @model_validator(mode="after")
    def _names_what_it_is_in(self) -> "_InterestDeclaration":
        if self.recipient_id is None and self.allocation_id is None:
            raise ValueError("an interest names a recipient_id, an allocation_id, or both")
        return self


class DeclareInterest(_InterestDeclaration):
    """A member declares an interest in a recipient or a proposal; they are recused from it."""

    topic = ALLOCATIONS_COMMANDS


class _PlanAdoption(Event, abstract=True):
    plan_id: Identifier
    spending_review_period: Identifier
    title: Text
    missions: tuple[Mission, ...] = Field(min_length=1, max_length=MISSIONS_MAX)

    @model_validator(mode="after")
    def _missions_once(self) -> "_PlanAdoption":
        _each_once([mission.mission_id for mission in self.missions], "missions")
        return self


class AdoptLocalReformPlan(_PlanAdoption):
    """Adopt a place's Local Reform Plan for a spending-review period, with its missions."""

    topic = ALLOCATIONS_COMMANDS


class _EarmarkDefinition(Event, abstract=True):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when("kind", "minimum_share", ["minimum_share_basis_points"]),
                _when("kind", "excluded_purpose", ["department_code", "funding_stream_code"]),
            ]
        }
    )

    earmark_id: Identifier
    kind: EarmarkKind
    purpose_tag: PurposeTag
    # minimum_share: at least this share (basis points of the year's pot) stays for the tag.
    minimum_share_basis_points: int | None = Field(
        default=None, ge=1, le=BASIS_POINTS_MAX, strict=True
    )
    # excluded_purpose: this department stream may not fund the tagged purpose.
    department_code: Identifier | None = None
    funding_stream_code: Identifier | None = None
    reason: Text

    @model_validator(mode="after")
    def _fields_fit_the_kind(self) -> "_EarmarkDefinition":
        if self.kind == "minimum_share" and self.minimum_share_basis_points is None:
            raise ValueError("a minimum_share earmark needs minimum_share_basis_points")
        if self.kind == "excluded_purpose" and not (
            self.department_code and self.funding_stream_code
        ):
            raise ValueError(
                "an excluded_purpose earmark needs department_code and funding_stream_code"
            )
        return self


class SetEarmark(_EarmarkDefinition):
    """Set an earmark of a place's settlement, checked whenever an allocation is made."""

    topic = ALLOCATIONS_COMMANDS


class CastVote(Event):
    """A board member votes on a proposed allocation (or on a proposed variation of one)."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    variation_id: Identifier | None = None
    member_id: Identifier
    vote: VoteChoice
    # Why the member voted as they did, published with the vote (optional).
    reason: Text | None = None


class CloseVote(Event):
    """Close the vote and apply the place's decision rules: quorum, then majority."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    variation_id: Identifier | None = None
    closed_by: Identifier


class SignOffAllocation(Event):
    """The accounting officer signs off, or refuses with reasons, an approval over threshold."""

    model_config = ConfigDict(json_schema_extra=_when("decision", "refused", ["reasons"]))

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    variation_id: Identifier | None = None
    accounting_officer_id: Identifier
    decision: Literal["signed_off", "refused"]
    reasons: Text | None = None

    @model_validator(mode="after")
    def _refusal_has_reasons(self) -> "SignOffAllocation":
        if self.decision == "refused" and self.reasons is None:
            raise ValueError("a refused sign-off must give its reasons")
        return self


class _VariationProposal(Event, abstract=True):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when("change", "value_up", ["new_value_pence"]),
                _when("change", "value_down", ["new_value_pence"]),
                _when("change", "extension", ["new_end_date"]),
                _when("change", "purpose", ["new_purpose"]),
            ]
        }
    )

    allocation_id: Identifier
    variation_id: Identifier
    change: VariationKind
    reason: Text
    proposed_by: Identifier
    # Handlers have no clock: the date the variation is asked for travels with it.
    proposed_on: date
    new_value_pence: PositivePence | None = None
    new_end_date: date | None = None
    new_purpose: Text | None = None
    new_purpose_tags: tuple[PurposeTag, ...] | None = None

    @model_validator(mode="after")
    def _has_what_the_change_needs(self) -> "_VariationProposal":
        needs = {
            "value_up": ("new_value_pence", self.new_value_pence),
            "value_down": ("new_value_pence", self.new_value_pence),
            "extension": ("new_end_date", self.new_end_date),
            "purpose": ("new_purpose", self.new_purpose),
        }
        name, value = needs[self.change]
        if value is None:
            raise ValueError(f"a {self.change} variation needs {name}")
        return self


class ProposeVariation(_VariationProposal):
    """Propose varying an allocation; it goes through the same rules as the allocation did."""

    topic = ALLOCATIONS_COMMANDS


class CancelAllocation(Event):
    """Cancel an allocation; its unspent reservation is released to the pot."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    cancelled_by: Identifier
    reason: Text


class _ClaimLodging(Event, abstract=True):
    claim_id: Identifier
    claim_kind: ClaimKind
    claimant_id: Identifier
    claimant_kind: ClaimantKind
    service_description: Text
    lodged_on: date


class LodgeClaim(_ClaimLodging):
    """A community group or council claims the Right to Serve or the Right to Request."""

    topic = ALLOCATIONS_COMMANDS


class _ClaimResponse(Event, abstract=True):
    claim_id: Identifier
    outcome: ClaimOutcome
    reasons: Text
    responded_by: Identifier
    responded_on: date


class RespondToClaim(_ClaimResponse):
    """The board publishes its reasoned response to a claim."""

    topic = ALLOCATIONS_COMMANDS


class ProcessDueWork(Event):
    """Do what falls due by a date: grant instalments, expiries, overdue claims. Sent daily per
    place; processing the same date again changes nothing more."""

    topic = ALLOCATIONS_COMMANDS

    as_of: date


# --- Lifecycle (ALLOCATIONS_LIFECYCLE) --------------------------------------------------------


class AllocationProposed(_AllocationProposal):
    """An allocation was proposed to the board."""

    topic = ALLOCATIONS_LIFECYCLE


class AllocationApproved(Event):
    """The board approved an allocation; it is funded only once the ledger reserves it."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    allocation_type: AllocationType
    recipient_id: Identifier
    value_pence: Pence
    financial_year: FinancialYear
    decided_by: Identifier
    rules_version: int | None = None
    sign_off_required: bool | None = None


class AllocationRejected(Event):
    """The board rejected a proposed allocation."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    reason: Text
    rule: Identifier | None = None


class AllocationVaried(Event):
    """An allocation was changed; every variation is recorded with its reason."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    change: VariationKind
    reason: Text
    previous_value_pence: Pence
    new_value_pence: Pence
    new_end_date: date | None
    new_purpose: Text | None
    variation_id: Identifier | None = None

    @model_validator(mode="after")
    def _change_matches_the_figures(self) -> "AllocationVaried":
        problem = _variation_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def _variation_problem(varied: AllocationVaried) -> str | None:
    previous, new = varied.previous_value_pence, varied.new_value_pence
    if varied.change == "value_up" and new <= previous:
        return f"value_up needs new_value_pence ({new}) above previous_value_pence ({previous})"
    if varied.change == "value_down" and new >= previous:
        return f"value_down needs new_value_pence ({new}) below previous_value_pence ({previous})"
    if varied.change == "extension" and varied.new_end_date is None:
        return "an extension needs new_end_date"
    if varied.change == "purpose" and varied.new_purpose is None:
        return "a purpose change needs new_purpose"
    return None


class AllocationCancelled(Event):
    """An allocation was cancelled; the ledger releases what is unspent."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    reason: Text
    released_pence: Pence | None = None


class AllocationExpired(Event):
    """An allocation reached its end date; the ledger releases what is unspent."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    end_date: date
    released_pence: Pence | None = None


class AllocationFunded(Event):
    """The ledger reserved the money for an approved allocation."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    amount_pence: Pence


class AllocationUnfunded(Event):
    """The ledger could not reserve the money for an approved allocation."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    reason: Text


class BoardConfigured(_BoardConfiguration):
    """A place's board was set (a new version of its composition)."""

    topic = ALLOCATIONS_LIFECYCLE


class DecisionRulesSet(_DecisionRules):
    """A place's decision rules were set as a new version."""

    topic = ALLOCATIONS_LIFECYCLE


class InterestDeclared(_InterestDeclaration):
    """A member declared an interest; they are recused from what it concerns."""

    topic = ALLOCATIONS_LIFECYCLE


class LocalReformPlanAdopted(_PlanAdoption):
    """A place adopted a Local Reform Plan with its missions."""

    topic = ALLOCATIONS_LIFECYCLE


class EarmarkSet(_EarmarkDefinition):
    """An earmark of a place's settlement was set."""

    topic = ALLOCATIONS_LIFECYCLE


class VoteRecorded(Event):
    """A member's vote, recorded with the version of the rules in force."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    variation_id: Identifier | None = None
    member_id: Identifier
    vote: VoteChoice
    rules_version: int = Field(ge=0, strict=True)
    reason: Text | None = None


class BoardDecisionRecorded(Event):
    """The board decided: who voted how, who was recused, and the rule version applied."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    variation_id: Identifier | None = None
    outcome: Literal["approved", "rejected"]
    rules_version: int = Field(ge=0, strict=True)
    votes_for: tuple[Identifier, ...]
    votes_against: tuple[Identifier, ...]
    abstentions: tuple[Identifier, ...]
    recused: tuple[Identifier, ...]
    reason: Text


class AllocationSignedOff(Event):
    """The accounting officer signed off an approval over the threshold."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    variation_id: Identifier | None = None
    accounting_officer_id: Identifier
    value_pence: Pence


class AllocationSignOffRefused(Event):
    """The accounting officer refused to sign off, with reasons; nothing reaches the ledger."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    variation_id: Identifier | None = None
    accounting_officer_id: Identifier
    reasons: Text


class VariationProposed(_VariationProposal):
    """A variation of an allocation was proposed."""

    topic = ALLOCATIONS_LIFECYCLE


class VariationRejected(Event):
    """A proposed variation was rejected, refused sign-off, or left unfunded by the ledger."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    variation_id: Identifier
    reason: Text


class InstalmentFellDue(Event):
    """A grant instalment fell due and its payment was requested from the ledger."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    due_date: date
    amount_pence: PositivePence
    payment_id: Identifier


class InstalmentPaid(Event):
    """The ledger paid a grant instalment."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    payment_id: Identifier
    amount_pence: Pence


class InstalmentUnpaid(Event):
    """The ledger refused a grant instalment, with its reason."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    payment_id: Identifier
    reason: Text
    # The ledger's rule, and whether a due-work run retries the instalment once money has come
    # into the reservation (absent in events written before they were added).
    rule: Identifier | None = None
    will_retry: bool = False


class InstalmentRetried(Event):
    """A refused grant instalment was asked for again, under a new payment id, because money
    came into its reservation (a rise) since the ledger refused it."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    payment_id: Identifier
    refused_payment_id: Identifier
    amount_pence: PositivePence
    # What the reservation held for payments when it was refused, and when retried.
    available_at_refusal_pence: Pence
    available_pence: Pence
    as_of: date


class InstalmentUnpayable(Event):
    """A refused grant instalment cannot be paid by retrying (the ledger's rule cannot pass
    with more money, e.g. its year is closed): finance staff must act."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    payment_id: Identifier
    amount_pence: PositivePence
    rule: Identifier
    reason: Text


class ClaimLodged(_ClaimLodging):
    """A Right to Serve or Right to Request claim was lodged; the board must answer by a date."""

    topic = ALLOCATIONS_LIFECYCLE

    response_due_on: date


class ClaimResponded(_ClaimResponse):
    """The board published its reasoned response to a claim."""

    topic = ALLOCATIONS_LIFECYCLE

    response_due_on: date
    late: bool


class ClaimOverdue(Event):
    """A claim passed its response deadline without a response: flagged publicly."""

    topic = ALLOCATIONS_LIFECYCLE

    claim_id: Identifier
    claimant_id: Identifier
    response_due_on: date
    as_of: date


class ReleaseRefused(Event):
    """The ledger refused to release part of an allocation's reservation; the money stays
    reserved until someone acts (or a smaller release, once what changed is known, succeeds)."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    amount_pence: Pence
    reason: Text


# --- Grant monitoring (issue 21) ---------------------------------------------------------------
# The gateway's monitoring room keeps each grant's reports (figures, narrative, attachments) and
# tells the allocations service only what its payment rule needs: each report's due date and
# where it stands. The allocations service holds an instalment while a report due before it is
# overdue or returned for changes, and pays it once the report is accepted.

GRANT_REPORTS_MAX = 240
GrantReportStatus = Literal["due", "received", "accepted", "changes_requested"]
"""due: not yet received; received: waiting for review; accepted; changes_requested: returned."""


class GrantReportState(ValueObject):
    """One report of a grant's reporting schedule, as the monitoring room last recorded it."""

    report_number: int = Field(ge=1, strict=True)
    due_date: date
    status: GrantReportStatus


class RecordGrantReporting(Event):
    """The state of a grant's reports (the whole schedule, each time anything in it changes),
    sent by the gateway's monitoring room. `as_of` is the day it was recorded: an instalment
    held by a report is released when the reports no longer hold it on that day."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    reports: tuple[GrantReportState, ...] = Field(max_length=GRANT_REPORTS_MAX)
    paid_in_arrears: bool = False
    as_of: date
    # Set while the recipient's due diligence is rated red and no accounting officer has
    # overridden it: every instalment and claim of the grant waits, for this reason.
    payments_blocked: Text | None = None


class PayGrantClaim(Event):
    """Pay a recipient's claim on a grant paid in arrears, approved by programme and finance
    staff in the gateway's monitoring room; refused beyond the allocation's remaining money."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    claim_id: Identifier
    amount_pence: PositivePence
    approved_by: Identifier


class InstalmentHeld(Event):
    """A grant instalment fell due but was not requested from the ledger: a report due before
    it is overdue or was returned for changes. It is paid once the report is accepted."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    # The report that holds it; None when the recipient's due diligence holds it.
    report_number: int | None = Field(default=None, ge=1, strict=True)
    amount_pence: PositivePence
    reason: Text


class InstalmentHoldReleased(Event):
    """The report that held an instalment no longer holds it; its payment was requested."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    instalment_number: int = Field(ge=1, strict=True)
    report_number: int | None = Field(default=None, ge=1, strict=True)
    payment_id: Identifier


class GrantClaimPaymentRequested(Event):
    """An approved claim on a grant paid in arrears was sent to the ledger for payment."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    claim_id: Identifier
    payment_id: Identifier
    amount_pence: PositivePence


# --- Participatory budgeting rounds (issue 18) -------------------------------------------------

ROUND_WINNERS_MAX = 500
"""The most winners one participatory budgeting round may fund (rounds fund tens)."""

PARTICIPATORY_BUDGETING_TAG = "participatory-budgeting"
"""The purpose tag that marks an allocation as a participatory budgeting round's budget."""


class RoundWinner(ValueObject):
    """A project residents voted for, to become an allocation funded from the round."""

    allocation_id: Identifier
    recipient_id: Identifier
    purpose: Text
    amount_pence: PositivePence


class SettleParticipatoryRound(Event):
    """Fund a counted round's winners from the round's reservation and release the rest to
    the pot, in one decision. Sent by the gateway's citizens room when the count closes; never
    posted by a person. `allocation_id` is the round's budget: a funded partnership agreement
    tagged `participatory-budgeting`."""

    topic = ALLOCATIONS_COMMANDS

    allocation_id: Identifier
    round_id: Identifier
    winners: tuple[RoundWinner, ...] = Field(max_length=ROUND_WINNERS_MAX)
    start_date: date
    end_date: date
    settled_by: Identifier

    @model_validator(mode="after")
    def _winners_once_and_dated(self) -> "SettleParticipatoryRound":
        _each_once([winner.allocation_id for winner in self.winners], "winners")
        if self.end_date <= self.start_date:
            raise ValueError(
                f"end_date ({self.end_date}) must be after start_date ({self.start_date})"
            )
        return self


class ParticipatoryRoundSettled(Event):
    """A round's winners became allocations whose reservations are moved from the round's,
    and the rest of the round's budget was sent back to the pot (`released_pence`)."""

    topic = ALLOCATIONS_LIFECYCLE

    allocation_id: Identifier
    round_id: Identifier
    winners: tuple[RoundWinner, ...] = Field(max_length=ROUND_WINNERS_MAX)
    funded_pence: Pence
    released_pence: Pence
