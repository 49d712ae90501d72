"""The outcomes service's pure rules: which claims are payable, at which metric version's price,
within which caps; the verification sample; registration, amendment and open-book checks; and
the gaming monitors. No I/O here: functions take what the database holds and return decisions;
each command's `decide_*` (at the bottom) returns a `contracts.decisions.Decision`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Any, Final, Literal, NamedTuple, Protocol

from contracts.base import Event
from contracts.decisions import Decision
from contracts.ledger import PayerShare, PaymentRequested, RecoveryRaised
from contracts.money import format_pounds
from contracts.outcomes import (
    AmendMetric,
    ClawBackClaim,
    ClawbackRaised,
    ContractEvent,
    EvidenceVerified,
    InvestorFlowRecorded,
    MetricAmended,
    OpenBookSubmitted,
    OutcomesContractRegistered,
    RecordEngagements,
    RecordInvestorFlow,
    RecordReferrals,
    RecordVerificationDecision,
    RegisterOutcomesContract,
    SubmitEvidence,
    SubmitOpenBook,
    VerificationRule,
)

OUTCOME_PAYMENT: Final[Literal["outcome_payment"]] = "outcome_payment"
# Reasons listed in one refusal or summary; every one is kept in the service's tables.
REASONS_LISTED_MAX = 20

ParticipantMetric = tuple[str, str]
"""(participant_hash, metric_id): the outcome that is paid once per place."""


@dataclass(frozen=True)
class MetricVersion:
    """One agreed version of a metric: its price for outcomes achieved from effective_from on."""

    version: int
    effective_from: date | None  # None: from the contract's start
    price_pence: int


@dataclass(frozen=True)
class Metric:
    """A metric of a contract: its versions, its cap, its payer, and what it has committed."""

    metric_id: str
    versions: tuple[MetricVersion, ...]
    cap_pence: int | None = None
    payer_id: str | None = None
    committed_pence: int = 0

    def version_on(self, day: date) -> MetricVersion | None:
        """The version in force on a day: the latest that had taken effect by then."""
        if len(self.versions) == 1 and self.versions[0].effective_from is None:
            return self.versions[0]  # the usual case: never amended
        in_force = [v for v in self.versions if v.effective_from is None or v.effective_from <= day]
        return max(in_force, key=lambda v: v.version, default=None)

    @property
    def latest(self) -> MetricVersion:
        return max(self.versions, key=lambda v: v.version)


@dataclass(frozen=True)
class ClaimPeriod:
    """A period in which outcomes are achieved, its claim deadline and planned payment."""

    claim_period_id: str
    starts_on: date
    ends_on: date
    claim_deadline: date | None = None
    planned_payment_pence: int = 0

    def contains(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True)
class Contract:
    """An outcomes contract as pricing needs it: metrics, caps, periods and commitments."""

    contract_id: str
    place_id: str
    allocation_id: str
    provider_id: str
    cap_pence: int
    metrics: Mapping[str, Metric]
    payer_caps_pence: Mapping[str, int | None] = field(default_factory=dict)
    claim_periods: tuple[ClaimPeriod, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    difficulty_segments: tuple[str, ...] = ()
    social_value_kpi_ids: tuple[str, ...] = ()

    @property
    def committed_pence(self) -> int:
        """What accepted, paid and pending claims already take from the cap."""
        return sum(metric.committed_pence for metric in self.metrics.values())

    def payer_committed_pence(self, payer_id: str) -> int:
        return sum(m.committed_pence for m in self.metrics.values() if m.payer_id == payer_id)

    def claim_period_on(self, day: date) -> ClaimPeriod | None:
        if not self.claim_periods:
            return None  # most contracts: no generator to build, twice per claim of a file
        return next((period for period in self.claim_periods if period.contains(day)), None)


class ClaimLike(Protocol):
    """What the rules read of a claim: a `Claim`, or the contract's EvidenceClaim as it is (a
    million-row file is not copied into a second kind of object)."""

    @property
    def participant_hash(self) -> str: ...
    @property
    def metric_id(self) -> str: ...
    @property
    def achieved_on(self) -> date: ...
    @property
    def evidence_reference(self) -> str: ...
    @property
    def referral_date(self) -> date | None: ...
    @property
    def difficulty_segment(self) -> str | None: ...
    @property
    def row_number(self) -> int | None: ...


@dataclass(frozen=True)
class Claim:
    """One participant's achievement of one metric, as submitted."""

    participant_hash: str
    metric_id: str
    achieved_on: date
    evidence_reference: str
    referral_date: date | None = None
    difficulty_segment: str | None = None
    row_number: int | None = None

    @property
    def key(self) -> ParticipantMetric:
        return self.participant_hash, self.metric_id


@dataclass(frozen=True, slots=True)
class EarlierClaim:
    """Where a participant-metric outcome was claimed before, to name it in a rejection, with
    where that claim stands and its evidence (a claim that failed verification may come back)."""

    contract_id: str
    batch_id: str
    row_number: int | None
    status: str = "pending"
    evidence_reference: str | None = None

    def describe(self) -> str:
        row = f", row {self.row_number}" if self.row_number else ""
        return f"contract {self.contract_id}, batch {self.batch_id}{row}"

    @property
    def failed_verification(self) -> bool:
        """Refused by the verifier: the one kind of earlier claim that may be resubmitted."""
        return self.status == FAILED_VERIFICATION


# A chunk makes one of these two per claim: they are named tuples, immutable like a frozen
# dataclass but built in a third of the time (a frozen dataclass sets each field through
# object.__setattr__, which was a fifth of assessing a 2,000-claim chunk).


class PricedClaim(NamedTuple):
    """An accepted claim: its metric version, claim period and what it is paid."""

    claim: ClaimLike
    price_pence: int
    metric_version: int
    claim_period_id: str | None
    # The claim that failed verification which this one resubmits with new evidence.
    resubmits: EarlierClaim | None = None


class RejectedClaim(NamedTuple):
    """A claim that will not be paid, why, and the rule it broke (one of CLAIM_RULES)."""

    claim: ClaimLike
    reason: str
    rule: str = "claim_valid"


# The rules a claim is rejected under, so a provider can count rejections by kind.
CLAIM_VALID = "claim_valid"  # dates, periods, metric versions
METRIC_PRICED = "metric_priced"  # the contract prices no such metric
PAID_ONCE = "participant_metric_paid_once"  # a duplicate, in the batch or anywhere in the place
WITHIN_CAP = "within_cap"  # the contract's, the metric's or the payer's cap is reached
CLAIM_RULES = (CLAIM_VALID, METRIC_PRICED, PAID_ONCE, WITHIN_CAP)
# The rule an accepted claim names when it resubmits one that failed verification.
RESUBMITTED = "resubmitted_after_failed_verification"
FAILED_VERIFICATION = "failed_verification"


@dataclass(frozen=True)
class Assessment:
    """A chunk of claims sorted into accepted (priced) and rejected claims."""

    accepted: tuple[PricedClaim, ...]
    rejected: tuple[RejectedClaim, ...]

    @property
    def amount_pence(self) -> int:
        return sum(priced.price_pence for priced in self.accepted)

    def committed_by_metric(self) -> dict[str, int]:
        """What the accepted claims add to each metric's commitments."""
        return dict(self._committed_by_metric)

    @cached_property
    def _committed_by_metric(self) -> dict[str, int]:
        # Summed once per chunk of up to 2,000 claims: the store and the handler both ask.
        totals: dict[str, int] = {}
        for priced in self.accepted:
            metric_id = priced.claim.metric_id
            totals[metric_id] = totals.get(metric_id, 0) + priced.price_pence
        return totals


def batch_problems(
    contract: Contract | None, contract_id: str, place_id: str, provider_id: str
) -> tuple[str, ...]:
    """Why a whole batch cannot be considered, or () when it can."""
    if contract is None:
        return (f"contract {contract_id} is not registered",)
    problems = []
    if contract.place_id != place_id:
        problems.append(f"contract {contract_id} belongs to {contract.place_id}, not {place_id}")
    if contract.provider_id != provider_id:
        problems.append(
            f"contract {contract_id} is held by {contract.provider_id}, not {provider_id}"
        )
    return tuple(problems)


class _Headroom:
    """What each cap still allows while a chunk is priced claim by claim."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.contract_pence = max(contract.cap_pence - contract.committed_pence, 0)
        self.metric_pence = {
            m.metric_id: None if m.cap_pence is None else max(m.cap_pence - m.committed_pence, 0)
            for m in contract.metrics.values()
        }
        self.payer_pence = {
            payer_id: None
            if cap is None
            else max(cap - contract.payer_committed_pence(payer_id), 0)
            for payer_id, cap in contract.payer_caps_pence.items()
        }

    def allowed(self, metric: Metric, price_pence: int) -> tuple[int, str | None]:
        """What may be paid for one outcome, and the cap that stops it when that is nothing."""
        # Reasons are only formatted for a claim a cap stops: this runs once per claim.
        if self.contract_pence == 0:
            return 0, self._contract_cap()
        allowed_pence = min(price_pence, self.contract_pence)
        metric_left = self.metric_pence.get(metric.metric_id)
        if metric_left is not None:
            if metric_left == 0:
                return 0, self._metric_cap(metric)
            allowed_pence = min(allowed_pence, metric_left)
        payer_left = self.payer_pence.get(metric.payer_id) if metric.payer_id else None
        if payer_left is not None:
            if payer_left == 0:
                return 0, self._payer_cap(metric.payer_id or "")
            allowed_pence = min(allowed_pence, payer_left)
        return allowed_pence, None

    def exceeds(self, amount_pence: int) -> bool:
        """Whether every cap still allows more than `amount_pence`: then no claim of a chunk
        that can take at most that much is capped, or paid less than its price."""
        limits = [self.contract_pence, *self.metric_pence.values(), *self.payer_pence.values()]
        return all(limit is None or limit > amount_pence for limit in limits)

    def take(self, metric: Metric, amount_pence: int) -> None:
        self.contract_pence -= amount_pence
        if self.metric_pence.get(metric.metric_id) is not None:
            self.metric_pence[metric.metric_id] = (self.metric_pence[metric.metric_id] or 0) - (
                amount_pence
            )
        if metric.payer_id and self.payer_pence.get(metric.payer_id) is not None:
            self.payer_pence[metric.payer_id] = (self.payer_pence[metric.payer_id] or 0) - (
                amount_pence
            )

    def _contract_cap(self) -> str:
        contract = self.contract
        return (
            f"contract {contract.contract_id} has reached its cap of "
            f"{format_pounds(contract.cap_pence)}"
        )

    def _metric_cap(self, metric: Metric) -> str:
        return (
            f"metric {metric.metric_id} has reached its cap of "
            f"{format_pounds(metric.cap_pence or 0)} in contract {self.contract.contract_id}"
        )

    def _payer_cap(self, payer_id: str) -> str:
        cap = self.contract.payer_caps_pence.get(payer_id) or 0
        return (
            f"payer {payer_id} has reached its cap of {format_pounds(cap)} in contract "
            f"{self.contract.contract_id}"
        )


def assess(
    contract: Contract,
    claims: Sequence[ClaimLike],
    earlier: Mapping[ParticipantMetric, EarlierClaim],
    *,
    batch_id: str,
    received_on: date,
) -> Assessment:
    """Accept, price and cap claims one by one, in the order submitted.

    A claim is priced by its metric's version in force on the day it was achieved. Accepted
    claims are paid that price until a cap (of the contract, the metric or its payer) is
    reached: the claim that crosses it is paid only what is left (payment = price x outcomes,
    capped), and every later claim the cap stops is rejected naming the cap.

    A file's chunk is 2,000 claims, so the work per claim is kept small: a claim's checks and
    price depend only on its metric and dates, which few claims differ in, so they are worked
    out once per combination (`_ClaimTerms`); the caps are followed claim by claim only when
    the chunk could reach one; and a claim accepted earlier in the chunk is remembered by its
    row, named only if a later claim repeats it.
    """
    accepted: list[PricedClaim] = []
    rejected: list[RejectedClaim] = []
    accepted_rows: dict[ParticipantMetric, int | None] = {}
    terms_by_key: dict[tuple[str, date, date | None], _ClaimTerms] = {}
    headroom = _Headroom(contract)
    caps_may_bind = not headroom.exceeds(len(claims) * _price_max(contract))
    for claim in claims:
        terms_key = (claim.metric_id, claim.achieved_on, claim.referral_date)
        terms = terms_by_key.get(terms_key)
        if terms is None:
            terms = terms_by_key[terms_key] = _claim_terms(contract, claim, received_on)
        if terms.problem is not None:
            rejected.append(RejectedClaim(claim, terms.problem, terms.rule))
            continue
        key = (claim.participant_hash, claim.metric_id)
        if key in accepted_rows:
            before: EarlierClaim | None = EarlierClaim(
                contract.contract_id, batch_id, accepted_rows[key]
            )
        else:
            before = earlier.get(key)
        if before is not None:
            reason = _duplicate_problem(contract, claim, before)
            if reason is not None:
                rejected.append(RejectedClaim(claim, reason, PAID_ONCE))
                continue
        metric, version = terms.metric, terms.version
        assert metric is not None and version is not None, "a claim with no problem is priced"
        amount_pence = version.price_pence
        if caps_may_bind:
            amount_pence, cap_reason = headroom.allowed(metric, version.price_pence)
            if cap_reason is not None:
                rejected.append(RejectedClaim(claim, cap_reason, WITHIN_CAP))
                continue
            headroom.take(metric, amount_pence)
        accepted_rows[key] = claim.row_number
        accepted.append(
            PricedClaim(
                claim, amount_pence, version.version, terms.claim_period_id, resubmits=before
            )
        )
    return Assessment(tuple(accepted), tuple(rejected))


@dataclass(frozen=True, slots=True)
class _ClaimTerms:
    """What a claim's metric and dates decide, the same for every claim sharing them: the
    first automatic check it fails (with its rule), or the metric version and claim period
    it is priced by."""

    problem: str | None
    rule: str = CLAIM_VALID
    metric: Metric | None = None
    version: MetricVersion | None = None
    claim_period_id: str | None = None


def _claim_terms(contract: Contract, claim: ClaimLike, received_on: date) -> _ClaimTerms:
    problem = claim_problem(contract, claim, received_on)
    metric = contract.metrics.get(claim.metric_id)
    if problem is not None or metric is None:
        return _ClaimTerms(problem, CLAIM_VALID if metric is not None else METRIC_PRICED)
    period = contract.claim_period_on(claim.achieved_on)
    return _ClaimTerms(
        None,
        metric=metric,
        version=metric.version_on(claim.achieved_on),
        claim_period_id=period.claim_period_id if period else None,
    )


def _price_max(contract: Contract) -> int:
    """The most any one outcome of the contract is priced at, in any version."""
    return max(
        (version.price_pence for m in contract.metrics.values() for version in m.versions),
        default=0,
    )


def claim_problem(contract: Contract, claim: ClaimLike, received_on: date) -> str | None:
    """The first automatic check a claim fails, or None; duplicates and caps come after."""
    metric = contract.metrics.get(claim.metric_id)
    day = claim.achieved_on
    if metric is None:
        return f"metric {claim.metric_id} has no price in contract {contract.contract_id}"
    if metric.version_on(day) is None:
        return f"metric {claim.metric_id} has no version in force on {day}"
    if day > received_on:
        return f"achieved_on {day} is after the evidence was received ({received_on})"
    if claim.referral_date is not None and claim.referral_date > day:
        return f"referral_date {claim.referral_date} is after achieved_on {day}"
    if (contract.start_date and day < contract.start_date) or (
        contract.end_date and day > contract.end_date
    ):
        return (
            f"achieved_on {day} is outside the contract's period "
            f"{contract.start_date or '…'} to {contract.end_date or '…'}"
        )
    return _claim_period_problem(contract, day, received_on)


def _claim_period_problem(contract: Contract, day: date, received_on: date) -> str | None:
    if not contract.claim_periods:
        return None
    period = contract.claim_period_on(day)
    if period is None:
        return f"achieved_on {day} falls in no claim period of contract {contract.contract_id}"
    if period.claim_deadline is not None and received_on > period.claim_deadline:
        return f"claim period {period.claim_period_id} closed for claims on {period.claim_deadline}"
    return None


def _duplicate_problem(
    contract: Contract, claim: ClaimLike, earlier: EarlierClaim | None
) -> str | None:
    """Why a claim repeats an outcome claimed before, or None. A participant's outcome is paid
    once per place, so a paid or pending claim blocks any other; a claim the verifier refused
    (failed verification) may come back in a later batch, with new evidence only."""
    if earlier is None:
        return None
    if earlier.failed_verification:
        if claim.evidence_reference != earlier.evidence_reference:
            return None
        return (
            f"participant {claim.participant_hash}'s metric {claim.metric_id} failed "
            f"verification ({earlier.describe()}) with evidence {claim.evidence_reference}; a "
            "resubmission needs new evidence"
        )
    return (
        f"participant {claim.participant_hash} already has metric {claim.metric_id} claimed in "
        f"{contract.place_id} ({earlier.describe()})"
    )


def with_commitments(contract: Contract, committed_by_metric: Mapping[str, int]) -> Contract:
    """The contract once `committed_by_metric` is added to its metrics' commitments, as the
    database has it after storing an assessment (so it need not be read again)."""
    metrics = {
        metric_id: replace(
            metric, committed_pence=metric.committed_pence + committed_by_metric[metric_id]
        )
        if metric_id in committed_by_metric
        else metric
        for metric_id, metric in contract.metrics.items()
    }
    return replace(contract, metrics=metrics)


def resubmitted(assessment: Assessment) -> list[ParticipantMetric]:
    """The accepted claims that resubmit one which failed verification: the failed claim is
    archived so that the new one takes its place."""
    return [
        (priced.claim.participant_hash, priced.claim.metric_id)
        for priced in assessment.accepted
        if priced.resubmits is not None and priced.resubmits.failed_verification
    ]


def resubmission_note(priced: PricedClaim) -> str | None:
    """What a provider reads beside an accepted resubmission, or None for a first claim."""
    earlier = priced.resubmits
    if earlier is None or not earlier.failed_verification:
        return None
    return f"resubmitted with new evidence after failing verification ({earlier.describe()})"


def reasons_summary(rejected: Iterable[str]) -> str:
    """One line for a batch whose every claim was rejected."""
    reasons = sorted(set(rejected))
    return "no claim was accepted: " + "; ".join(reasons)


# --- Identifiers ------------------------------------------------------------------------------


def bounded_id(prefix: str, *parts: str) -> str:
    """A deterministic id of bounded length (well under the 128-character limit) for parts
    that may each be up to 128 characters long."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]
    return f"{prefix}-{digest}"


def payment_id_for(contract_id: str, batch_id: str) -> str:
    return bounded_id("OP", contract_id, batch_id)


def recovery_id_for(contract_id: str, clawback_id: str) -> str:
    return bounded_id("RC", contract_id, clawback_id)


# --- Verification -----------------------------------------------------------------------------


def sample_size(accepted_count: int, share: float, minimum: int) -> int:
    """How many claims of a batch go to the verifier: the share rounded up, at least minimum,
    never more than there are. A share of 0 switches sampling off."""
    if accepted_count == 0 or share <= 0:
        return 0
    return min(accepted_count, max(minimum, math.ceil(accepted_count * share)))


def chunk_is_new(batch_status: str | None, chunk_received: bool) -> bool:
    """Whether a chunk of evidence is taken: the first of a new batch, or one not yet received
    of a batch still receiving. A chunk received before, or one of a batch already complete,
    changes nothing, so a resubmitted file or API batch is harmless."""
    return batch_status is None or (batch_status == "receiving" and not chunk_received)


def claim_status_after_recovery(*, recovered: bool) -> str:
    """A clawed-back claim once the ledger answers: recovered, or (refused) paid again."""
    return "clawed_back" if recovered else CLAIM_PAID


CompletionStep = Literal["reject", "pay", "sample"]


def on_completion(accepted_count: int, share: float, minimum: int) -> tuple[CompletionStep, int]:
    """What a batch whose every chunk is in calls for, and its sample size: rejected when no
    claim was accepted, paid at once when sampling is off, else sampled for the verifier."""
    if accepted_count == 0:
        return "reject", 0
    size = sample_size(accepted_count, share, minimum)
    return ("pay", 0) if size == 0 else ("sample", size)


@dataclass(frozen=True)
class SampleState:
    """The latest decision on each sampled claim of a batch."""

    sample_size: int
    decided: int
    failures: tuple[str, ...]  # the verifier's reasons, one per failed claim

    @property
    def outcome(self) -> str:
        """ "undecided" until every sampled claim has a decision; then "failed" or "passed"."""
        if self.failures:
            return "failed"
        return "passed" if self.decided >= self.sample_size else "undecided"


BASIS_POINTS_WHOLE = 10_000


@dataclass(frozen=True)
class FailedSample:
    """A batch whose whole sample is decided, with failed claims: what a verification rule needs.
    `accepted_*` are the batch's claims waiting for payment, the sample's included."""

    accepted_count: int
    accepted_pence: int
    sample_size: int
    sample_pence: int
    failed_count: int
    failed_pence: int

    def figures(self) -> dict[str, int]:
        return {
            "accepted_count": self.accepted_count,
            "accepted_pence": self.accepted_pence,
            "sample_size": self.sample_size,
            "sample_pence": self.sample_pence,
            "failed_count": self.failed_count,
            "failed_pence": self.failed_pence,
            # Floored, for people; the threshold compares the exact fraction.
            "error_rate_basis_points": self.failed_count * BASIS_POINTS_WHOLE // self.sample_size,
        }


@dataclass(frozen=True)
class VerificationOutcome:
    """What a contract's verification rule decided for a batch with a failed sample."""

    rule: VerificationRule
    decision: Literal["paid", "rejected"]
    payable_pence: int
    reason: str
    figures: dict[str, int]


def apply_verification_rule(
    rule: VerificationRule, threshold_basis_points: int | None, sample: FailedSample
) -> VerificationOutcome | None:
    """The batch's payment under the contract's rule, or None when the rule is to hold it.

    The failed claims are never paid. `pay_remainder` pays every other claim. `extrapolate_
    error_rate` pays the sample's passed claims and reduces the unsampled claims' amount by the
    sample's error rate (failed / sampled), the reduction rounded up to the penny.
    `reject_above_threshold` rejects the whole batch when the error rate is above the threshold
    and pays the remainder otherwise.
    """
    assert sample.failed_count > 0 and sample.sample_size >= sample.failed_count
    figures = sample.figures()
    remainder_pence = sample.accepted_pence - sample.failed_pence
    if rule == "pay_remainder":
        return _paid(rule, remainder_pence, figures, "the failed claims are left out")
    if rule == "extrapolate_error_rate":
        return _extrapolated(sample, figures)
    if rule == "reject_above_threshold":
        assert threshold_basis_points is not None, "the contract's terms require a threshold"
        figures["threshold_basis_points"] = threshold_basis_points
        above = (
            sample.failed_count * BASIS_POINTS_WHOLE > threshold_basis_points * sample.sample_size
        )
        rate = f"{sample.failed_count} of {sample.sample_size} sampled claims failed"
        limit = f"the contract's threshold of {_percent(threshold_basis_points)}"
        if above:
            figures["payable_pence"] = 0
            reason = f"{rate}, above {limit}: the batch is rejected and nothing is paid"
            return VerificationOutcome(rule, "rejected", 0, reason, figures)
        return _paid(rule, remainder_pence, figures, f"{rate}, within {limit}")
    return None


def _extrapolated(sample: FailedSample, figures: dict[str, int]) -> VerificationOutcome:
    unsampled_pence = sample.accepted_pence - sample.sample_pence
    # Rounded up: an uncertain penny stays with the payer, as the error rate is an estimate.
    reduction_pence = -(-unsampled_pence * sample.failed_count // sample.sample_size)
    payable_pence = sample.sample_pence - sample.failed_pence + unsampled_pence - reduction_pence
    figures |= {"unsampled_pence": unsampled_pence, "extrapolated_reduction_pence": reduction_pence}
    reason = (
        f"{sample.failed_count} of {sample.sample_size} sampled claims failed: the failed claims "
        f"are left out and the {format_pounds(unsampled_pence)} of unsampled claims is reduced "
        f"by {format_pounds(reduction_pence)} at that error rate"
    )
    return _paid("extrapolate_error_rate", payable_pence, figures, reason)


def _paid(
    rule: VerificationRule, payable_pence: int, figures: dict[str, int], why: str
) -> VerificationOutcome:
    figures["payable_pence"] = payable_pence
    reason = (
        f"{figures['failed_count']} failed claim(s) worth {format_pounds(figures['failed_pence'])} "
        f"refused; {why}; {format_pounds(payable_pence)} is paid"
    )
    return VerificationOutcome(rule, "paid", payable_pence, reason, figures)


def _percent(basis_points: int) -> str:
    whole, part = divmod(basis_points, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"


# --- Payers' shares ---------------------------------------------------------------------------


def recovery_payer_shares(
    contract: Contract, metric_id: str, amount_pence: int
) -> tuple[PayerShare, ...]:
    """A clawback's split by payer: all of it the clawed-back claim's metric's payer's, when
    every metric of the contract names a payer (then every payment of it was split by payer,
    `split_by_payer`); () otherwise, as its payments were not split either."""
    metric = contract.metrics.get(metric_id)
    every_metric_paid_by_someone = all(m.payer_id for m in contract.metrics.values())
    if metric is None or metric.payer_id is None or not every_metric_paid_by_someone:
        return ()
    return (PayerShare(payer_id=metric.payer_id, amount_pence=amount_pence),)


def split_by_payer(
    claimed_by_payer: Mapping[str | None, int], payable_pence: int
) -> tuple[tuple[str, int], ...]:
    """A batch's payment split between the contract's payers: each payer funds the claims of
    the metrics it pays for (each payer's cap was applied claim by claim when they were priced).
    A payment less than the claims (an extrapolated reduction) is split pro rata, by largest
    remainder with ties to the lower payer id, so the shares add up to it exactly. () when the
    contract names no payers or some claims' metric names none: the payment is not split."""
    if not claimed_by_payer or None in claimed_by_payer:
        return ()
    payers = sorted(payer for payer in claimed_by_payer if payer is not None)
    claimed = [claimed_by_payer[payer] for payer in payers]
    basis = sum(claimed)
    if basis == 0 or payable_pence == 0:
        return ()
    assert payable_pence <= basis, "a payment never exceeds the claims it pays"
    floors = [payable_pence * amount // basis for amount in claimed]
    remainders = [payable_pence * amount % basis for amount in claimed]
    order = sorted(range(len(payers)), key=lambda i: (-remainders[i], payers[i]))
    for index in order[: payable_pence - sum(floors)]:
        floors[index] += 1
    return tuple((payer, amount) for payer, amount in zip(payers, floors, strict=True) if amount)


# --- Registration, amendment, open book -------------------------------------------------------


@dataclass(frozen=True)
class AllocationView:
    """What the outcomes service knows of an allocation from the allocations lifecycle."""

    allocation_id: str
    allocation_type: str | None
    recipient_id: str | None
    value_pence: int | None
    funded: bool


@dataclass(frozen=True)
class RegistrationTerms:
    """The parts of a registration the rules look at."""

    contract_id: str
    provider_id: str
    cap_pence: int
    social_value_kpi_count: int
    social_impact_bond: bool = False


def registration_problems(
    terms: RegistrationTerms,
    allocation: AllocationView | None,
    *,
    kpi_threshold_pence: int,
    kpi_count_required: int,
) -> tuple[str, ...]:
    """Why a contract cannot be registered on its allocation, or ()."""
    problems = []
    if allocation is not None and allocation.allocation_type not in (None, "outcomes_contract"):
        problems.append(
            f"allocation {allocation.allocation_id} is a {allocation.allocation_type}, "
            "not an outcomes_contract"
        )
    if allocation is not None and allocation.recipient_id not in (None, terms.provider_id):
        problems.append(
            f"allocation {allocation.allocation_id} is for {allocation.recipient_id}, "
            f"not {terms.provider_id}"
        )
    if (
        allocation
        and allocation.value_pence is not None
        and terms.cap_pence > allocation.value_pence
    ):
        problems.append(
            f"cap_pence {format_pounds(terms.cap_pence)} exceeds allocation "
            f"{allocation.allocation_id}'s value of {format_pounds(allocation.value_pence)}"
        )
    if terms.cap_pence > kpi_threshold_pence and terms.social_value_kpi_count != kpi_count_required:
        problems.append(
            f"a contract over {format_pounds(kpi_threshold_pence)} must carry "
            f"{kpi_count_required} social-value KPIs; it has {terms.social_value_kpi_count}"
        )
    return tuple(problems)


def allocation_place_problems(
    place_id: str, allocation_id: str, places_holding: tuple[str, ...]
) -> tuple[str, ...]:
    """Why a contract of `place_id` cannot draw on `allocation_id`, known in `places_holding`:
    an allocation known only in other places is theirs, and a contract on it could have its
    evidence verified but never be paid (payments come from the contract's own place's pot).
    An allocation not known anywhere yet is allowed: its approval may still be on its way,
    and the type, recipient and value checks apply once it is known."""
    if not places_holding or place_id in places_holding:
        return ()
    return (
        f"allocation {allocation_id} belongs to {', '.join(places_holding)}, not {place_id}: "
        "a contract draws on an allocation of its own place",
    )


def amendment_problems(
    contract: Contract, metric_id: str, version: int, effective_from: date
) -> tuple[str, ...]:
    """Why a metric amendment cannot be agreed, or (). Versions only ever follow each other."""
    metric = contract.metrics.get(metric_id)
    if metric is None:
        return (f"metric {metric_id} is not part of contract {contract.contract_id}",)
    latest = metric.latest
    problems = []
    if version != latest.version + 1:
        problems.append(
            f"metric {metric_id} is at version {latest.version}; the next is "
            f"{latest.version + 1}, not {version}"
        )
    if latest.effective_from is not None and effective_from <= latest.effective_from:
        problems.append(
            f"effective_from {effective_from} must be after version {latest.version}'s "
            f"{latest.effective_from}"
        )
    return tuple(problems)


def open_book_problems(
    contract: Contract, provider_id: str, period_id: str, reported_kpi_ids: Sequence[str]
) -> tuple[str, ...]:
    """Why an open-book return cannot be accepted, or ()."""
    problems = []
    if provider_id != contract.provider_id:
        problems.append(
            f"contract {contract.contract_id} is held by {contract.provider_id}, not {provider_id}"
        )
    periods = {period.claim_period_id for period in contract.claim_periods}
    if periods and period_id not in periods:
        problems.append(f"period_id {period_id} is not a claim period of the contract")
    missing = [kpi for kpi in contract.social_value_kpi_ids if kpi not in reported_kpi_ids]
    if missing:
        problems.append(f"kpi_results must report the social-value KPI(s) {', '.join(missing)}")
    unknown = sorted(set(reported_kpi_ids) - set(contract.social_value_kpi_ids))
    if unknown:
        problems.append(
            f"kpi_results name KPI(s) the contract does not carry: {', '.join(unknown)}"
        )
    return tuple(problems)


# --- Gaming monitors --------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentFunnel:
    """Participants of one difficulty segment at each step: referred → engaged → achieved → paid."""

    segment: str
    referred: int
    engaged: int
    achieved: int
    paid: int

    @property
    def outcome_rate(self) -> float:
        return self.achieved / self.referred if self.referred else 0.0

    @property
    def unengaged_share(self) -> float:
        return (self.referred - self.engaged) / self.referred if self.referred else 0.0


@dataclass(frozen=True)
class GamingThresholds:
    """When the monitors raise a flag; every number is a setting."""

    creaming_rate_ratio_min: float = 0.5
    parking_unengaged_share_max: float = 0.5
    segment_referrals_min: int = 10
    near_cap_share: float = 0.9
    deadline_window_days: int = 14
    deadline_cluster_share_max: float = 0.5
    deadline_outcomes_min: int = 10


@dataclass(frozen=True)
class Flag:
    """A pattern worth a person's attention."""

    kind: str
    subject: str
    detail: str


def funnel_flags(
    funnels: Sequence[SegmentFunnel], segments: Sequence[str], thresholds: GamingThresholds
) -> list[Flag]:
    """Creaming (the hardest segment's outcome rate far below the easiest's) and parking (the
    hardest segment's referrals left unengaged), judged on the declared segment order."""
    by_segment = {funnel.segment: funnel for funnel in funnels}
    if len(segments) < 2 or segments[0] not in by_segment or segments[-1] not in by_segment:
        return []
    easiest, hardest = by_segment[segments[0]], by_segment[segments[-1]]
    enough = thresholds.segment_referrals_min
    flags = []
    if easiest.referred >= enough and hardest.referred >= enough and easiest.outcome_rate > 0:
        ratio = hardest.outcome_rate / easiest.outcome_rate
        if ratio < thresholds.creaming_rate_ratio_min:
            flags.append(
                Flag(
                    "creaming",
                    hardest.segment,
                    (
                        f"segment {hardest.segment} has an outcome rate of "
                        f"{hardest.outcome_rate:.0%} against {easiest.outcome_rate:.0%} for "
                        f"{easiest.segment} (ratio {ratio:.2f}, minimum "
                        f"{thresholds.creaming_rate_ratio_min:.2f})"
                    ),
                )
            )
    if (
        hardest.referred >= enough
        and hardest.unengaged_share > thresholds.parking_unengaged_share_max
    ):
        flags.append(
            Flag(
                "parking",
                hardest.segment,
                (
                    f"{hardest.referred - hardest.engaged} of {hardest.referred} referrals in "
                    f"segment {hardest.segment} are not engaged ({hardest.unengaged_share:.0%}, "
                    f"maximum {thresholds.parking_unengaged_share_max:.0%})"
                ),
            )
        )
    return flags


def cap_flags(contract: Contract, thresholds: GamingThresholds) -> list[Flag]:
    """Caps of the contract, its metrics and payers that are near (by share) or reached."""
    caps: list[tuple[str, int | None, int]] = [
        (contract.contract_id, contract.cap_pence, contract.committed_pence)
    ]
    caps += [
        (f"metric {m.metric_id}", m.cap_pence, m.committed_pence) for m in contract.metrics.values()
    ]
    caps += [
        (f"payer {payer}", cap, contract.payer_committed_pence(payer))
        for payer, cap in contract.payer_caps_pence.items()
    ]
    flags = []
    for subject, cap_pence, committed_pence in caps:
        if not cap_pence:
            continue
        detail = (
            f"{subject}: {format_pounds(committed_pence)} of {format_pounds(cap_pence)} committed"
        )
        if committed_pence >= cap_pence:
            flags.append(Flag("over_cap", subject, detail))
        elif committed_pence >= cap_pence * thresholds.near_cap_share:
            flags.append(Flag("near_cap", subject, detail))
    return flags


def deadline_flags(
    contract: Contract, period_counts: Mapping[str, tuple[int, int]], thresholds: GamingThresholds
) -> list[Flag]:
    """Claim periods whose outcomes cluster in the last days before the period ends.

    period_counts maps a claim period to (outcomes achieved in it, of which in its last
    deadline_window_days days).
    """
    flags = []
    for period in contract.claim_periods:
        total, late = period_counts.get(period.claim_period_id, (0, 0))
        if total < thresholds.deadline_outcomes_min:
            continue
        share = late / total
        if share > thresholds.deadline_cluster_share_max:
            detail = (
                f"{late} of {total} outcomes in claim period {period.claim_period_id} were "
                f"achieved in its last {thresholds.deadline_window_days} days ({share:.0%}, "
                f"maximum {thresholds.deadline_cluster_share_max:.0%})"
            )
            flags.append(Flag("deadline_clustering", period.claim_period_id, detail))
    return flags


# --- Decisions: one per command ---------------------------------------------------------------
# Each takes what its handler loaded and the command, and returns a `Decision`: the state to
# save and the events to publish, or the rule broken with one sentence (several problems are
# joined into it) and the figures. Handlers publish a refusal as `CommandRefused`.

SUBJECT_FIELDS = ("clawback_id", "batch_id", "period_id", "flow_id", "metric_id", "contract_id")
"""The fields that name what an outcomes command is about, most specific first."""

CLAIM_PAID = "paid"


def subject_of(command: ContractEvent) -> str:
    """What a command is about, as its refusal names it."""
    for name in SUBJECT_FIELDS:
        value = getattr(command, name, None)
        if isinstance(value, str):
            return value
    return command.contract_id


def _refused(rule: str, problems: Sequence[str], figures: Mapping[str, int] | None = None) -> Any:
    return Decision.refuse(rule, "; ".join(problems), figures)


def _not_registered(contract_id: str) -> Decision[Any]:
    return Decision.refuse("contract_registered", f"contract {contract_id} is not registered")


def decide_registration(
    command: RegisterOutcomesContract,
    registered_before: bool,
    allocation: AllocationView | None,
    places_holding: tuple[str, ...],
    *,
    kpi_threshold_pence: int,
    kpi_count_required: int,
) -> Decision[RegisterOutcomesContract]:
    """A contract registered on its outcomes_contract allocation, or why not."""
    if registered_before:
        return Decision.refuse(
            "contract_id_unique", f"contract {command.contract_id} is already registered"
        )
    terms = RegistrationTerms(
        command.contract_id,
        command.provider_id,
        command.cap_pence,
        len(command.social_value_kpis),
        command.social_impact_bond,
    )
    problems = registration_problems(
        terms,
        allocation,
        kpi_threshold_pence=kpi_threshold_pence,
        kpi_count_required=kpi_count_required,
    )
    problems += allocation_place_problems(command.place_id, command.allocation_id, places_holding)
    if problems:
        figures = {"cap_pence": command.cap_pence}
        if allocation is not None and allocation.value_pence is not None:
            figures["allocation_value_pence"] = allocation.value_pence
        return _refused("contract_fits_allocation", problems, figures)
    return Decision(command, (OutcomesContractRegistered(**command.model_dump()),))


def decide_amendment(contract: Contract | None, command: AmendMetric) -> Decision[MetricVersion]:
    """A metric's next version, agreed by the parties; earlier versions stay as they were."""
    if contract is None:
        return _not_registered(command.contract_id)
    problems = amendment_problems(
        contract, command.metric_id, command.version, command.effective_from
    )
    if problems:
        return _refused("metric_version_follows", problems, {"version": command.version})
    version = MetricVersion(command.version, command.effective_from, command.price_pence)
    return Decision(version, (MetricAmended(**command.model_dump(exclude={"definition"})),))


def decide_provider_holds(
    contract: Contract | None, command: SubmitEvidence | RecordReferrals | RecordEngagements
) -> Decision[Contract]:
    """The contract, when it is registered in the command's place and held by its provider."""
    problems = batch_problems(contract, command.contract_id, command.place_id, command.provider_id)
    if problems or contract is None:
        return _refused("evidence_batch_valid", problems)
    return Decision(contract)


def decide_verification_intake(
    contract: Contract | None,
    batch_status: str | None,
    strangers: Sequence[ParticipantMetric],
    command: RecordVerificationDecision,
) -> Decision[Contract]:
    """The verifier's decisions may be recorded: the batch awaits them and each decided claim
    was in its sample."""
    if contract is None or batch_status is None:
        return Decision.refuse(
            "batch_submitted",
            f"batch {command.batch_id} of contract {command.contract_id} was not submitted",
        )
    if batch_status not in ("awaiting_verification", "held"):
        return Decision.refuse(
            "batch_awaiting_verification",
            f"batch {command.batch_id} is {batch_status}, not awaiting verification",
        )
    if strangers:
        problems = [
            f"participant {participant} metric {metric} was not sampled from batch "
            f"{command.batch_id}"
            for participant, metric in strangers[:REASONS_LISTED_MAX]
        ]
        return _refused("decided_claims_sampled", problems, {"not_sampled": len(strangers)})
    return Decision(contract)


VerificationStep = Literal["wait", "pay", "apply_rule", "hold"]


def after_verification(state: SampleState) -> VerificationStep:
    """What a batch's sample, as decided so far, calls for: wait for more decisions, pay it,
    settle it by the contract's verification rule (every sampled claim decided, some failed),
    or hold it for a person (a failure while others are undecided, or a rule of "hold")."""
    if state.outcome == "passed":
        return "pay"
    if state.outcome == "undecided":
        return "wait"
    return "apply_rule" if state.decided >= state.sample_size else "hold"


@dataclass(frozen=True)
class ClaimRecord:
    """A claim as stored: which contract it is of, where it has got to, and what it was paid."""

    contract_id: str
    status: str
    payment_id: str | None
    price_pence: int
    claim_period_id: str | None


@dataclass(frozen=True)
class Clawback:
    """A clawback raised on a paid claim: what the ledger is asked to recover."""

    recovery_id: str
    clawback_id: str
    contract_id: str
    place_id: str
    participant_hash: str
    metric_id: str
    payment_id: str
    amount_pence: int
    reason: str
    raised_by: str


def decide_clawback(
    contract: Contract | None,
    raised_before: bool,
    claim: ClaimRecord | None,
    command: ClawBackClaim,
) -> Decision[Clawback]:
    """Recover a paid claim found invalid. Only a paid claim can be clawed back: one still
    pending was never paid, and one clawed back already has nothing more to recover."""
    if contract is None:
        return _not_registered(command.contract_id)
    if raised_before:
        return Decision.refuse(
            "clawback_id_unique", f"clawback {command.clawback_id} was raised before"
        )
    if claim is None or claim.contract_id != contract.contract_id:
        return Decision.refuse(
            "claim_exists",
            f"contract {contract.contract_id} has no claim of metric {command.metric_id} for "
            f"participant {command.participant_hash}",
        )
    if claim.status != CLAIM_PAID or claim.payment_id is None:
        return Decision.refuse(
            "clawback_of_a_paid_claim",
            f"the claim is {claim.status}, not paid: only a paid claim can be clawed back",
        )
    clawback = Clawback(
        recovery_id=recovery_id_for(contract.contract_id, command.clawback_id),
        clawback_id=command.clawback_id,
        contract_id=contract.contract_id,
        place_id=contract.place_id,
        participant_hash=command.participant_hash,
        metric_id=command.metric_id,
        payment_id=claim.payment_id,
        amount_pence=claim.price_pence,
        reason=command.reason,
        raised_by=command.raised_by,
    )
    return Decision(clawback, _clawback_events(contract, clawback, claim.claim_period_id))


def _clawback_events(
    contract: Contract, clawback: Clawback, claim_period_id: str | None
) -> tuple[Event, ...]:
    recovery = RecoveryRaised(
        place_id=contract.place_id,
        recovery_id=clawback.recovery_id,
        payment_id=clawback.payment_id,
        allocation_id=contract.allocation_id,
        provider_id=contract.provider_id,
        amount_pence=clawback.amount_pence,
        reason=clawback.reason,
        payer_shares=recovery_payer_shares(contract, clawback.metric_id, clawback.amount_pence),
    )
    raised = ClawbackRaised(
        place_id=contract.place_id,
        contract_id=contract.contract_id,
        clawback_id=clawback.clawback_id,
        recovery_id=clawback.recovery_id,
        payment_id=clawback.payment_id,
        participant_hash=clawback.participant_hash,
        metric_id=clawback.metric_id,
        amount_pence=clawback.amount_pence,
        reason=clawback.reason,
        claim_period_id=claim_period_id,
    )
    return recovery, raised


def decide_open_book(
    contract: Contract | None,
    submitted_before: bool,
    paid_pence: int,
    command: SubmitOpenBook,
) -> Decision[SubmitOpenBook]:
    """A provider's open-book return, recorded beside the outcome payments of its period."""
    if contract is None:
        return _not_registered(command.contract_id)
    problems = open_book_problems(
        contract, command.provider_id, command.period_id, [k.kpi_id for k in command.kpi_results]
    )
    if submitted_before:
        problems += (f"an open-book return for period {command.period_id} was submitted before",)
    if problems:
        return _refused("open_book_complete", problems)
    submitted = OpenBookSubmitted(**command.model_dump(), outcome_payments_pence=paid_pence)
    return Decision(command, (submitted,))


def open_book_period(contract: Contract, period_id: str) -> str | None:
    """The period whose payments an open-book return sits beside (None: the whole contract,
    for a contract without claim periods)."""
    return period_id if contract.claim_periods else None


def decide_investor_flow(
    social_impact_bond: bool, recorded_before: bool, command: RecordInvestorFlow
) -> Decision[RecordInvestorFlow]:
    """An investor flow of a social impact bond; it never touches outcome payments."""
    if not social_impact_bond:
        return Decision.refuse(
            "social_impact_bond",
            f"contract {command.contract_id} is not a registered social impact bond",
        )
    if recorded_before:
        return Decision.refuse(
            "flow_id_unique", f"investor flow {command.flow_id} was recorded before"
        )
    return Decision(command, (InvestorFlowRecorded(**command.model_dump()),))


@dataclass(frozen=True)
class BatchPayment:
    """How a verified batch is paid: now (asking the ledger) or once its allocation is funded."""

    status: Literal["awaiting_funding", "payment_requested"]
    amount_pence: int
    payment_id: str | None


def decide_batch_payment(
    contract: Contract,
    batch_id: str,
    allocation_funded: bool,
    verified_count: int,
    amount_pence: int,
    claimed_by_payer: Mapping[str | None, int],
) -> Decision[BatchPayment]:
    """The batch is verified: ask the ledger to pay it, split by payer, once its allocation is
    funded; paying before the ledger reserved the money would only be refused, so it waits."""
    verified = EvidenceVerified(
        place_id=contract.place_id,
        contract_id=contract.contract_id,
        batch_id=batch_id,
        verified_count=verified_count,
        amount_pence=amount_pence,
    )
    if not allocation_funded:
        return Decision(BatchPayment("awaiting_funding", amount_pence, None), (verified,))
    payment_id = payment_id_for(contract.contract_id, batch_id)
    payer_shares = tuple(
        PayerShare(payer_id=payer_id, amount_pence=share_pence)
        for payer_id, share_pence in split_by_payer(claimed_by_payer, amount_pence)
    )
    requested = PaymentRequested(
        place_id=contract.place_id,
        payment_id=payment_id,
        allocation_id=contract.allocation_id,
        provider_id=contract.provider_id,
        amount_pence=amount_pence,
        payment_kind=OUTCOME_PAYMENT,
        contract_id=contract.contract_id,
        claim_batch_id=batch_id,
        purpose=f"outcome payment for contract {contract.contract_id}, batch {batch_id}",
        payer_shares=payer_shares,
    )
    payment = BatchPayment("payment_requested", amount_pence, payment_id)
    return Decision(payment, (verified, requested))
