"""What every open-data export shares: the read-model rows it is built from, who publishes it,
under which licence, the identifier prefixes, and exact pence-to-pounds conversion.

Pure: no I/O. The builders in `threesixtygiving`, `ocds` and `indigo` take a `PlaceData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.gateway.errors import GatewayError
from services.gateway.opendata.organisations import Organisation

JsonObject = dict[str, Any]

LICENCE_NAME = "Open Government Licence v3.0"
LICENCE_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
CURRENCY = "GBP"

# A place with no registered prefixes publishes under these only in the demo
# (`SINGLEPOT_OPENDATA_DEMO`); the files then say they are demonstration data.
DEMO_GRANT_PREFIX = "360G-DEMO"
DEMO_OCID_PREFIX = "ocds-demo00"

# Combined authorities' usual names, used only for a demo place with no registered authority.
PLACE_NAMES = {
    "GM": "Greater Manchester Combined Authority",
    "WM": "West Midlands Combined Authority",
    "LCR": "Liverpool City Region Combined Authority",
    "WY": "West Yorkshire Combined Authority",
    "SY": "South Yorkshire Mayoral Combined Authority",
    "NE": "North East Combined Authority",
}

# Each place's constituent local authority districts with their GSS codes (ONS): 360Giving
# beneficiary locations, geoCodeType "LAD".
DISTRICTS: dict[str, tuple[tuple[str, str], ...]] = {
    "GM": (
        ("Bolton", "E08000001"),
        ("Bury", "E08000002"),
        ("Manchester", "E08000003"),
        ("Oldham", "E08000004"),
        ("Rochdale", "E08000005"),
        ("Salford", "E08000006"),
        ("Stockport", "E08000007"),
        ("Tameside", "E08000008"),
        ("Trafford", "E08000009"),
        ("Wigan", "E08000010"),
    ),
    "WM": (
        ("Birmingham", "E08000025"),
        ("Coventry", "E08000026"),
        ("Dudley", "E08000027"),
        ("Sandwell", "E08000028"),
        ("Solihull", "E08000029"),
        ("Walsall", "E08000030"),
        ("Wolverhampton", "E08000031"),
    ),
    "LCR": (
        ("Halton", "E06000006"),
        ("Knowsley", "E08000011"),
        ("Liverpool", "E08000012"),
        ("St. Helens", "E08000013"),
        ("Sefton", "E08000014"),
        ("Wirral", "E08000015"),
    ),
    "WY": (
        ("Bradford", "E08000032"),
        ("Calderdale", "E08000033"),
        ("Kirklees", "E08000034"),
        ("Leeds", "E08000035"),
        ("Wakefield", "E08000036"),
    ),
    "SY": (
        ("Barnsley", "E08000016"),
        ("Doncaster", "E08000017"),
        ("Rotherham", "E08000018"),
        ("Sheffield", "E08000019"),
    ),
}


class PublishingRefused(GatewayError):
    """The place cannot publish: its publishing identity is incomplete."""


@dataclass(frozen=True)
class Publisher:
    """Who publishes a place's open data: the combined authority, with its registered prefixes."""

    place_id: str
    authority: Organisation
    grant_prefix: str
    ocid_prefix: str
    publication_policy_url: str | None = None
    demo: bool = False


def demo_publisher(place_id: str, authority: Organisation | None = None) -> Publisher:
    """Placeholder prefixes for the demo; never used where `resolve_publisher` refuses them."""
    return Publisher(
        place_id,
        authority or placeholder_organisation(place_id, "combined_authority", DEMO_GRANT_PREFIX),
        f"{DEMO_GRANT_PREFIX}-{place_id}",
        DEMO_OCID_PREFIX,
        demo=True,
    )


def resolve_publisher(
    place_id: str,
    grant_prefix: str | None,
    ocid_prefix: str | None,
    publication_policy_url: str | None,
    authority: Organisation | None,
    demo_allowed: bool,
) -> Publisher:
    """The place's publishing identity; outside the demo, refused unless the place registered
    both prefixes and its combined authority (with an org-id) in the organisations register."""
    missing = [
        what
        for what, absent in (
            ("a 360Giving prefix (SINGLEPOT_OPENDATA_PUBLISHERS)", grant_prefix is None),
            ("an OCDS prefix (SINGLEPOT_OPENDATA_PUBLISHERS)", ocid_prefix is None),
            ("its combined authority in the organisations register", authority is None),
        )
        if absent
    ]
    if not missing:
        assert grant_prefix is not None and ocid_prefix is not None and authority is not None
        return Publisher(place_id, authority, grant_prefix, ocid_prefix, publication_policy_url)
    if demo_allowed:
        return demo_publisher(place_id, authority)
    raise PublishingRefused(
        f"place {place_id} cannot publish open data: it has not registered {', '.join(missing)}; "
        "placeholder identifiers are published only in the demo (SINGLEPOT_OPENDATA_DEMO)"
    )


def placeholder_organisation(reference: str, kind: str, prefix: str) -> Organisation:
    """An organisation missing from the register: its reference as name, under the publisher's
    own prefix (360Giving's quality checks flag such identifiers: register the organisation)."""
    name = PLACE_NAMES.get(reference, reference) if kind == "combined_authority" else reference
    return Organisation(reference, kind, name, "", prefix, reference)


# JSON numbers are IEEE doubles in most readers: a decimal of at most 15 significant digits
# survives the round trip exactly, so amounts are refused beyond that (£9,999,999,999,999.99).
PENCE_MAX = 10**15 - 1

# Statuses at which the board's decision stands and the ledger reserved the money.
OUTCOMES_CONTRACT = "outcomes_contract"
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
    # When the payment was made (its event's occurred_at); None for rows kept before it was.
    paid_at: datetime | None = None

    @property
    def paid_moment(self) -> datetime:
        return self.paid_at or self.recorded_at


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
class InvestorFlow:
    """Money between a social impact bond's investor and the provider: an investment, a
    repayment or a return. Never an outcome payment."""

    flow_id: str
    contract_id: str
    investor_id: str
    flow_kind: str
    amount_pence: int
    occurred_on: date


@dataclass(frozen=True)
class PaidByPayer:
    """An outcome payer's share of a payment (positive) or of a recovery of it (negative), as
    the ledger booked it."""

    payer_id: str
    payment_id: str
    amount_pence: int


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
    # Who publishes (None: the demo's placeholder identity) and the organisations register.
    publisher: Publisher | None = None
    organisations: dict[str, Organisation] = field(default_factory=dict)
    mission_titles: dict[str, str] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    contracts: tuple[Contract, ...] = ()
    evidence: tuple[EvidenceBatch, ...] = ()
    payments: tuple[Payment, ...] = ()
    recoveries: tuple[Recovery, ...] = ()
    investor_flows: tuple[InvestorFlow, ...] = ()
    payer_shares: tuple[PaidByPayer, ...] = ()

    def identity(self) -> Publisher:
        return self.publisher or demo_publisher(self.place_id)

    def authority(self) -> Organisation:
        """The combined authority: publisher, funder, buyer and payer."""
        return self.identity().authority

    def organisation(self, reference: str, kind: str) -> Organisation:
        """The registered organisation, else a placeholder under the publisher's prefix."""
        if reference == self.place_id:
            return self.authority()
        found = self.organisations.get(reference)
        if found is not None:
            return found
        return placeholder_organisation(reference, kind, self.identity().grant_prefix)

    def districts(self) -> tuple[tuple[str, str], ...]:
        return DISTRICTS.get(self.place_id, ())

    def last_changed(self) -> datetime | None:
        """The latest change to anything an export reads: the documents' publication date."""
        moments = [
            *(a.updated_at for a in self.allocations),
            *(c.registered_at for c in self.contracts),
            *(b.updated_at for b in self.evidence),
            *(p.recorded_at for p in self.payments),
            *(r.settled_at for r in self.recoveries if r.settled_at is not None),
        ]
        return max(moments, default=None)

    def grants(self) -> list[Allocation]:
        """Awarded grants and partnership agreements: 360Giving's."""
        return [a for a in self.awarded() if a.allocation_type != OUTCOMES_CONTRACT]

    def contracted(self) -> list[Allocation]:
        """Awarded outcomes contracts: OCDS's and INDIGO's, never 360Giving's."""
        return [a for a in self.awarded() if a.allocation_type == OUTCOMES_CONTRACT]

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

    def paid_by_payer(self, payment_ids: set[str]) -> dict[str, int]:
        """Each outcome payer's net share (payments less recoveries) of the given payments, as
        the ledger booked them; {} when none was split by payer."""
        found: dict[str, int] = {}
        for share in self.payer_shares:
            if share.payment_id in payment_ids:
                found[share.payer_id] = found.get(share.payer_id, 0) + share.amount_pence
        return found

    def investors_of(self, contract_id: str) -> dict[str, dict[str, int]]:
        """Each investor in a contract with its pence per flow kind (investment, repayment,
        return), investors in id order."""
        found: dict[str, dict[str, int]] = {}
        for flow in self.investor_flows:
            if flow.contract_id == contract_id:
                kinds = found.setdefault(flow.investor_id, {})
                kinds[flow.flow_kind] = kinds.get(flow.flow_kind, 0) + flow.amount_pence
        return dict(sorted(found.items()))

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


CLAIM_COUNT_PUBLISHED_MIN = 10
"""Claim counts below this are published as "fewer than 10": a handful of claims in one batch
and period could identify the people behind them (statistical disclosure control, as the ONS
suppresses small cells)."""


def claim_count_text(count: int) -> str:
    """A claim count as published: exact from the threshold up, else suppressed."""
    if 0 < count < CLAIM_COUNT_PUBLISHED_MIN:
        return f"fewer than {CLAIM_COUNT_PUBLISHED_MIN}"
    return str(count)


def date_text(day: date) -> str:
    return day.isoformat()


def datetime_text(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second: "2026-05-01T09:30:00Z"."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def stream_label(share: StreamShare) -> str:
    return f"{share.department_code}/{share.funding_stream_code}"
