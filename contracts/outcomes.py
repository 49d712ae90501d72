"""Events on the outcomes topics, keyed by contract: registration, evidence and verification."""

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from contracts.base import Event
from contracts.money import Pence, PositivePence
from contracts.topics import OUTCOMES_COMMANDS, OUTCOMES_LIFECYCLE
from contracts.values import Identifier, Text, ValueObject, repeated_values

# A Kafka message has a size limit (1 MB by default); about 150 bytes a claim keeps a full
# batch well inside it. Month-end uploads larger than this are split into several batches.
EVIDENCE_CLAIMS_PER_BATCH_MAX = 5000

ParticipantHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A keyed SHA-256 of a participant, as 64 lowercase hex characters; never a name."""


class ContractEvent(Event, abstract=True):
    """An event about one outcomes contract, keyed by contract so its evidence stays in order."""

    contract_id: Identifier

    def partition_key(self) -> str:
        return self.contract_id


class MetricPrice(ValueObject):
    """The price paid per verified outcome of one metric."""

    metric_id: Identifier
    price_pence: PositivePence


def _check_metrics_unique(prices: tuple[MetricPrice, ...]) -> tuple[MetricPrice, ...]:
    repeated = repeated_values([price.metric_id for price in prices])
    if repeated:
        raise ValueError(f"prices list a metric more than once: {', '.join(repeated)}")
    return prices


Prices = Annotated[
    tuple[MetricPrice, ...], Field(min_length=1), AfterValidator(_check_metrics_unique)
]


class EvidenceClaim(ValueObject):
    """One participant's achievement of one metric, with where the evidence is kept."""

    participant_hash: ParticipantHash
    metric_id: Identifier
    achieved_on: date
    evidence_reference: Text


# --- Commands (OUTCOMES_COMMANDS) -------------------------------------------------------------


class RegisterOutcomesContract(ContractEvent):
    """Register an outcomes contract: its prices per metric and its overall cap."""

    topic = OUTCOMES_COMMANDS

    allocation_id: Identifier
    provider_id: Identifier
    prices: Prices
    cap_pence: Pence


class SubmitEvidence(ContractEvent):
    """A provider submits a batch of outcome claims for a contract."""

    topic = OUTCOMES_COMMANDS

    batch_id: Identifier
    provider_id: Identifier
    claims: tuple[EvidenceClaim, ...] = Field(
        min_length=1, max_length=EVIDENCE_CLAIMS_PER_BATCH_MAX
    )


# --- Lifecycle (OUTCOMES_LIFECYCLE) -----------------------------------------------------------


class OutcomesContractRegistered(ContractEvent):
    """An outcomes contract was registered."""

    topic = OUTCOMES_LIFECYCLE

    allocation_id: Identifier
    provider_id: Identifier
    prices: Prices
    cap_pence: Pence


class EvidenceSubmitted(ContractEvent):
    """A batch of claims arrived; some were accepted for verification, some rejected at once."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    provider_id: Identifier
    claim_count: int = Field(ge=1, strict=True)
    accepted_count: int = Field(ge=0, strict=True)
    rejected_count: int = Field(ge=0, strict=True)

    @model_validator(mode="after")
    def _counts_add_up(self) -> "EvidenceSubmitted":
        if self.accepted_count + self.rejected_count != self.claim_count:
            raise ValueError(
                f"accepted_count ({self.accepted_count}) + rejected_count "
                f"({self.rejected_count}) must equal claim_count ({self.claim_count})"
            )
        return self


class EvidenceVerified(ContractEvent):
    """A batch's claims were verified and priced; the amount is what will be paid."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    verified_count: int = Field(ge=0, strict=True)
    amount_pence: Pence


class EvidenceRejected(ContractEvent):
    """A batch was rejected as a whole, with every reason found."""

    topic = OUTCOMES_LIFECYCLE

    batch_id: Identifier
    reasons: tuple[Text, ...] = Field(min_length=1)
