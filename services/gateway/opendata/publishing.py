"""What every open-data export shares: the read-model rows it is built from, who publishes it,
under which licence, the identifier prefixes, and exact pence-to-pounds conversion.

Pure: no I/O. The builders in `threesixtygiving`, `ocds` and `indigo` take a `PlaceData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

JsonObject = dict[str, Any]

LICENCE_NAME = "Open Government Licence v3.0"
LICENCE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
PUBLISHER_NAME = "singlepot"
CURRENCY = "GBP"

# 360Giving: a publisher's grant identifiers start "360G-" and a prefix 360Giving registers for
# it; "singlepot" stands in until a place registers its own (see README.md in this package).
GRANT_PREFIX = "360G-singlepot"
# OCDS: an ocid starts with a prefix registered with the Open Contracting Partnership
# ("ocds-" and six characters); "ocds-singlepot" is a placeholder until a place registers one.
OCID_PREFIX = "ocds-singlepot"
# INDIGO identifiers are issued by the GO Lab; until it issues one, a publisher-scoped id.
INDIGO_PREFIX = "INDIGO-singlepot"

PLACE_NAMES = {
    "GM": "Greater Manchester Combined Authority",
    "WM": "West Midlands Combined Authority",
    "LCR": "Liverpool City Region Combined Authority",
    "WY": "West Yorkshire Combined Authority",
    "SY": "South Yorkshire Mayoral Combined Authority",
    "NE": "North East Combined Authority",
}

# JSON numbers are IEEE doubles in most readers: a decimal of at most 15 significant digits
# survives the round trip exactly, so amounts are refused beyond that (£9,999,999,999,999.99).
PENCE_MAX = 10**15 - 1

# Statuses at which the board's decision stands and the ledger reserved the money.
AWARDED_STATUSES = frozenset({"funded", "expired", "cancelled"})


@dataclass(frozen=True)
class Allocation:
    allocation_id: str
    allocation_type: str
    recipient_id: str
    purpose: str
    mission_id: str
    start_date: date
    end_date: date
    value_pence: int
    financial_year: str
    status: str
    funded_pence: int
    updated_at: datetime
    # When the board decided (the AllocationApproved event); None for rows recorded before the
    # read model kept it, which fall back to the row's last update.
    decided_at: datetime | None = None

    def award_moment(self) -> datetime:
        """The award date: the board's decision, as the standards ask."""
        return self.decided_at or self.updated_at


@dataclass(frozen=True)
class StreamShare:
    department_code: str
    funding_stream_code: str
    amount_pence: int


@dataclass(frozen=True)
class Reservation:
    allocation_id: str
    financial_year: str
    amount_pence: int
    released_pence: int
    attribution: tuple[StreamShare, ...]


@dataclass(frozen=True)
class MetricPrice:
    metric_id: str
    price_pence: int
    cap_pence: int | None
    payer_id: str | None


@dataclass(frozen=True)
class PayerTerms:
    payer_id: str
    cap_pence: int | None


@dataclass(frozen=True)
class MetricTerms:
    """A metric's published definition. Participant-level evidence is never part of it."""

    metric_id: str
    definition: str
    target_population: str | None = None
    target_count: int | None = None
    validation_method: str | None = None


@dataclass(frozen=True)
class ClaimPeriodTerms:
    claim_period_id: str
    starts_on: date
    ends_on: date
    claim_deadline: date | None = None
    planned_payment_pence: int = 0


@dataclass(frozen=True)
class ContractTerms:
    """What the contract registered beyond its prices: the read model's `contracts.terms`."""

    payers: tuple[PayerTerms, ...] = ()
    metrics: tuple[MetricTerms, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    claim_periods: tuple[ClaimPeriodTerms, ...] = ()


@dataclass(frozen=True)
class Contract:
    contract_id: str
    allocation_id: str
    provider_id: str
    prices: tuple[MetricPrice, ...]
    cap_pence: int
    registered_at: datetime
    terms: ContractTerms = ContractTerms()
    # Claim periods with outcomes paid in them (from the remittance advice lines).
    paid_claim_period_ids: frozenset[str] = frozenset()

    def metric(self, metric_id: str) -> MetricTerms | None:
        return next((m for m in self.terms.metrics if m.metric_id == metric_id), None)


@dataclass(frozen=True)
class EvidenceBatch:
    contract_id: str
    batch_id: str
    status: str
    claim_count: int
    accepted_count: int
    verified_count: int
    amount_pence: int
    updated_at: datetime


@dataclass(frozen=True)
class Payment:
    payment_id: str
    allocation_id: str
    provider_id: str
    contract_id: str | None
    claim_batch_id: str | None
    amount_pence: int
    payment_kind: str
    status: str
    recovered_pence: int
    recorded_at: datetime


@dataclass(frozen=True)
class Recovery:
    """A clawback the ledger settled: money a provider paid back from an outcome payment. Its
    free-text reason is never read from the read model, so it cannot reach an export (it may
    describe a person)."""

    clawback_id: str
    contract_id: str
    payment_id: str
    metric_id: str
    claim_period_id: str | None
    amount_pence: int
    # When the ledger settled it; None for rows kept before the read model recorded dates.
    settled_at: datetime | None


@dataclass(frozen=True)
class Movement:
    """One movement of money that an export publishes for a payment: the payment itself, or a
    recovery of it (negative pence)."""

    key: str
    moment: datetime
    pence: int
    description: str
    recovery: bool = False


@dataclass(frozen=True)
class PlaceData:
    """Everything an export of one place reads, as the gateway's read models hold it."""

    place_id: str
    allocations: tuple[Allocation, ...] = ()
    reservations: dict[str, Reservation] = field(default_factory=dict)
    contracts: tuple[Contract, ...] = ()
    evidence: tuple[EvidenceBatch, ...] = ()
    payments: tuple[Payment, ...] = ()
    recoveries: tuple[Recovery, ...] = ()

    def awarded(self) -> list[Allocation]:
        """Allocations the board approved and the ledger funded, whatever happened since."""
        return [
            allocation
            for allocation in self.allocations
            if allocation.status in AWARDED_STATUSES or allocation.funded_pence > 0
        ]

    def payments_for(self, allocation_id: str) -> list[Payment]:
        return [
            payment
            for payment in self.payments
            if payment.allocation_id == allocation_id and payment.status == "made"
        ]

    def recoveries_for(self, payment_id: str) -> list[Recovery]:
        return [r for r in self.recoveries if r.payment_id == payment_id]

    def movements(self, payment: Payment) -> list[Movement]:
        """The payment at its full amount, then each settled recovery of it as a negative
        movement dated when it was settled; they add up to what the provider kept.

        A recovery the ledger recorded (`recovered_pence`) whose clawback is not yet settled in
        the read model (it travels on another topic) has no row of its own yet: it is netted
        off the payment, so a total never overstates what was paid."""
        recoveries = self.recoveries_for(payment.payment_id)
        published_pence = sum(r.amount_pence for r in recoveries)
        netted_pence = max(payment.recovered_pence - published_pence, 0)
        description = f"{payment.payment_kind or 'payment'} {payment.payment_id}".strip()
        if netted_pence:
            description += f" (£{pounds(netted_pence)} later recovered)"
        found = [
            Movement(
                payment.payment_id,
                payment.recorded_at,
                payment.amount_pence - netted_pence,
                description.replace("_", " "),
            )
        ]
        for recovery in recoveries:
            period = (
                f", claim period {recovery.claim_period_id}" if recovery.claim_period_id else ""
            )
            found.append(
                Movement(
                    f"{payment.payment_id}-recovery-{recovery.clawback_id}",
                    recovery.settled_at or payment.recorded_at,
                    -recovery.amount_pence,
                    f"recovery {recovery.clawback_id} of outcome payment {payment.payment_id} "
                    f"({recovery.metric_id}{period})",
                    recovery=True,
                )
            )
        return found

    def net_paid_pence(self, payment: Payment) -> int:
        """What the provider kept of a payment: less every recovery, settled or recorded."""
        return sum(movement.pence for movement in self.movements(payment))

    def contracts_for(self, allocation_id: str) -> list[Contract]:
        return [c for c in self.contracts if c.allocation_id == allocation_id]

    def evidence_for(self, contract_id: str) -> list[EvidenceBatch]:
        return [batch for batch in self.evidence if batch.contract_id == contract_id]


def pounds(pence: int) -> Decimal:
    """Pence as an exact Decimal of pounds with two places: 150000000 -> Decimal("1500000.00")."""
    if not 0 <= abs(pence) <= PENCE_MAX:
        raise ValueError(
            f"amount_pence {pence} is beyond the {PENCE_MAX} pence a JSON number holds"
        )
    return Decimal(pence).scaleb(-2).quantize(Decimal("0.01"))


def json_pounds(pence: int) -> float:
    """Pence as a JSON number of pounds. Exact: at most 15 significant digits (see PENCE_MAX),
    so the shortest text of the float is the decimal itself ("1500000.0", "12.34")."""
    return float(pounds(pence))


def place_name(place_id: str) -> str:
    return PLACE_NAMES.get(place_id, f"{place_id} Combined Authority")


def funder_id(place_id: str) -> str:
    """The combined authority's identifier, scoped by the publisher's prefix."""
    return f"{GRANT_PREFIX}-place-{place_id}"


def organisation_id(provider_id: str) -> str:
    """A provider's identifier. Providers are organisations (DOMAIN.md §2), never people."""
    return f"{GRANT_PREFIX}-org-{provider_id}"


def department_id(department_code: str) -> str:
    return f"{GRANT_PREFIX}-department-{department_code}"


def date_text(day: date) -> str:
    return day.isoformat()


def datetime_text(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second: "2026-05-01T09:30:00Z"."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def midnight_text(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def stream_label(share: StreamShare) -> str:
    return f"{share.department_code}/{share.funding_stream_code}"
