"""The gateway's pure rules: who may do what, command ids and request fingerprints, webhook
signatures and back-off, and how public events change the read models. No I/O here."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from contracts import (
    AttributionShare,
    ReceiptRecorded,
    RecoveryRecorded,
    ReservationMade,
    SettlementRecorded,
    SpendRecorded,
    VirementRecorded,
)
from contracts.values import next_financial_year

# Fixed, so the same principal and Idempotency-Key always name the same command event.
IDEMPOTENCY_NAMESPACE = uuid.UUID("0f7d1c52-5a8e-4d0e-9a3c-6b1f9f2d4e21")
EVERY_PLACE = "*"
TOKEN_PREFIX = "sp_"
TOKEN_BYTES = 32


# --- Who may do what ------------------------------------------------------------------------


class Role(StrEnum):
    """The roles of DOMAIN.md §2, as the gateway knows them."""

    FINANCE = "finance"
    BOARD_MEMBER = "board_member"
    CHAIR = "chair"
    ACCOUNTING_OFFICER = "accounting_officer"
    PROVIDER = "provider"
    VERIFIER = "verifier"
    DEPARTMENT = "department"
    AUDITOR = "auditor"
    PUBLIC = "public"
    # Programme staff manage grants once awarded: reports, reviews, the first step of claims.
    PROGRAMME = "programme"


class Permission(StrEnum):
    """What an endpoint needs; each endpoint names exactly one."""

    RECORD_SETTLEMENT = "ledger.record_settlement"
    RECORD_RECEIPT = "ledger.record_receipt"
    CLOSE_PERIOD = "ledger.close_period"
    REQUEST_VIREMENT = "ledger.request_virement"
    MANAGE_BOARD = "allocations.manage_board"
    PROPOSE_ALLOCATION = "allocations.propose"
    DECLARE_INTEREST = "allocations.declare_interest"
    VOTE = "allocations.vote"
    CLOSE_VOTE = "allocations.close_vote"
    DECIDE_ALLOCATION = "allocations.decide"
    SIGN_OFF_ALLOCATION = "allocations.sign_off"
    CANCEL_ALLOCATION = "allocations.cancel"
    LODGE_CLAIM = "allocations.lodge_claim"
    RESPOND_TO_CLAIM = "allocations.respond_to_claim"
    RUN_DUE_WORK = "allocations.run_due_work"
    REGISTER_CONTRACT = "outcomes.register_contract"
    AMEND_METRIC = "outcomes.amend_metric"
    SUBMIT_EVIDENCE = "outcomes.submit_evidence"
    REPORT_DELIVERY = "outcomes.report_delivery"
    VERIFY_EVIDENCE = "outcomes.verify"
    CLAW_BACK = "outcomes.claw_back"
    RECORD_INVESTOR_FLOW = "outcomes.record_investor_flow"
    READ_POT = "read.pot"
    READ_ALLOCATIONS = "read.allocations"
    READ_CONTRACTS = "read.contracts"
    READ_EVIDENCE = "read.evidence"
    READ_PAYMENTS = "read.payments"
    READ_STATEMENTS = "read.statements"
    READ_SPEND = "read.spend"
    READ_DEPARTMENT_SPEND = "read.department_spend"
    # The board's working view: proposals with votes, recusals, sign-off and refusals.
    READ_BOARD = "read.board"
    # Right to Serve and Right to Request claims with their deadlines.
    READ_CLAIMS = "read.claims"
    # The ledger's own reports of a place: the audit export and trial balances.
    READ_AUDIT = "read.audit"
    # Balances as at any date, with the chain position they reach: finance staff and auditors.
    READ_BALANCES = "read.balances"
    # The statutory returns (Transparency Code, prompt payment): finance staff and auditors.
    READ_RETURNS = "read.returns"
    MANAGE_WEBHOOKS = "webhooks.manage"
    # The organisations register the open-data exports name organisations from.
    REGISTER_ORGANISATION = "opendata.register_organisation"
    # Grant monitoring (services/gateway/monitoring): measures and reporting schedules, reports
    # and their review, claims on grants paid in arrears (programme then finance), and the due
    # diligence record of each organisation with the accounting officer's override of a red.
    READ_MONITORING = "read.monitoring"
    SET_MONITORING = "monitoring.set_plan"
    SUBMIT_GRANT_REPORT = "monitoring.submit_report"
    REVIEW_GRANT_REPORT = "monitoring.review_report"
    CLAIM_GRANT_PAYMENT = "monitoring.claim_payment"
    APPROVE_CLAIM_PROGRAMME = "monitoring.approve_claim_programme"
    APPROVE_CLAIM_FINANCE = "monitoring.approve_claim_finance"
    RECORD_DUE_DILIGENCE = "diligence.record"
    OVERRIDE_RED_RATING = "diligence.override_red"


P = Permission
_PLACE_READS = frozenset(
    {
        P.READ_POT,
        P.READ_ALLOCATIONS,
        P.READ_CONTRACTS,
        P.READ_PAYMENTS,
        P.READ_STATEMENTS,
        P.READ_BOARD,
        P.READ_CLAIMS,
    }
)
_BOARD = _PLACE_READS | {P.READ_SPEND, P.PROPOSE_ALLOCATION, P.VOTE, P.DECLARE_INTEREST}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.FINANCE: _PLACE_READS
    | {
        P.READ_SPEND,
        P.READ_EVIDENCE,
        P.RECORD_SETTLEMENT,
        P.RECORD_RECEIPT,
        P.CLOSE_PERIOD,
        P.REQUEST_VIREMENT,
        P.PROPOSE_ALLOCATION,
        P.MANAGE_BOARD,
        P.LODGE_CLAIM,
        P.RUN_DUE_WORK,
        P.REGISTER_CONTRACT,
        P.AMEND_METRIC,
        P.CLAW_BACK,
        P.RECORD_INVESTOR_FLOW,
        P.REGISTER_ORGANISATION,
        P.READ_BALANCES,
        P.READ_RETURNS,
        P.READ_MONITORING,
        P.SET_MONITORING,
        P.APPROVE_CLAIM_FINANCE,
        P.RECORD_DUE_DILIGENCE,
    },
    Role.BOARD_MEMBER: _BOARD,
    Role.CHAIR: _BOARD
    | {
        P.MANAGE_BOARD,
        P.CLOSE_VOTE,
        P.DECIDE_ALLOCATION,
        P.CANCEL_ALLOCATION,
        P.RESPOND_TO_CLAIM,
    },
    Role.ACCOUNTING_OFFICER: _PLACE_READS
    | {
        P.READ_SPEND,
        P.DECIDE_ALLOCATION,
        P.SIGN_OFF_ALLOCATION,
        P.CANCEL_ALLOCATION,
        P.READ_MONITORING,
        P.OVERRIDE_RED_RATING,
    },
    # A provider sees and acts on its own contracts only: see SUBJECT_ROLES below.
    Role.PROVIDER: frozenset(
        {
            P.READ_CONTRACTS,
            P.READ_EVIDENCE,
            P.SUBMIT_EVIDENCE,
            P.REPORT_DELIVERY,
            P.LODGE_CLAIM,
            P.READ_MONITORING,
            P.SUBMIT_GRANT_REPORT,
            P.CLAIM_GRANT_PAYMENT,
        }
    ),
    Role.VERIFIER: frozenset({P.READ_CONTRACTS, P.READ_EVIDENCE, P.VERIFY_EVIDENCE, P.CLAW_BACK}),
    Role.DEPARTMENT: frozenset({P.READ_DEPARTMENT_SPEND, P.MANAGE_WEBHOOKS}),
    Role.AUDITOR: _PLACE_READS
    | {
        P.READ_SPEND,
        P.READ_EVIDENCE,
        P.READ_DEPARTMENT_SPEND,
        P.READ_AUDIT,
        P.READ_BALANCES,
        P.READ_RETURNS,
        P.READ_MONITORING,
    },
    Role.PROGRAMME: _PLACE_READS
    | {
        P.READ_MONITORING,
        P.SET_MONITORING,
        P.REVIEW_GRANT_REPORT,
        P.APPROVE_CLAIM_PROGRAMME,
        P.RECORD_DUE_DILIGENCE,
    },
    Role.PUBLIC: frozenset({P.READ_POT, P.READ_ALLOCATIONS}),
}

# Roles whose grant names a subject (a provider id, a department code): they may act only on
# things belonging to that subject. Other roles' grants have the subject "".
SUBJECT_ROLES = frozenset({Role.PROVIDER, Role.DEPARTMENT})


@dataclass(frozen=True)
class PlaceSet:
    """The places a principal's grants reach for one action: every place, or these."""

    every: bool = False
    places: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not self.every and not self.places

    def as_filter(self) -> list[str] | None:
        """For a query: None for every place, else the places (sorted)."""
        return None if self.every else sorted(self.places)

    def covers_all_of(self, places: Sequence[str] | None) -> bool:
        """Whether every one of `places` (None: every place) is among these."""
        if self.every:
            return True
        return places is not None and set(places) <= self.places


@dataclass(frozen=True)
class Grant:
    """One role of a principal, in one place or, written `@*`, in every place (a national
    grant), for a subject where the role needs one."""

    role: Role
    place_id: str = EVERY_PLACE
    subject_id: str = ""

    def reaches(self, place_id: str) -> bool:
        """True when this grant is for `place_id` or for every place. Every check names its
        place: a grant for one place never answers a question about another, or about all."""
        return self.place_id in (EVERY_PLACE, place_id)

    def covers(self, place_id: str, subject_id: str | None) -> bool:
        """True when this grant reaches the place and, for subject roles, the subject."""
        if not self.reaches(place_id):
            return False
        if self.role in SUBJECT_ROLES:
            return subject_id is not None and subject_id == self.subject_id
        return True


@dataclass(frozen=True)
class Principal:
    """Whoever a token belongs to, with every grant they hold."""

    principal_id: str
    grants: tuple[Grant, ...] = ()
    token_id: uuid.UUID | None = None

    def may(self, permission: Permission, place_id: str, subject_id: str | None) -> bool:
        """Whether any grant allows `permission` in the place, for the subject."""
        return any(
            permission in ROLE_PERMISSIONS[grant.role] and grant.covers(place_id, subject_id)
            for grant in self.grants
        )

    def may_for_some_subject(self, permission: Permission, place_id: str) -> bool:
        """Whether some grant allows `permission` in the place, whatever its subject."""
        return any(
            permission in ROLE_PERMISSIONS[grant.role] and grant.reaches(place_id)
            for grant in self.grants
        )

    def subjects(self, permission: Permission, place_id: str, role: Role) -> set[str]:
        """The subjects a subject-bound role may see for `permission` (e.g. provider ids)."""
        return {
            grant.subject_id
            for grant in self.grants
            if grant.role == role
            and permission in ROLE_PERMISSIONS[grant.role]
            and grant.reaches(place_id)
        }

    def sees_everything(self, permission: Permission, place_id: str) -> bool:
        """True when a grant that is not subject-bound allows `permission` in the place."""
        return any(
            grant.role not in SUBJECT_ROLES
            and permission in ROLE_PERMISSIONS[grant.role]
            and grant.covers(place_id, None)
            for grant in self.grants
        )

    def places(self, permission: Permission, subject_id: str) -> PlaceSet:
        """The places where a grant allows `permission` for the subject (a department code): a
        grant of the subject's own role for that subject, or a role bound to no subject."""
        reaching = [
            grant.place_id
            for grant in self.grants
            if permission in ROLE_PERMISSIONS[grant.role]
            and (grant.role not in SUBJECT_ROLES or grant.subject_id == subject_id)
        ]
        if EVERY_PLACE in reaching:
            return PlaceSet(every=True)
        return PlaceSet(places=frozenset(reaching))


def parse_grant(text: str) -> Grant:
    """Read a grant written `role@place[:subject]`, e.g. `finance@GM`, `provider@GM:PROV-1`;
    `role@*[:subject]` is the national grant, for every place (`department@*:DWP`). Without
    `@`, a grant is for every place too: `explicit_grant` refuses that shorthand."""
    role_and_place, _, subject = text.partition(":")
    role_name, _, place = role_and_place.partition("@")
    try:
        role = Role(role_name)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {role_name!r}; choose one of {known}") from None
    if role in SUBJECT_ROLES and not subject:
        raise ValueError(f"a {role} grant needs a subject: write {role}@PLACE:ID (or @*)")
    if role not in SUBJECT_ROLES and subject:
        raise ValueError(f"a {role} grant takes no subject (only provider and department do)")
    return Grant(role, place or EVERY_PLACE, subject)


def explicit_grant(text: str) -> Grant:
    """A grant that says its place: `role@PLACE[:subject]`, or `role@*[:subject]` for every
    place, so nobody is given every place by leaving the place out."""
    if "@" not in text.partition(":")[0]:
        role, _, subject = text.partition(":")
        tail = f":{subject}" if subject else ""
        raise ValueError(
            f"grant {text!r} names no place: write {role}@PLACE{tail} for one place, "
            f"or {role}@*{tail} for every place"
        )
    return parse_grant(text)


def format_grant(grant: Grant) -> str:
    """`role@place[:subject]`; a national grant shows as `role@*[:subject]`."""
    subject = f":{grant.subject_id}" if grant.subject_id else ""
    return f"{grant.role}@{grant.place_id}{subject}"


# --- Tokens, command ids and request fingerprints -------------------------------------------


def new_token() -> str:
    """A random bearer token; only its hash is ever stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def command_event_id(principal_id: str, idempotency_key: str) -> uuid.UUID:
    """The command's event id: the same principal and key always name the same event, so a
    retried request is applied once downstream; keys of different principals never collide."""
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{principal_id}\n{idempotency_key}")


def request_fingerprint(method_path: str, body: Any) -> str:
    """A hash of what was asked: the same request always hashes the same, whatever the key order
    or white space of its JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method_path}\n{canonical}".encode()).hexdigest()


# --- Webhooks ---------------------------------------------------------------------------------

SIGNATURE_VERSION = "v1"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a receiver can refuse replays of old bodies."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_is_valid(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver runs: constant-time comparison of the expected and given signatures."""
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature)


def retry_delay_s(attempts_made: int, backoff_s: float, backoff_max_s: float) -> float:
    """Exponential back-off: backoff_s after the first failure, doubling, at most backoff_max_s."""
    return float(min(backoff_max_s, backoff_s * 2 ** max(attempts_made - 1, 0)))


# --- Read models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PotStreamChange:
    """An increment to one stream's row of the pot overview.

    `available_pence` mirrors the ledger's unreserved pot account of the stream: it moves by
    exactly what the ledger booked to that account (settlements in, reservations out, releases
    and recoveries back in, virements across), so it is never derived from the other figures.
    """

    place_id: str
    financial_year: str
    department_code: str
    funding_stream_code: str
    settled_pence: int = 0
    received_pence: int = 0
    reserved_pence: int = 0
    paid_pence: int = 0
    available_pence: int = 0


_POT_CHANGE_FIGURES = (
    "settled_pence",
    "received_pence",
    "reserved_pence",
    "paid_pence",
    "available_pence",
)


def combined(changes: Iterable[PotStreamChange]) -> list[PotStreamChange]:
    """One change per stream row, summing changes to the same row (so that one statement can
    apply them all)."""
    rows: dict[tuple[str, str, str, str], list[int]] = {}
    for change in changes:
        key = (
            change.place_id,
            change.financial_year,
            change.department_code,
            change.funding_stream_code,
        )
        totals = rows.setdefault(key, [0] * len(_POT_CHANGE_FIGURES))
        for index, name in enumerate(_POT_CHANGE_FIGURES):
            totals[index] += getattr(change, name)
    return [PotStreamChange(*key, *totals) for key, totals in rows.items()]


def settled(event: SettlementRecorded) -> list[PotStreamChange]:
    return [
        PotStreamChange(
            event.place_id,
            year.financial_year,
            event.department_code,
            event.funding_stream_code,
            settled_pence=year.amount_pence,
            available_pence=year.amount_pence,
        )
        for year in event.profile
    ]


def received(event: ReceiptRecorded) -> list[PotStreamChange]:
    return [
        PotStreamChange(
            event.place_id,
            event.financial_year,
            event.department_code,
            event.funding_stream_code,
            received_pence=event.amount_pence,
        )
    ]


def reserved(event: ReservationMade) -> list[PotStreamChange]:
    return [
        PotStreamChange(
            event.place_id,
            event.financial_year,
            share.department_code,
            share.funding_stream_code,
            reserved_pence=share.amount_pence,
            available_pence=-share.amount_pence,
        )
        for share in event.attribution
    ]


def released(
    place_id: str, financial_year: str, shares: Sequence[AttributionShare]
) -> list[PotStreamChange]:
    """A release: each stream's share leaves its reservation and is unreserved again, exactly
    as the ledger booked it (`ReservationReleased.attribution`)."""
    return [
        PotStreamChange(
            place_id,
            financial_year,
            share.department_code,
            share.funding_stream_code,
            reserved_pence=-share.amount_pence,
            available_pence=share.amount_pence,
        )
        for share in shares
    ]


def release_shares_of_older_ledger(
    reservation_mix: Sequence[AttributionShare], amount_pence: int
) -> list[AttributionShare]:
    """The fallback for a `ReservationReleased` of an older ledger, which did not say how the
    release was split: the reservation's own mix, pro rata. The ledger splits by what is still
    reserved per stream, so after a payment this may differ from its books by a few pence;
    `singlepot reconcile` reports any such difference. Events that carry their attribution
    never come here."""
    parts = split_pro_rata(amount_pence, [share.amount_pence for share in reservation_mix])
    return [
        AttributionShare(
            department_code=share.department_code,
            funding_stream_code=share.funding_stream_code,
            amount_pence=part,
        )
        for share, part in zip(reservation_mix, parts, strict=True)
        if part
    ]


def recovered(
    place_id: str, financial_year: str, shares: Iterable[tuple[str, str, int]]
) -> list[PotStreamChange]:
    """A recovery: the money is unreserved again in the streams that paid, as the ledger booked
    it. `paid_pence` stays what was paid; the recovery shows in the department feeds."""
    return [
        PotStreamChange(place_id, financial_year, department, stream, available_pence=pence)
        for department, stream, pence in shares
    ]


def vired(event: VirementRecorded) -> list[PotStreamChange]:
    """A virement: each department's share leaves the source stream and arrives in the target
    stream, unreserved, as the ledger booked it. An older ledger's event has no shares and
    changes nothing here; `singlepot reconcile` reports the streams it moved."""
    changes = []
    for share in event.attribution or ():
        for stream, sign in (
            (event.from_funding_stream_code, -1),
            (event.to_funding_stream_code, 1),
        ):
            changes.append(
                PotStreamChange(
                    event.place_id,
                    event.financial_year,
                    share.department_code,
                    stream,
                    available_pence=sign * share.amount_pence,
                )
            )
    return changes


def spent(event: SpendRecorded) -> list[PotStreamChange]:
    return [
        PotStreamChange(
            event.place_id,
            event.financial_year,
            share.department_code,
            share.funding_stream_code,
            paid_pence=share.amount_pence,
        )
        for share in event.attribution
    ]


def split_pro_rata(amount: int, weights: Sequence[int]) -> list[int]:
    """Split `amount` in proportion to `weights` with the largest-remainder method: the parts
    always add up to `amount` exactly."""
    total = sum(weights)
    if total <= 0:
        return [amount] + [0] * (len(weights) - 1) if weights else []
    floors = [amount * weight // total for weight in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for index in remainders[: amount - sum(floors)]:
        floors[index] += 1
    return floors


POT_FIELDS = ("settled_pence", "received_pence", "reserved_pence", "paid_pence", "available_pence")


def pot_overview(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Per stream: settled, received, reserved, paid and available (the ledger's unreserved
    pot, as each row carries it)."""
    streams = [dict(row) for row in rows]
    totals = {name: sum(stream[name] for stream in streams) for name in POT_FIELDS}
    return {"streams": streams, "totals": totals}


@dataclass(frozen=True)
class DepartmentSpend:
    """What one department sees of a spend event: its own shares only."""

    department_code: str
    amount_pence: int
    record: dict[str, Any] = field(default_factory=dict)


def department_views(event: SpendRecorded) -> list[DepartmentSpend]:
    """One view per department with a share in the spend, carrying only that department's
    shares, so no department learns another's figures."""
    views = []
    for department in sorted({share.department_code for share in event.attribution}):
        shares = [share for share in event.attribution if share.department_code == department]
        own_pence = sum(share.amount_pence for share in shares)
        record = event.model_dump(mode="json", exclude={"attribution"})
        record.update(
            department_code=department,
            department_amount_pence=own_pence,
            attribution=[share.model_dump(mode="json") for share in shares],
        )
        views.append(DepartmentSpend(department, own_pence, record))
    return views


# --- The board page -----------------------------------------------------------------------------


def recused_members(
    decision: Mapping[str, Any] | None,
    interests: Iterable[Mapping[str, Any]],
    allocation: Mapping[str, Any],
) -> list[str]:
    """Who is recused from an allocation: as its decision recorded it, else (before the vote
    closes) whoever declared an interest in the allocation or in its recipient."""
    if decision is not None:
        return list(decision["recused"])
    return sorted(
        {
            interest["member_id"]
            for interest in interests
            if interest["allocation_id"] == allocation["allocation_id"]
            or (interest["recipient_id"] and interest["recipient_id"] == allocation["recipient_id"])
        }
    )


def sign_off_state(needed: bool | None, sign_off: Mapping[str, Any] | None) -> dict[str, Any]:
    """The accounting officer's part: not known until approval (None), not needed, awaiting,
    or what they decided (signed_off / refused, with reasons)."""
    if sign_off is not None:
        return {
            "needed": True,
            "state": sign_off["state"],
            "accounting_officer_id": sign_off["accounting_officer_id"],
            "reasons": sign_off["reasons"],
            "decided_at": sign_off.get("decided_at"),
        }
    state = None if needed is None else ("awaiting" if needed else "not_needed")
    return {
        "needed": needed,
        "state": state,
        "accounting_officer_id": None,
        "reasons": None,
        "decided_at": None,
    }


def earmark_check(refusals: Sequence[Mapping[str, Any]], has_earmarks: bool) -> dict[str, Any]:
    """Failed (with the latest breach's message) when a refusal broke an earmark rule; passed
    when the place has earmarks and none was broken; else not applicable."""
    failed = [row for row in refusals if str(row["rule"]).startswith("earmark")]
    if failed:
        return {"state": "failed", "message": failed[-1]["message"]}
    if has_earmarks:
        return {"state": "passed", "message": None}
    return {"state": "not_applicable", "message": None}


# --- Recoveries as negative spend ---------------------------------------------------------------


def recovery_attribution(
    amount_pence: int, payment_attribution: Sequence[dict[str, Any]]
) -> list[tuple[str, str, int]]:
    """(department, stream, pence) shares of a recovery, by the ledger's own rule
    (`services.ledger.domain.attribute`): pro rata to the payment's shares, largest remainder,
    ties to (department_code, funding_stream_code) ascending, zero shares left out. The same
    rule on the same shares gives the ledger's figures to the penny."""
    mix = sorted(
        (
            str(share["department_code"]),
            str(share["funding_stream_code"]),
            int(share["amount_pence"]),
        )
        for share in payment_attribution
    )
    # split_pro_rata breaks ties by position: sorted by (department, stream), as the ledger does.
    parts = split_pro_rata(amount_pence, [pence for _, _, pence in mix])
    return [
        (department, stream, part)
        for (department, stream, _), part in zip(mix, parts, strict=True)
        if part > 0
    ]


def recovery_booking(
    event: RecoveryRecorded, payment: Mapping[str, Any] | None
) -> tuple[list[tuple[str, str, int]], str | None]:
    """(department, stream, pence) shares of a recovery and the year it was booked in.

    The ledger's own shares and year where its event carries them. Events of older ledgers do
    not: they get the ledger's rule applied here to the recovered payment's shares, and the
    payment's year (or the next when that one is closed) — nothing at all when the gateway
    never saw the payment."""
    if event.attribution is not None and event.financial_year is not None:
        shares = [
            (s.department_code, s.funding_stream_code, s.amount_pence) for s in event.attribution
        ]
        return shares, event.financial_year
    if payment is None:
        return [], None
    if event.attribution is not None:
        shares = [
            (s.department_code, s.funding_stream_code, s.amount_pence) for s in event.attribution
        ]
    else:
        shares = recovery_attribution(event.amount_pence, payment["attribution"])
    year = event.financial_year or payment["financial_year"]
    if event.financial_year is None and year and payment["year_closed"]:
        year = next_financial_year(year)  # the ledger books it in the next, open, year
    return shares, year


def recovery_views(
    event: RecoveryRecorded, payment: dict[str, Any], recovered_at: datetime
) -> list[tuple[str, int, dict[str, Any]]]:
    """(department, pence, record) per department with a share in the recovered payment: the
    recovery as negative spend, carrying only that department's shares, shaped like its spend
    records with `kind: "recovery"`. Never the clawback's free-text reason."""
    shares, year = recovery_booking(event, payment)
    common = {
        "kind": "recovery",
        "place_id": event.place_id,
        "spend_id": f"recovery/{event.transfer_id}",
        "recovery_id": event.recovery_id,
        "payment_id": event.payment_id,
        "allocation_id": payment["allocation_id"],
        "provider_id": payment["provider_id"],
        "contract_id": payment["contract_id"],
        "payment_kind": payment["payment_kind"],
        "purpose": f"recovery {event.recovery_id} of payment {event.payment_id}",
        "financial_year": year,
        "amount_pence": -event.amount_pence,
        "transfer_id": event.transfer_id,
        "recovered_at": recovered_at.isoformat(),
    }
    views = []
    for department in sorted({department for department, _, _ in shares}):
        own = [(stream, pence) for code, stream, pence in shares if code == department]
        own_pence = -sum(pence for _, pence in own)
        record = {
            **common,
            "department_code": department,
            "department_amount_pence": own_pence,
            "attribution": [
                {
                    "department_code": department,
                    "funding_stream_code": stream,
                    "amount_pence": -pence,
                }
                for stream, pence in own
            ],
        }
        views.append((department, own_pence, record))
    return views
