"""The outcomes service's pure rules: which claims of a batch are payable, at what price, capped.

No I/O here. Functions take the contract and what is already claimed, and return what to
accept, what to reject with a reason a provider can act on, and the amount to pay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date

from contracts.money import format_pounds

ParticipantMetric = tuple[str, str]
"""(participant_hash, metric_id): the outcome that is paid once per place."""


@dataclass(frozen=True)
class Contract:
    """An outcomes contract as pricing needs it: its prices, its cap and what is already asked."""

    contract_id: str
    place_id: str
    allocation_id: str
    provider_id: str
    cap_pence: int
    requested_pence: int
    prices_pence: Mapping[str, int]

    @property
    def headroom_pence(self) -> int:
        """What may still be requested before the cap is reached."""
        return max(self.cap_pence - self.requested_pence, 0)


@dataclass(frozen=True)
class Claim:
    """One participant's achievement of one metric."""

    participant_hash: str
    metric_id: str
    achieved_on: date
    evidence_reference: str

    @property
    def key(self) -> ParticipantMetric:
        return self.participant_hash, self.metric_id


@dataclass(frozen=True)
class PricedClaim:
    """An accepted claim and what it is paid: its metric's price, or less where the cap bites."""

    claim: Claim
    price_pence: int


@dataclass(frozen=True)
class RejectedClaim:
    """A claim that will not be paid, and why."""

    claim: Claim
    reason: str


@dataclass(frozen=True)
class Assessment:
    """A batch sorted into accepted (priced) and rejected claims."""

    accepted: tuple[PricedClaim, ...]
    rejected: tuple[RejectedClaim, ...]

    @property
    def amount_pence(self) -> int:
        return sum(priced.price_pence for priced in self.accepted)


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


def assess(
    contract: Contract, claims: Sequence[Claim], already_claimed: Set[ParticipantMetric]
) -> Assessment:
    """Accept, price and cap a batch, claim by claim in the order submitted.

    A claim is rejected if its metric has no price in the contract, or if its participant-metric
    pair is already claimed in the place (earlier, or earlier in this batch). Accepted claims are
    paid their metric's price until the cap: the claim that crosses it is paid only what is left
    (payment = price x outcomes, capped), and every later claim is rejected naming the cap.
    """
    accepted: list[PricedClaim] = []
    rejected: list[RejectedClaim] = []
    claimed = set(already_claimed)
    headroom_pence = contract.headroom_pence
    for claim in claims:
        reason = _claim_problem(contract, claim, claimed, headroom_pence)
        if reason is not None:
            rejected.append(RejectedClaim(claim, reason))
            continue
        price_pence = min(contract.prices_pence[claim.metric_id], headroom_pence)
        headroom_pence -= price_pence
        claimed.add(claim.key)
        accepted.append(PricedClaim(claim, price_pence))
    return Assessment(tuple(accepted), tuple(rejected))


def reasons_summary(rejected: Iterable[RejectedClaim]) -> str:
    """One line for a batch whose every claim was rejected."""
    reasons = sorted({rejection.reason for rejection in rejected})
    return "no claim was accepted: " + "; ".join(reasons)


def _claim_problem(
    contract: Contract, claim: Claim, claimed: Set[ParticipantMetric], headroom_pence: int
) -> str | None:
    if claim.metric_id not in contract.prices_pence:
        return f"metric {claim.metric_id} has no price in contract {contract.contract_id}"
    if claim.key in claimed:
        return (
            f"participant {claim.participant_hash} already has metric {claim.metric_id} "
            f"claimed in {contract.place_id}"
        )
    if headroom_pence == 0:
        return (
            f"contract {contract.contract_id} has reached its cap of "
            f"{format_pounds(contract.cap_pence)}"
        )
    return None
