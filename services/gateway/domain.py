"""The gateway's shared vocabulary, pure: who may do what (roles, permissions, grants, the
principal), tokens, command ids and request fingerprints. Every room reads it. No I/O here."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
    # A member of the place's Local Public Audit Committee (services/gateway/citizens): the
    # auditor's read access for the place, and the committee's own actions.
    AUDIT_COMMITTEE = "audit_committee"


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
    # The finance director's approvals of the returns (the payments notices), resolving
    # agreement-of-balances disputes, and the partner returns' narratives and risk shares.
    APPROVE_RETURNS = "returns.approve"
    # A department reads its agreement-of-balances statement and confirms or disputes each line.
    AGREE_BALANCES = "returns.agree_balances"
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
    # Citizens in the loop (services/gateway/citizens): the panel's members, meetings and
    # questions (kept by finance staff and the chair), and the board's answers to them.
    MANAGE_PANEL = "citizens.manage_panel"
    ANSWER_PANEL = "citizens.answer_panel"
    # A resident (a public grant, issued by the place's verified-resident mechanism) starts and
    # supports scrutiny triggers.
    PETITION = "citizens.petition"
    # Referring a matter to the audit committee (the public and councillors), and the
    # committee's own work: members, taking referrals up, adopting reports, completions.
    REFER_TO_COMMITTEE = "committee.refer"
    ACT_AS_COMMITTEE = "committee.act"
    # Participatory budgeting rounds: finance staff and the chair open and count them, and
    # moderate residents' proposals (for the panel); residents propose and vote.
    RUN_ROUNDS = "citizens.run_rounds"
    MODERATE_PROPOSALS = "citizens.moderate_proposals"
    TAKE_PART = "citizens.take_part"


P = Permission
CLAIM_REVIEWS: Mapping[str, Permission] = {
    "programme": P.APPROVE_CLAIM_PROGRAMME,
    "finance": P.APPROVE_CLAIM_FINANCE,
}
"""A grant claim's reviews in order, with the action each needs: programme staff approve it
(or return it), then finance. Each is a route of its own in the API and on the pages."""
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
_BOARD = _PLACE_READS | {
    P.READ_SPEND,
    P.PROPOSE_ALLOCATION,
    P.VOTE,
    P.DECLARE_INTEREST,
    P.REFER_TO_COMMITTEE,
}
_AUDITOR_READS = _PLACE_READS | {
    P.READ_SPEND,
    P.READ_EVIDENCE,
    P.READ_DEPARTMENT_SPEND,
    P.READ_AUDIT,
    P.READ_BALANCES,
    P.READ_RETURNS,
    P.READ_MONITORING,
}

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
        P.APPROVE_RETURNS,
        P.READ_MONITORING,
        P.SET_MONITORING,
        P.APPROVE_CLAIM_FINANCE,
        P.RECORD_DUE_DILIGENCE,
        P.MANAGE_PANEL,
        P.RUN_ROUNDS,
        P.MODERATE_PROPOSALS,
    },
    Role.BOARD_MEMBER: _BOARD,
    Role.CHAIR: _BOARD
    | {
        P.MANAGE_BOARD,
        P.CLOSE_VOTE,
        P.DECIDE_ALLOCATION,
        P.CANCEL_ALLOCATION,
        P.RESPOND_TO_CLAIM,
        P.MANAGE_PANEL,
        P.ANSWER_PANEL,
        P.RUN_ROUNDS,
        P.MODERATE_PROPOSALS,
    },
    Role.ACCOUNTING_OFFICER: _PLACE_READS
    | {
        P.READ_SPEND,
        P.DECIDE_ALLOCATION,
        P.SIGN_OFF_ALLOCATION,
        P.CANCEL_ALLOCATION,
        P.READ_MONITORING,
        P.OVERRIDE_RED_RATING,
        P.ANSWER_PANEL,
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
    Role.DEPARTMENT: frozenset({P.READ_DEPARTMENT_SPEND, P.MANAGE_WEBHOOKS, P.AGREE_BALANCES}),
    Role.AUDITOR: _AUDITOR_READS,
    Role.AUDIT_COMMITTEE: _AUDITOR_READS | {P.REFER_TO_COMMITTEE, P.ACT_AS_COMMITTEE},
    Role.PROGRAMME: _PLACE_READS
    | {
        P.READ_MONITORING,
        P.SET_MONITORING,
        P.REVIEW_GRANT_REPORT,
        P.APPROVE_CLAIM_PROGRAMME,
        P.RECORD_DUE_DILIGENCE,
    },
    Role.PUBLIC: frozenset(
        {P.READ_POT, P.READ_ALLOCATIONS, P.PETITION, P.REFER_TO_COMMITTEE, P.TAKE_PART}
    ),
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
