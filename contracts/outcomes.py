"""Events on the outcomes topics, keyed by contract: INDIGO-shaped contracts, evidence,
verification, payment advice, clawback, gaming monitors, open book and investor flows."""

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from contracts.base import Event
from contracts.ledger import PayerShares, check_payer_shares
from contracts.money import Pence, PositivePence, SignedPence
from contracts.topics import OUTCOMES_COMMANDS, OUTCOMES_LIFECYCLE
from contracts.values import Figures, Identifier, Text, ValueObject, repeated_values

# A Kafka message has a size limit (1 MB by default); about 150 bytes a claim keeps a full
# batch well inside it. Month-end uploads larger than this are split into several batches.
EVIDENCE_CLAIMS_PER_BATCH_MAX = 5000
# Lists carried inside lifecycle events for people to read (rejections, sampled claims) are
# bounded too: the full lists stay in the outcomes service's tables.
EVENT_LIST_LENGTH_MAX = 2000

ParticipantHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A keyed SHA-256 of a participant, as 64 lowercase hex characters; never a name."""

RowNumber = Annotated[int, Field(ge=1, strict=True)]
"""The 1-based number of a record in an evidence file (the header is not counted)."""

Count = Annotated[int, Field(ge=0, strict=True)]


VerificationRule = Literal[
    "hold", "pay_remainder", "extrapolate_error_rate", "reject_above_threshold"
]
"""What a contract does with a batch whose verification sample has failed claims: hold it
for a person (the default, and the rule before contracts stated one), pay the rest without the
failed claims, reduce the unsampled claims' payment by the sample's error rate, or reject the
batch when the error rate is above the contract's threshold (paying the rest below it)."""

BASIS_POINTS_WHOLE = 10_000


class ContractEvent(Event, abstract=True):
    """An event about one outcomes contract, keyed by contract so its evidence stays in order."""

    contract_id: Identifier

    def partition_key(self) -> str:
        return self.contract_id


class MetricPrice(ValueObject):
    """The price paid per verified outcome of one metric, its cap and who pays for it."""

    metric_id: Identifier
    price_pence: PositivePence
    # The most that outcomes of this metric may earn over the contract (None: no metric cap).
    cap_pence: Pence | None = None
    # The outcome payer that funds this metric; its own cap applies (None: no payer named).
    payer_id: Identifier | None = None


def _check_metrics_unique(prices: tuple[MetricPrice, ...]) -> tuple[MetricPrice, ...]:
    repeated = repeated_values([price.metric_id for price in prices])
    if repeated:
        raise ValueError(f"prices list a metric more than once: {', '.join(repeated)}")
    return prices


Prices = Annotated[
    tuple[MetricPrice, ...], Field(min_length=1), AfterValidator(_check_metrics_unique)
]


class MetricDefinition(ValueObject):
    """An outcome metric's definition as the INDIGO data standard describes it."""

    metric_id: Identifier
    definition: Text
    target_population: Text | None = None
    target_count: Count | None = None
    validation_method: Text | None = None
    evidence_required: Text | None = None


class Payer(ValueObject):
    """An outcome payer and its maximum potential outcome payment under the contract."""

    payer_id: Identifier
    cap_pence: Pence | None = None


class ClaimPeriod(ValueObject):
    """A period in which outcomes are achieved and claimed, and what is planned to be paid."""

    claim_period_id: Identifier
    starts_on: date
    ends_on: date
    claim_deadline: date | None = None
    planned_payment_pence: Pence = 0

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "ClaimPeriod":
        if self.ends_on < self.starts_on:
            raise ValueError(
                f"claim period {self.claim_period_id}: ends_on ({self.ends_on}) must not be "
                f"before starts_on ({self.starts_on})"
            )
        return self


class SocialValueKpi(ValueObject):
    """A social-value commitment a contract over the threshold publishes, with its target."""

    kpi_id: Identifier
    description: Text
    target: Text


class KpiResult(ValueObject):
    """What a provider reports against one social-value KPI for a period."""

    kpi_id: Identifier
    result: Text


class EvidenceClaim(ValueObject):
    """One participant's achievement of one metric, with where the evidence is kept."""

    participant_hash: ParticipantHash
    metric_id: Identifier
    achieved_on: date
    evidence_reference: Text
    referral_date: date | None = None
    difficulty_segment: Identifier | None = None
    # Where the claim came from in an uploaded file, so a rejection can name the row.
    row_number: RowNumber | None = None


class ClaimRejection(ValueObject):
    """A claim that will not be paid and why, naming its row when it came from a file."""

    row_number: RowNumber | None
    participant_hash: ParticipantHash
    metric_id: Identifier
    reason: Text


class SampledClaim(ValueObject):
    """A claim chosen for independent verification."""

    participant_hash: ParticipantHash
    metric_id: Identifier
    evidence_reference: Text
    row_number: RowNumber | None = None


class VerificationDecision(ValueObject):
    """A verifier's finding on one sampled claim; a failure must say why."""

    # The rule below in the schema's own words, so a schema-valid decision is accepted.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "if": {"properties": {"passed": {"const": False}}, "required": ["passed"]},
            "then": {"required": ["reason"], "properties": {"reason": {"type": "string"}}},
        },
    )

    participant_hash: ParticipantHash
    metric_id: Identifier
    passed: bool
    reason: Text | None = None

    @model_validator(mode="after")
    def _failure_has_a_reason(self) -> "VerificationDecision":
        if not self.passed and self.reason is None:
            raise ValueError("a failed verification decision needs a reason")
        return self


class Referral(ValueObject):
    """A participant referred to the contract's service, in a difficulty segment."""

    participant_hash: ParticipantHash
    difficulty_segment: Identifier
    referred_on: date


class Engagement(ValueObject):
    """A referred participant who started engaging with the service."""

    participant_hash: ParticipantHash
    engaged_on: date


class RemittanceLine(ValueObject):
    """Part of a payment: the outcomes of one metric version in one claim period."""

    claim_period_id: Identifier | None
    metric_id: Identifier
    metric_version: int = Field(ge=1, strict=True)
    outcome_count: Count
    amount_pence: Pence


class _ContractTerms(ContractEvent, abstract=True):
    """The terms of an outcomes contract, shared by the command and the event recording it."""

    allocation_id: Identifier
    provider_id: Identifier
    prices: Prices
    cap_pence: Pence
    payers: tuple[Payer, ...] = ()
    metrics: tuple[MetricDefinition, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    claim_periods: tuple[ClaimPeriod, ...] = ()
    # Difficulty segments, easiest first: creaming and parking compare the ends of this list.
    difficulty_segments: tuple[Identifier, ...] = ()
    social_value_kpis: tuple[SocialValueKpi, ...] = ()
    social_impact_bond: bool = False
    # What a failed verification sample does to the batch (stated in the contract, published).
    verification_rule: VerificationRule = "hold"
    # reject_above_threshold only: the highest error rate (failed / sampled) still paid.
    error_rate_threshold_basis_points: int | None = Field(
        default=None, ge=0, le=BASIS_POINTS_WHOLE, strict=True
    )

    @model_validator(mode="after")
    def _terms_are_consistent(self) -> "_ContractTerms":
        problem = _terms_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def _terms_problem(terms: _ContractTerms) -> str | None:
    priced = {price.metric_id for price in terms.prices}
    payers = {payer.payer_id for payer in terms.payers}
    for field, values in (
        ("payers", [payer.payer_id for payer in terms.payers]),
        ("metrics", [metric.metric_id for metric in terms.metrics]),
        ("claim_periods", [period.claim_period_id for period in terms.claim_periods]),
        ("difficulty_segments", list(terms.difficulty_segments)),
        ("social_value_kpis", [kpi.kpi_id for kpi in terms.social_value_kpis]),
    ):
        repeated = repeated_values(values)
        if repeated:
            return f"{field} list a value more than once: {', '.join(repeated)}"
    unpriced = sorted({metric.metric_id for metric in terms.metrics} - priced)
    if unpriced:
        return f"metrics define {', '.join(unpriced)} but prices do not price them"
    unknown_payers = sorted({p.payer_id for p in terms.prices if p.payer_id} - payers)
    if unknown_payers:
        return f"prices name payers not listed in payers: {', '.join(unknown_payers)}"
    needs_threshold = terms.verification_rule == "reject_above_threshold"
    if needs_threshold != (terms.error_rate_threshold_basis_points is not None):
        return (
            "error_rate_threshold_basis_points is required with verification_rule "
            "reject_above_threshold, and only with it"
        )
    if terms.start_date and terms.end_date and terms.end_date <= terms.start_date:
        return f"end_date ({terms.end_date}) must be after start_date ({terms.start_date})"
    periods = sorted(terms.claim_periods, key=lambda period: period.starts_on)
    for earlier, later in zip(periods, periods[1:], strict=False):
        if later.starts_on <= earlier.ends_on:
            return f"claim periods {earlier.claim_period_id} and {later.claim_period_id} overlap"
    return None


# --- Commands (OUTCOMES_COMMANDS) -------------------------------------------------------------


class RegisterOutcomesContract(_ContractTerms):
    """Register an outcomes contract on a funded outcomes_contract allocation."""

    topic = OUTCOMES_COMMANDS


class AmendMetric(ContractEvent):
    """Amend a metric by agreement: a new version in force for outcomes from a date on."""

    topic = OUTCOMES_COMMANDS

    metric_id: Identifier
    version: int = Field(ge=2, strict=True)
    effective_from: date
    price_pence: PositivePence
    definition: MetricDefinition | None = None
    agreed_by: tuple[Identifier, ...] = Field(min_length=2)
    reason: Text


class SubmitEvidence(ContractEvent):
    """A provider submits claims for a contract: an API batch, or one chunk of a file.

    A file is streamed in chunks that share one batch_id; only the last chunk carries the
    chunk_count, as the total is known only when the file has been read to its end.
    """

    topic = OUTCOMES_COMMANDS

    batch_id: Identifier
    provider_id: Identifier
    claims: tuple[EvidenceClaim, ...] = Field(
        min_length=1, max_length=EVIDENCE_CLAIMS_PER_BATCH_MAX
    )
    chunk_index: Count = 0
    chunk_count: int | None = Field(default=1, ge=1, strict=True)

    @model_validator(mode="after")
    def _chunk_within_count(self) -> "SubmitEvidence":
        if self.chunk_count is not None and self.chunk_index >= self.chunk_count:
            raise ValueError(
                f"chunk_index ({self.chunk_index}) must be below chunk_count ({self.chunk_count})"
            )
        return self


class RecordVerificationDecision(ContractEvent):
    """A verifier's decisions on sampled claims of a batch."""

    topic = OUTCOMES_COMMANDS

    batch_id: Identifier
    verifier_id: Identifier
    decisions: tuple[VerificationDecision, ...] = Field(
        min_length=1, max_length=EVIDENCE_CLAIMS_PER_BATCH_MAX
    )


class ClawBackClaim(ContractEvent):
    """A paid claim was found invalid: recover its payment through the ledger."""

    topic = OUTCOMES_COMMANDS

    clawback_id: Identifier
    participant_hash: ParticipantHash
    metric_id: Identifier
    reason: Text
    raised_by: Identifier


class RecordReferrals(ContractEvent):
    """A provider records participants referred to the service."""

    topic = OUTCOMES_COMMANDS

    provider_id: Identifier
    referrals: tuple[Referral, ...] = Field(min_length=1, max_length=EVIDENCE_CLAIMS_PER_BATCH_MAX)


class RecordEngagements(ContractEvent):
    """A provider records referred participants who started engaging."""

    topic = OUTCOMES_COMMANDS

    provider_id: Identifier
    engagements: tuple[Engagement, ...] = Field(
        min_length=1, max_length=EVIDENCE_CLAIMS_PER_BATCH_MAX
    )


class SubmitOpenBook(ContractEvent):
    """A provider's open-book return for a period: true cost, surplus or loss, social value."""

    topic = OUTCOMES_COMMANDS

    provider_id: Identifier
    period_id: Identifier
    cost_pence: Pence
    surplus_or_loss_pence: SignedPence
    social_value_cost_pence: Pence
    kpi_results: tuple[KpiResult, ...] = ()


class RecordInvestorFlow(ContractEvent):
    """Money between a social impact bond's investor and the provider, never an outcome payment."""

    topic = OUTCOMES_COMMANDS

    flow_id: Identifier
    investor_id: Identifier
    flow_kind: Literal["investment", "repayment", "return"]
    amount_pence: PositivePence
    occurred_on: date


# --- Lifecycle (OUTCOMES_LIFECYCLE) -----------------------------------------------------------


class OutcomesContractRegistered(_ContractTerms):
    """An outcomes contract was registered."""

    topic = OUTCOMES_LIFECYCLE


class OutcomesContractRejected(ContractEvent):
    """A contract registration was refused, with every reason found.
    No longer published (see `contracts.decisions.CommandRefused`); kept readable."""

    topic = OUTCOMES_LIFECYCLE

    reasons: tuple[Text, ...] = Field(min_length=1)


class MetricAmended(ContractEvent):
    """A metric's new version was agreed; outcomes from effective_from on are priced by it."""

    topic = OUTCOMES_LIFECYCLE

    metric_id: Identifier
    version: int = Field(ge=2, strict=True)
    effective_from: date
    price_pence: PositivePence
    agreed_by: tuple[Identifier, ...]
    reason: Text


class EvidenceSubmitted(ContractEvent):
    """A batch of claims arrived; some were accepted for verification, some rejected at once."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    provider_id: Identifier
    claim_count: int = Field(ge=1, strict=True)
    accepted_count: int = Field(ge=0, strict=True)
    rejected_count: int = Field(ge=0, strict=True)
    chunk_index: Count = 0
    accepted_pence: Pence | None = None
    # The first rejections, each naming row and reason; all of them are kept by the service.
    rejections: tuple[ClaimRejection, ...] = Field(default=(), max_length=EVENT_LIST_LENGTH_MAX)

    @model_validator(mode="after")
    def _counts_add_up(self) -> "EvidenceSubmitted":
        if self.accepted_count + self.rejected_count != self.claim_count:
            raise ValueError(
                f"accepted_count ({self.accepted_count}) + rejected_count "
                f"({self.rejected_count}) must equal claim_count ({self.claim_count})"
            )
        return self


class EvidenceSampled(ContractEvent):
    """Claims of a complete batch were drawn for the verifier; the seed lets anyone redraw them.

    The draw orders the batch's accepted claims by md5(seed || ':' || participant_hash || ':' ||
    metric_id) and takes the first sample_size. Long samples come in several parts.
    """

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    sample_seed: Identifier
    sample_share: float = Field(ge=0, le=1)
    sample_size: Count
    accepted_count: Count
    part_index: Count = 0
    claims: tuple[SampledClaim, ...] = Field(default=(), max_length=EVENT_LIST_LENGTH_MAX)


class EvidenceVerified(ContractEvent):
    """A batch's claims were verified and priced; the amount is what will be paid."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    verified_count: int = Field(ge=0, strict=True)
    amount_pence: Pence


class EvidenceHeld(ContractEvent):
    """A batch's sample failed verification: the batch is held, with the verifier's reasons."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    verifier_id: Identifier
    failed_count: int = Field(ge=1, strict=True)
    reasons: tuple[Text, ...] = Field(min_length=1, max_length=EVENT_LIST_LENGTH_MAX)


class VerificationRuleApplied(ContractEvent):
    """A batch's whole sample was decided with failed claims, and the contract's verification
    rule decided the batch: `decision` is "paid" (`payable_pence` is requested from the ledger)
    or "rejected" (nothing is paid). `figures` carries every number the rule used, so the
    provider can check the arithmetic; the failed claims were refused with the verifier's
    reasons (ClaimResultsRecorded)."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    verification_rule: VerificationRule
    decision: Literal["paid", "rejected"]
    payable_pence: Pence
    reason: Text
    figures: Figures = Field(default_factory=dict)


class EvidenceRejected(ContractEvent):
    """A batch was rejected as a whole, with every reason found."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    reasons: tuple[Text, ...] = Field(min_length=1)


class RemittanceAdvised(ContractEvent):
    """Remittance advice to the provider: what a paid batch paid, line by line."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    payment_id: Identifier
    provider_id: Identifier
    amount_pence: Pence
    lines: tuple[RemittanceLine, ...]
    transfer_id: Identifier
    # What the contract's extrapolate_error_rate rule took off the lines (0 otherwise, and in
    # advice written before verification rules): the lines less this are what was paid.
    verification_reduction_pence: Pence = 0
    # The payment split by the contract's payers, as the ledger booked it (absent when the
    # contract names no payers, and in advice written before payers' shares).
    payer_shares: PayerShares = ()

    @model_validator(mode="after")
    def _payer_shares_add_up(self) -> "RemittanceAdvised":
        check_payer_shares(self.payer_shares, self.amount_pence)
        return self

    @model_validator(mode="after")
    def _lines_add_up(self) -> "RemittanceAdvised":
        lines_pence = sum(line.amount_pence for line in self.lines)
        if lines_pence - self.verification_reduction_pence != self.amount_pence:
            raise ValueError(
                f"remittance lines add up to {lines_pence} pence, less a verification "
                f"reduction of {self.verification_reduction_pence} pence, but amount_pence is "
                f"{self.amount_pence}"
            )
        return self


class OutcomePaymentRejected(ContractEvent):
    """The ledger refused to pay a verified batch; its claims no longer count against caps."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    payment_id: Identifier
    reason: Text


class ClawbackRaised(ContractEvent):
    """A paid claim was found invalid and its payment is being recovered through the ledger."""

    topic = OUTCOMES_LIFECYCLE

    clawback_id: Identifier
    recovery_id: Identifier
    payment_id: Identifier
    participant_hash: ParticipantHash
    metric_id: Identifier
    amount_pence: PositivePence
    reason: Text
    # The claim period the outcome was paid in, for planned-against-actual reports.
    claim_period_id: Identifier | None = None


ClaimStatus = Literal[
    "accepted", "rejected", "sampled", "verified", "failed_verification", "paid", "clawed_back"
]
"""Where one claim of a batch stands, from the provider's side."""


class ClaimResult(ValueObject):
    """One claim's result: where it stands and, when not paid, why (naming the earlier claim,
    the other contract, the cap and its figures, or the verifier's reason)."""

    participant_hash: ParticipantHash
    metric_id: Identifier
    status: ClaimStatus
    row_number: RowNumber | None = None
    achieved_on: date | None = None
    reason: Text | None = None
    # The rule a rejection broke ("participant_metric_paid_once", "within_cap", ...).
    rule: Identifier | None = None
    amount_pence: Pence | None = None


class ClaimResultsRecorded(ContractEvent):
    """Per-claim results of a batch, in parts of at most EVENT_LIST_LENGTH_MAX, so every claim
    of a batch of any size is told, not only the first rejections. A chunk's assessment gives
    each claim's position in the chunk (`first_position` onwards); a later change (sampled,
    verified, failed verification) names its claims by participant and metric alone."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    chunk_index: Count | None = None
    first_position: Count | None = None
    results: tuple[ClaimResult, ...] = Field(min_length=1, max_length=EVENT_LIST_LENGTH_MAX)


class ClawbackSettled(ContractEvent):
    """The ledger answered a clawback: recovered, or refused with its reason."""

    topic = OUTCOMES_LIFECYCLE

    clawback_id: Identifier
    recovery_id: Identifier
    recovered: bool
    amount_pence: Pence
    reason: Text | None = None


class ClawbackRefused(ContractEvent):
    """A clawback command could not be acted on (no such paid claim, already clawed back).
    No longer published (see `contracts.decisions.CommandRefused`); kept readable."""

    topic = OUTCOMES_LIFECYCLE

    clawback_id: Identifier
    reason: Text


class ReferralsRecorded(ContractEvent):
    """Referrals were recorded; repeats of a participant already referred are not counted."""

    topic = OUTCOMES_LIFECYCLE

    provider_id: Identifier
    recorded_count: Count
    repeated_count: Count


class EngagementsRecorded(ContractEvent):
    """Engagements were recorded; participants never referred are listed as not counted."""

    topic = OUTCOMES_LIFECYCLE

    provider_id: Identifier
    recorded_count: Count
    not_referred_count: Count


class SegmentFunnelCounts(ValueObject):
    """Participants of one difficulty segment at each step: referred → engaged → achieved →
    paid (counted once each, however many outcomes they achieved)."""

    segment: Identifier
    referred: Count
    engaged: Count
    achieved: Count
    paid: Count


class FunnelMeasured(ContractEvent):
    """The contract's funnel by segment, measured whole after referrals, engagements, a batch or
    a payment changed it; each replaces the one before."""

    topic = OUTCOMES_LIFECYCLE

    segments: tuple[SegmentFunnelCounts, ...]


class GamingFlagRaised(ContractEvent):
    """A monitor saw a pattern the papers warn about: creaming, parking, caps or deadlines."""

    topic = OUTCOMES_LIFECYCLE

    flag_kind: Literal["creaming", "parking", "near_cap", "over_cap", "deadline_clustering"]
    subject: Identifier
    detail: Text


class OpenBookSubmitted(ContractEvent):
    """A provider's open-book return was recorded (published as open data)."""

    topic = OUTCOMES_LIFECYCLE

    provider_id: Identifier
    period_id: Identifier
    cost_pence: Pence
    surplus_or_loss_pence: SignedPence
    social_value_cost_pence: Pence
    kpi_results: tuple[KpiResult, ...] = ()
    outcome_payments_pence: Pence


class OpenBookRejected(ContractEvent):
    """An open-book return was refused, with the reasons.
    No longer published (see `contracts.decisions.CommandRefused`); kept readable."""

    topic = OUTCOMES_LIFECYCLE

    period_id: Identifier
    reasons: tuple[Text, ...] = Field(min_length=1)


class InvestorFlowRecorded(ContractEvent):
    """A social impact bond's investor flow was recorded, apart from outcome payments."""

    topic = OUTCOMES_LIFECYCLE

    flow_id: Identifier
    investor_id: Identifier
    flow_kind: Literal["investment", "repayment", "return"]
    amount_pence: PositivePence
    occurred_on: date


class CommandRejected(ContractEvent):
    """An outcomes command was refused as a whole, naming it and every reason.

    Published before the one refusal shape; kept so that the events on the topic stay readable
    (`contracts.refusals` reads them). New refusals are `contracts.decisions.CommandRefused`."""

    topic = OUTCOMES_LIFECYCLE

    command_type: Identifier
    reasons: tuple[Text, ...] = Field(min_length=1)
    # The rule broken and its numbers, in the shape every service refuses with
    # (contracts.refusals); absent in events written before they were added.
    rule: Identifier | None = None
    figures: Figures = Field(default_factory=dict)
