"""Events on the ledger's topics: requests to it, its results, posted transfers, public spend."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts.base import Event
from contracts.money import Pence, PositivePence, SignedPence
from contracts.topics import LEDGER_REQUESTS, LEDGER_RESULTS, LEDGER_SPEND, LEDGER_TRANSFERS
from contracts.values import (
    Attribution,
    Figures,
    FinancialYear,
    Identifier,
    Profile,
    Text,
    TransferLeg,
    ValueObject,
    check_attribution_adds_up,
)

PaymentKind = Literal["grant_instalment", "outcome_payment"]
ReleaseReason = Literal["cancelled", "varied_down", "expired"]
IatiTransactionType = Literal[1, 2, 3, 4, 11]
"""IATI codes: 1 incoming funds, 2 outgoing commitment, 3 disbursement, 4 expenditure,
11 incoming commitment."""


# --- Requests to the ledger (LEDGER_REQUESTS) -------------------------------------------------


class RecordSettlement(Event):
    """Record a department's multi-year settlement of one funding stream into a place's pot."""

    topic = LEDGER_REQUESTS
    # Version 2 replaced v1's single amount_pence and financial_year with a per-year profile.
    schema_version = 2

    settlement_id: Identifier
    department_code: Identifier
    funding_stream_code: Identifier
    spending_review_period: Identifier
    profile: Profile

    @property
    def total_pence(self) -> int:
        """The settlement's total over every year of its profile."""
        return sum(entry.amount_pence for entry in self.profile)


class RecordReceipt(Event):
    """Record money a department has paid in against a settlement."""

    topic = LEDGER_REQUESTS

    receipt_id: Identifier
    settlement_id: Identifier
    department_code: Identifier
    funding_stream_code: Identifier
    financial_year: FinancialYear
    amount_pence: PositivePence


class FundingStream(ValueObject):
    """One department's funding stream in a place's pot, named in a funding rule."""

    department_code: Identifier
    funding_stream_code: Identifier


FUNDING_STREAMS_MAX = 200
"""The most streams one funding rule may name (a pot holds about twenty)."""

FundingStreams = Annotated[tuple[FundingStream, ...], Field(max_length=FUNDING_STREAMS_MAX)]


class PayerShare(ValueObject):
    """The part of an outcome payment one of the contract's payers funds (its cap applied)."""

    payer_id: Identifier
    amount_pence: Pence


PAYER_SHARES_MAX = 100
"""The most payers one outcome payment may be split between (INDIGO contracts name a few)."""

PayerShares = Annotated[tuple[PayerShare, ...], Field(max_length=PAYER_SHARES_MAX)]


def check_payer_shares(payer_shares: tuple[PayerShare, ...], amount_pence: int) -> None:
    """Raise ValueError unless payer shares (when given) name each payer once and add up to the
    amount exactly."""
    if not payer_shares:
        return
    payers = [share.payer_id for share in payer_shares]
    if len(set(payers)) != len(payers):
        raise ValueError("payer_shares must name each payer once")
    shares_pence = sum(share.amount_pence for share in payer_shares)
    if shares_pence != amount_pence:
        raise ValueError(
            f"payer_shares add up to {shares_pence} pence but amount_pence is {amount_pence}"
        )


class ReservationRequested(Event):
    """Ask the ledger to reserve part of the pot for an approved allocation.

    Funding rules (both absent from older requests): when `eligible_streams` names streams,
    only those may fund the reservation; `excluded_streams` may never fund it (a restricted
    stream, say). The ledger reserves pro rata across the eligible streams only."""

    topic = LEDGER_REQUESTS

    allocation_id: Identifier
    financial_year: FinancialYear
    amount_pence: PositivePence
    purpose: Text
    eligible_streams: FundingStreams = ()
    excluded_streams: FundingStreams = ()


class ReservationReleaseRequested(Event):
    """Ask the ledger to release unspent reserved money back to the pot."""

    topic = LEDGER_REQUESTS

    allocation_id: Identifier
    amount_pence: PositivePence
    reason: ReleaseReason


class ReservationTransferRequested(Event):
    """Ask the ledger to move part of one allocation's reservation to another allocation, in
    the same place and financial year, without the money passing through the pot: how the
    winners of a participatory budgeting round are funded from the round's reservation, so
    the money voted for is the money set aside. `reservation_transfer_id` moves once."""

    topic = LEDGER_REQUESTS

    reservation_transfer_id: Identifier
    from_allocation_id: Identifier
    to_allocation_id: Identifier
    amount_pence: PositivePence
    purpose: Text


class PaymentRequested(Event):
    """Ask the ledger to pay a provider from an allocation's reservation."""

    topic = LEDGER_REQUESTS

    payment_id: Identifier
    allocation_id: Identifier
    provider_id: Identifier
    amount_pence: PositivePence
    payment_kind: PaymentKind
    contract_id: Identifier | None = None
    claim_batch_id: Identifier | None = None
    purpose: Text
    # An outcome payment split by the contract's payers (absent from older requests and from
    # payments of contracts that name no payers); the ledger books them with the payment.
    payer_shares: PayerShares = ()

    @model_validator(mode="after")
    def _payer_shares_add_up(self) -> "PaymentRequested":
        check_payer_shares(self.payer_shares, self.amount_pence)
        return self

    @model_validator(mode="after")
    def _outcome_payments_name_their_evidence(self) -> "PaymentRequested":
        # An outcome payment is only ever released on a verified evidence batch of a contract.
        names_evidence = bool(self.contract_id and self.claim_batch_id)
        if self.payment_kind == "outcome_payment" and not names_evidence:
            raise ValueError("an outcome_payment needs both contract_id and claim_batch_id")
        return self


class RecoveryRaised(Event):
    """Claw back (part of) a payment whose evidence was later found invalid."""

    topic = LEDGER_REQUESTS

    recovery_id: Identifier
    payment_id: Identifier
    allocation_id: Identifier
    provider_id: Identifier
    amount_pence: PositivePence
    reason: Text
    # The recovery split by the outcome payers whose shares of the payment it takes back (the
    # clawed-back claim's metric's payer); absent from older requests and unsplit payments.
    payer_shares: PayerShares = ()

    @model_validator(mode="after")
    def _payer_shares_add_up(self) -> "RecoveryRaised":
        check_payer_shares(self.payer_shares, self.amount_pence)
        return self


class ClosePeriod(Event):
    """Close a financial year: nothing may be posted into it afterwards."""

    topic = LEDGER_REQUESTS

    financial_year: FinancialYear


class VirementRequested(Event):
    """Move money between funding streams of the pot, with the approval that allows it."""

    topic = LEDGER_REQUESTS

    virement_id: Identifier
    financial_year: FinancialYear
    from_funding_stream_code: Identifier
    to_funding_stream_code: Identifier
    amount_pence: PositivePence
    approval_reference: Identifier

    @model_validator(mode="after")
    def _streams_differ(self) -> "VirementRequested":
        if self.from_funding_stream_code == self.to_funding_stream_code:
            raise ValueError("a virement must move money between two different funding streams")
        return self


# --- The ledger's results (LEDGER_RESULTS) ----------------------------------------------------


class SettlementRecorded(Event):
    """The ledger recorded a settlement as an incoming commitment to the pot."""

    topic = LEDGER_RESULTS

    settlement_id: Identifier
    department_code: Identifier
    funding_stream_code: Identifier
    spending_review_period: Identifier
    profile: Profile
    transfer_id: Identifier

    @property
    def total_pence(self) -> int:
        """The settlement's total over every year of its profile."""
        return sum(entry.amount_pence for entry in self.profile)


class ReceiptRecorded(Event):
    """The ledger recorded money paid in by a department."""

    topic = LEDGER_RESULTS

    receipt_id: Identifier
    settlement_id: Identifier
    department_code: Identifier
    funding_stream_code: Identifier
    financial_year: FinancialYear
    amount_pence: Pence
    transfer_id: Identifier


class ReservationMade(Event):
    """The ledger reserved money for an allocation, recording the pot's stream mix."""

    topic = LEDGER_RESULTS

    allocation_id: Identifier
    financial_year: FinancialYear
    amount_pence: Pence
    attribution: Attribution
    transfer_id: Identifier

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "ReservationMade":
        check_attribution_adds_up(self.attribution, self.amount_pence)
        return self


class ReservationRejected(Event):
    """The ledger refused a reservation, usually because the pot's unreserved money is short."""

    topic = LEDGER_RESULTS

    allocation_id: Identifier
    amount_pence: Pence
    reason: Text
    unreserved_pence: SignedPence
    # The rule broken and its numbers (contracts.refusals); absent from older ledgers' events,
    # which only ever refused for "reservation_within_unreserved_pot".
    rule: Identifier | None = None
    figures: Figures = Field(default_factory=dict)


class ReservationReleased(Event):
    """The ledger released reserved money back to the pot: `attribution` says how much went
    back to each stream (pro rata to what was still reserved in each), in `financial_year`
    (the reservation's). Both are absent from events of older ledgers."""

    topic = LEDGER_RESULTS

    allocation_id: Identifier
    amount_pence: Pence
    reason: ReleaseReason
    transfer_id: Identifier
    attribution: Attribution | None = None
    financial_year: FinancialYear | None = None

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "ReservationReleased":
        if self.attribution is not None:
            check_attribution_adds_up(self.attribution, self.amount_pence)
        return self


class ReservationTransferred(Event):
    """The ledger moved `amount_pence` from one allocation's reservation to another's, in the
    reservation's `financial_year`; `attribution` says how much of each stream moved (pro rata
    to what the source still held), so departments keep seeing what their money bought."""

    topic = LEDGER_RESULTS

    reservation_transfer_id: Identifier
    from_allocation_id: Identifier
    to_allocation_id: Identifier
    amount_pence: PositivePence
    financial_year: FinancialYear
    attribution: Attribution
    transfer_id: Identifier

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "ReservationTransferred":
        check_attribution_adds_up(self.attribution, self.amount_pence)
        return self


class PaymentMade(Event):
    """The ledger paid a provider from an allocation's reservation."""

    topic = LEDGER_RESULTS

    payment_id: Identifier
    allocation_id: Identifier
    provider_id: Identifier
    amount_pence: Pence
    payment_kind: PaymentKind
    contract_id: Identifier | None
    claim_batch_id: Identifier | None
    attribution: Attribution
    transfer_id: Identifier
    # The request's split by outcome payer, as booked (absent from older ledgers' events).
    payer_shares: PayerShares = ()

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "PaymentMade":
        check_attribution_adds_up(self.attribution, self.amount_pence)
        check_payer_shares(self.payer_shares, self.amount_pence)
        return self


class PaymentRejected(Event):
    """The ledger refused a payment (for example, more than is left in the reservation)."""

    topic = LEDGER_RESULTS

    payment_id: Identifier
    allocation_id: Identifier
    amount_pence: Pence
    reason: Text
    # Echoed from the request so the outcomes service can find the batch without a lookup.
    contract_id: Identifier | None = None
    claim_batch_id: Identifier | None = None
    # The rule broken and its numbers (absent in events written before they were added), so a
    # requester can tell a refusal that may pass later (more money) from one that cannot.
    rule: Identifier | None = None
    figures: Figures = Field(default_factory=dict)


class RecoveryRecorded(Event):
    """The ledger recorded a clawback as a reversing entry: the money goes back to the streams
    that paid, split as the payment was (`attribution`), in `financial_year` (the payment's,
    or the next if that one is closed). Both are absent from events of older ledgers."""

    topic = LEDGER_RESULTS

    recovery_id: Identifier
    payment_id: Identifier
    amount_pence: Pence
    transfer_id: Identifier
    attribution: Attribution | None = None
    financial_year: FinancialYear | None = None
    # The request's split by outcome payer, as booked (absent from older ledgers' events).
    payer_shares: PayerShares = ()

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "RecoveryRecorded":
        if self.attribution is not None:
            check_attribution_adds_up(self.attribution, self.amount_pence)
        check_payer_shares(self.payer_shares, self.amount_pence)
        return self


class PeriodClosed(Event):
    """The ledger closed a financial year."""

    topic = LEDGER_RESULTS

    financial_year: FinancialYear


class VirementRecorded(Event):
    """The ledger moved unreserved money between two funding streams, as approved. The money
    keeps its department: `attribution` says how much of each department's money moved, each
    share naming the stream it left (`from_funding_stream_code`); the same amount arrived in
    that department's `to_funding_stream_code`. Absent from events of older ledgers."""

    topic = LEDGER_RESULTS

    virement_id: Identifier
    financial_year: FinancialYear
    from_funding_stream_code: Identifier
    to_funding_stream_code: Identifier
    amount_pence: Pence
    approval_reference: Identifier
    transfer_id: Identifier
    attribution: Attribution | None = None

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "VirementRecorded":
        if self.attribution is not None:
            check_attribution_adds_up(self.attribution, self.amount_pence)
        return self


# --- Posted transfers (LEDGER_TRANSFERS) ------------------------------------------------------


class TransferPosted(Event):
    """A balanced double-entry transfer the ledger posted, linked into the place's hash chain."""

    topic = LEDGER_TRANSFERS

    transfer_id: Identifier
    financial_year: FinancialYear
    legs: tuple[TransferLeg, ...] = Field(min_length=2)
    iati_transaction_type: IatiTransactionType
    department_code: Identifier | None
    funding_stream_code: Identifier | None
    allocation_id: Identifier | None
    contract_id: Identifier | None
    claim_id: Identifier | None
    description: Text
    sequence: int = Field(ge=1, strict=True)
    previous_hash: str
    chain_hash: str

    @model_validator(mode="after")
    def _legs_balance(self) -> "TransferPosted":
        debits = sum(leg.amount_pence for leg in self.legs if leg.direction == "debit")
        credits = sum(leg.amount_pence for leg in self.legs if leg.direction == "credit")
        if debits != credits:
            raise ValueError(f"debits ({debits} pence) must equal credits ({credits} pence)")
        return self


# --- Public spend (LEDGER_SPEND) --------------------------------------------------------------


class SpendRecorded(Event):
    """Public money was spent; each department sees its share, to the penny."""

    topic = LEDGER_SPEND

    spend_id: Identifier
    payment_id: Identifier
    allocation_id: Identifier
    provider_id: Identifier
    contract_id: Identifier | None
    amount_pence: Pence
    payment_kind: PaymentKind
    purpose: Text
    financial_year: FinancialYear
    attribution: Attribution
    transfer_id: Identifier

    @model_validator(mode="after")
    def _attribution_adds_up(self) -> "SpendRecorded":
        check_attribution_adds_up(self.attribution, self.amount_pence)
        return self
