"""The ledger's pure rules: accounts, double-entry transfers, and the book of one place.

No I/O here. A `PlaceBook` holds what the ledger knows of one place (balances, closed years,
reservations, payments, used ids, the hash chain's head). `decide` applies one request to a
book and returns a `Decision`: the transfers posted and the events to answer with. A rejection
is a decision too: no transfers, and an event whose reason a person can act on.

The database layer loads into a book only what a batch of requests needs; the tests load a
whole book in memory. The same `decide` runs in both.
"""

from __future__ import annotations

import hashlib
import json
from bisect import insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple
from uuid import UUID, SafeUUID

import pydantic_core

from contracts import (
    AttributionShare,
    ClosePeriod,
    Event,
    PaymentMade,
    PaymentRejected,
    PaymentRequested,
    PeriodClosed,
    ReceiptRecorded,
    RecordReceipt,
    RecordSettlement,
    RecoveryRaised,
    RecoveryRecorded,
    ReservationMade,
    ReservationRejected,
    ReservationReleased,
    ReservationReleaseRequested,
    ReservationRequested,
    SettlementRecorded,
    SpendRecorded,
    TransferPosted,
    VirementRecorded,
    VirementRequested,
)
from contracts.decisions import CommandRefused
from contracts.ledger import (
    FundingStream,
    IatiTransactionType,
    PayerShare,
    ReservationTransferred,
    ReservationTransferRequested,
)
from contracts.money import PENCE_MAX, format_pounds
from contracts.risk_share import ApplyRiskShare, RiskShareApplied, RiskSharePartner, StreamMove
from contracts.spend import RecoveredShare, SpendRecovered
from contracts.trusted import trusted
from contracts.values import TEXT_LENGTH_MAX, next_financial_year
from services.ledger.errors import LedgerRejection

GENESIS_HASH = "0" * 64
TRANSFER_NAMESPACE = UUID("5b0f2a4e-7d1c-4c55-9a57-1e0f3d6c2b81")
_TRANSFER_NAMESPACE_BYTES = TRANSFER_NAMESPACE.bytes
_VARIANT_NIBBLE = "89ab89ab89ab89ab"  # RFC 4122 variant bits "10xx", indexed by the old nibble

# IATI transaction types (DOMAIN.md §3). A release is a negative outgoing commitment, a
# recovery is money coming back in, a virement re-commits money to another stream.
IATI_INCOMING_FUNDS: IatiTransactionType = 1
IATI_OUTGOING_COMMITMENT: IatiTransactionType = 2
IATI_DISBURSEMENT: IatiTransactionType = 3
IATI_INCOMING_COMMITMENT: IatiTransactionType = 11


# --- Accounts ---------------------------------------------------------------------------------
# Balances are credit-positive (credits minus debits), per place, financial year and account.


def pot_account(department_code: str, funding_stream_code: str) -> str:
    """The unreserved money of one department's funding stream in the place's pot."""
    return f"pot:{department_code}:{funding_stream_code}"


def settlement_account(department_code: str, funding_stream_code: str) -> str:
    """What a department has committed to the place and not yet paid in (a receivable)."""
    return f"settlement:{department_code}:{funding_stream_code}"


def received_account(department_code: str, funding_stream_code: str) -> str:
    """Money a department has actually paid in (debit-positive: the place's cash)."""
    return f"received:{department_code}:{funding_stream_code}"


def commitment_account(allocation_id: str, department_code: str, funding_stream_code: str) -> str:
    """Money reserved for one allocation, per department stream it came from."""
    return f"commitment:{allocation_id}:{department_code}:{funding_stream_code}"


def provider_account(provider_id: str) -> str:
    """What has been paid to a provider, less what was recovered from it."""
    return f"provider:{provider_id}"


def payer_account(payer_id: str) -> str:
    """Memorandum: what an outcome payer funded of the payments (debit-positive), less what was
    recovered; balanced by `PAYERS_FUNDED`. The money itself moves on the stream accounts."""
    return f"payer:{payer_id}"


PAYERS_FUNDED = "payers:funded"
"""Memorandum: the other side of every payer's account, so a payment's payer legs balance."""


def payer_accounts(payer_shares: Sequence[PayerShare]) -> list[str]:
    """The accounts a payment's or a recovery's payer legs touch (the ledger loads them)."""
    return (
        [*(payer_account(s.payer_id) for s in payer_shares), PAYERS_FUNDED] if payer_shares else []
    )


def payer_legs(payer_shares: Sequence[PayerShare], paid: bool) -> list[Leg]:
    """The memorandum legs that book a payment's (paid) or a recovery's split by outcome payer:
    each payer's account debited with its share (credited back on a recovery), the payers'
    control account the other way. None when the request names no payers."""
    if not payer_shares:
        return []
    payer_side: Literal["debit", "credit"] = "debit" if paid else "credit"
    control_side: Literal["debit", "credit"] = "credit" if paid else "debit"
    legs = [
        Leg(payer_account(s.payer_id), payer_side, s.amount_pence)
        for s in payer_shares
        if s.amount_pence
    ]
    total = sum(s.amount_pence for s in payer_shares)
    return [*legs, Leg(PAYERS_FUNDED, control_side, total)] if total else []


def stream_of(account: str) -> tuple[str | None, str | None]:
    """(department_code, funding_stream_code) of a stream-specific account, else (None, None)."""
    parts = account.split(":")
    if parts[0] in ("pot", "settlement", "received", "commitment"):
        return parts[-2], parts[-1]
    return None, None


def _group_of(account: str) -> str:
    """The group an account's shares are read by: "pot:", "commitment:{allocation}:", ..."""
    if account.startswith("commitment:"):
        return account[: account.index(":", len("commitment:")) + 1]
    return account[: account.index(":") + 1]


def account_columns(account: str) -> tuple[str | None, str | None, str | None, bool]:
    """What the balances table keeps beside an account's name, read in one pass: its
    department and stream (`stream_of`), its allocation for a commitment, and whether it
    must never go negative (`must_not_go_negative`)."""
    parts = account.split(":")
    kind = parts[0]
    if kind == "commitment":
        return parts[-2], parts[-1], parts[1], True
    if kind == "pot":
        return parts[-2], parts[-1], None, True
    if kind in ("settlement", "received"):
        return parts[-2], parts[-1], None, False
    return None, None, None, False


def must_not_go_negative(account: str) -> bool:
    """The pot and every commitment can never be overdrawn (ARCHITECTURE.md §4, invariant 2)."""
    return account.startswith(("pot:", "commitment:"))


# --- Values -----------------------------------------------------------------------------------


# The small values a request makes by the dozen (legs, stream shares, tags, answer records)
# are named tuples: immutable like frozen dataclasses, and built in a third of the time
# (bench/NOTES.md, "Seventh pass").


class Leg(NamedTuple):
    """One side of a transfer."""

    account: str
    direction: Literal["debit", "credit"]
    amount_pence: int

    @property
    def signed_pence(self) -> int:
        """Effect on the credit-positive balance."""
        return self.amount_pence if self.direction == "credit" else -self.amount_pence


class StreamShare(NamedTuple):
    """How much of an amount came from one department's funding stream."""

    department_code: str
    funding_stream_code: str
    amount_pence: int


@dataclass(frozen=True)
class Transfer:
    """A posted, balanced transfer, linked into its place's hash chain."""

    place_id: str
    sequence: int
    transfer_id: str
    request_event_id: UUID
    financial_year: str
    iati_transaction_type: IatiTransactionType
    department_code: str | None
    funding_stream_code: str | None
    allocation_id: str | None
    contract_id: str | None
    claim_id: str | None
    description: str
    legs: tuple[Leg, ...]
    previous_hash: str
    chain_hash: str

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Transfer:
        """The transfer holding `fields`, every field in order, without the frozen
        dataclass's `__init__`, which sets them one by one (a profile showed it); the same
        object. A test compares it with `Transfer(**fields)`."""
        assert list(fields) == _TRANSFER_FIELDS, f"a transfer's fields in order: {list(fields)}"
        transfer = _new_object(cls)
        _set_attribute(transfer, "__dict__", fields)
        return transfer


_TRANSFER_FIELDS = [name for name in Transfer.__dataclass_fields__]
_new_object = object.__new__
_set_attribute = object.__setattr__  # values here are immutable


class Tags(NamedTuple):
    """What a transfer is about, besides its legs."""

    description: str
    department_code: str | None = None
    funding_stream_code: str | None = None
    allocation_id: str | None = None
    contract_id: str | None = None
    claim_id: str | None = None


@dataclass
class PaymentRecord:
    """A payment the ledger made, kept so that it can be recovered from (and only once)."""

    allocation_id: str
    provider_id: str
    financial_year: str
    amount_pence: int
    attribution: tuple[StreamShare, ...]
    recovered_pence: int = 0
    # What a recovery repeats on the spend topic (absent for payments made before they were kept).
    contract_id: str | None = None
    payment_kind: str | None = None


class RequestRecord(NamedTuple):
    """What the ledger answered to one request id, to answer a repeat the same way."""

    body_hash: str
    answer_event_ids: tuple[UUID, ...]


class Payload(NamedTuple):
    """An answer given as its JSON-ready payload instead of as a model: how the answers nearly
    every request gives (TransferPosted, ReservationMade, PaymentMade, SpendRecorded) are
    built, since building thousands of models per batch only to dump them again was a large
    part of `decide` (bench/NOTES.md, "Sixth pass"). `payload` is exactly what the event's
    `model_dump(mode="json")` gives, field order included, from values `decide` has checked;
    tests/unit/ledger compares it with the validated model's, byte for byte."""

    event_class: type[Event]
    payload: dict[str, Any]

    @property
    def event_type(self) -> str:
        return self.event_class.event_type

    def partition_key(self) -> str:
        # Every class answered this way is keyed by its place (a unit test checks).
        place_id: str = self.payload["place_id"]
        return place_id

    def event(self) -> Event:
        """The answer as its event model, validated: for tests and readers off the hot path."""
        return self.event_class.model_validate(self.payload)


@dataclass
class Decision:
    """The outcome of one request: transfers posted and events to answer with, in order."""

    request_event_id: UUID
    transfers: list[Transfer] = field(default_factory=list)
    # Each answer is an event model, or (on the hot path) its payload.
    answers: list[Event | Payload] = field(default_factory=list)
    # Set when the request id was seen before: the ids of the original answer to resend.
    replay_of: RequestRecord | None = None
    conflict: bool = False
    _answer_ids: list[UUID] = field(default_factory=list, repr=False)
    _answer_id_texts: list[str] = field(default_factory=list, repr=False)

    @property
    def events(self) -> list[Event]:
        """The answers as event models (payloads validated): not for the hot path."""
        return [
            answer.event() if isinstance(answer, Payload) else answer for answer in self.answers
        ]

    def answer_ids(self) -> list[UUID]:
        """Deterministic ids of this decision's answers: a resend has the same ids."""
        count = len(self.answers)
        if len(self._answer_ids) != count:
            namespace = self.request_event_id.bytes  # once, not once per answer
            named = [_name_based_id(namespace, b"answer/%d" % index) for index in range(count)]
            self._answer_ids = [uuid for uuid, _ in named]
            self._answer_id_texts = [text for _, text in named]
        return self._answer_ids

    def answer_id_texts(self) -> list[str]:
        """`str()` of each of `answer_ids()`, made with them rather than from them."""
        self.answer_ids()
        return self._answer_id_texts


@dataclass
class PlaceBook:
    """Everything the ledger knows of one place that a request may need.

    `changed_balances`, `new_payments` and the like record what changed since the book was
    loaded, so the database layer writes only that.
    """

    place_id: str
    sequence: int = 0
    head_hash: str = GENESIS_HASH
    balances: dict[tuple[str, str], int] = field(default_factory=dict)
    closed_years: set[str] = field(default_factory=set)
    reservations: dict[str, str] = field(default_factory=dict)  # allocation_id -> year
    payments: dict[str, PaymentRecord] = field(default_factory=dict)
    settlements: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> dept, stream
    used_ids: set[str] = field(default_factory=set)  # "receipt:R1", "virement:V1", ...
    requests: dict[UUID, RequestRecord] = field(default_factory=dict)
    changed_balances: set[tuple[str, str]] = field(default_factory=set)
    new_reservations: dict[str, str] = field(default_factory=dict)
    new_settlements: dict[str, tuple[str, str]] = field(default_factory=dict)
    changed_payments: set[str] = field(default_factory=set)
    new_used_ids: set[str] = field(default_factory=set)
    new_closed_years: set[str] = field(default_factory=set)
    new_requests: dict[UUID, RequestRecord] = field(default_factory=dict)
    # The balances and payments the database held when the book was loaded: one changed but
    # not among these is new, and the database layer inserts it instead of upserting it.
    stored_balances: set[tuple[str, str]] = field(default_factory=set, repr=False)
    stored_payments: set[str] = field(default_factory=set, repr=False)
    # (year, group) -> (department, stream, account) of the group's stream accounts, kept in
    # (department, stream) order, where a group is "pot:", "commitment:{allocation}:",
    # "settlement:" or "received:": `shares` reads them without parsing or sorting.
    _groups: dict[tuple[str, str], list[tuple[str, str, str]]] = field(
        default_factory=dict, repr=False
    )

    def balance(self, financial_year: str, account: str) -> int:
        return self.balances.get((financial_year, account), 0)

    def set_balance(self, financial_year: str, account: str, balance_pence: int) -> None:
        """Set a balance, keeping the index that `shares` reads."""
        key = (financial_year, account)
        if key not in self.balances:
            self._index(financial_year, account)
        self.balances[key] = balance_pence

    def _index(self, financial_year: str, account: str) -> None:
        department_code, funding_stream_code = stream_of(account)
        if department_code is not None and funding_stream_code is not None:
            group = self._groups.setdefault((financial_year, _group_of(account)), [])
            insort(group, (department_code, funding_stream_code, account))

    def apply(self, financial_year: str, legs: Sequence[Leg], signed: Sequence[int]) -> None:
        """Add a posted transfer's legs (`signed`: each one's effect) to their balances."""
        balances, changed = self.balances, self.changed_balances
        for leg, signed_pence in zip(legs, signed, strict=True):
            key = (financial_year, leg.account)
            before = balances.get(key)
            if before is None:
                self._index(financial_year, leg.account)
                before = 0
            after = balances[key] = before + signed_pence
            assert after >= 0 or not must_not_go_negative(leg.account), (
                f"{leg.account} would go negative; rules are checked before posting"
            )
            changed.add(key)

    def shares(self, financial_year: str, prefix: str) -> list[StreamShare]:
        """The positive balances of a group of stream accounts (`"pot:"` or
        `"commitment:{allocation}:"`), as stream shares in (department, stream) order so that
        attribution is deterministic."""
        balances = self.balances
        found = []
        for department_code, funding_stream_code, account in self._groups.get(
            (financial_year, prefix), ()
        ):
            balance = balances[(financial_year, account)]
            if balance > 0:
                found.append(StreamShare(department_code, funding_stream_code, balance))
        return found

    def group_balance(self, financial_year: str, prefix: str) -> int:
        """The sum of a group's balances (`"settlement:"`, `"received:"`) in one year."""
        entries = self._groups.get((financial_year, prefix), ())
        return sum(self.balances[(financial_year, account)] for _, _, account in entries)

    def settled_pence(self, financial_year: str, stream: tuple[str, str] | None = None) -> int:
        """Money settled into the pot for a year: of one (department, stream), or of all.

        A settlement debits the settlement account and a receipt moves that debit to the
        received account, so the two together hold everything ever settled."""
        if stream is None:
            both = self.group_balance(financial_year, "settlement:")
            both += self.group_balance(financial_year, "received:")
            return -both
        return -(
            self.balance(financial_year, settlement_account(*stream))
            + self.balance(financial_year, received_account(*stream))
        )

    def use_id(self, used_id: str) -> None:
        self.used_ids.add(used_id)
        self.new_used_ids.add(used_id)


# --- Attribution ------------------------------------------------------------------------------


def attribute(amount_pence: int, mix: Sequence[StreamShare]) -> list[StreamShare]:
    """Split `amount_pence` pro rata over `mix`, exactly, to the penny.

    Rounding rule (largest remainder): each share first gets the floor of its exact pro-rata
    amount; the pennies left over go one each to the shares with the largest remainders, ties
    broken by (department_code, funding_stream_code) ascending. The result always adds up to
    `amount_pence` and is the same on every run. Shares that round to zero are left out.
    """
    basis = sum(share.amount_pence for share in mix)
    if amount_pence == 0 or basis <= 0:
        return []
    floors = []
    remainders = []
    for share in mix:
        floor, remainder = divmod(amount_pence * share.amount_pence, basis)
        floors.append(floor)
        remainders.append(remainder)
    left_over = amount_pence - sum(floors)
    if left_over:
        order = sorted(
            range(len(mix)),
            key=lambda i: (-remainders[i], mix[i].department_code, mix[i].funding_stream_code),
        )
        for index in order[:left_over]:
            floors[index] += 1
    return [
        StreamShare(share.department_code, share.funding_stream_code, amount)
        for share, amount in zip(mix, floors, strict=True)
        if amount > 0
    ]


def attribution_payload(shares: Iterable[StreamShare]) -> list[dict[str, Any]]:
    """`attribution_of` as its JSON payload, for answers built as payloads."""
    return [
        {
            "department_code": share.department_code,
            "funding_stream_code": share.funding_stream_code,
            "amount_pence": share.amount_pence,
        }
        for share in shares
    ]


def attribution_of(shares: Iterable[StreamShare]) -> tuple[AttributionShare, ...]:
    # Not validated again: `attribute` gives positive shares of known streams that add up.
    return tuple(
        trusted(
            AttributionShare,
            {
                "department_code": share.department_code,
                "funding_stream_code": share.funding_stream_code,
                "amount_pence": share.amount_pence,
            },
        )
        for share in shares
    )


# --- The hash chain ---------------------------------------------------------------------------


def transfer_body(transfer: Transfer) -> dict[str, object]:
    """Every stored field of a transfer except its own hash: what the chain covers."""
    return {
        "place_id": transfer.place_id,
        "sequence": transfer.sequence,
        "transfer_id": transfer.transfer_id,
        "request_event_id": str(transfer.request_event_id),
        "financial_year": transfer.financial_year,
        "iati_transaction_type": transfer.iati_transaction_type,
        "department_code": transfer.department_code,
        "funding_stream_code": transfer.funding_stream_code,
        "allocation_id": transfer.allocation_id,
        "contract_id": transfer.contract_id,
        "claim_id": transfer.claim_id,
        "description": transfer.description,
        "legs": [
            {"account": leg.account, "direction": leg.direction, "amount_pence": leg.amount_pence}
            for leg in transfer.legs
        ],
        "previous_hash": transfer.previous_hash,
    }


def chain_hash(body: dict[str, object]) -> str:
    """SHA-256 of the transfer body's canonical JSON (sorted keys, no spaces, UTF-8).

    The body includes the previous link's hash, so changing any stored transfer changes every
    later hash. docs in README.md show an auditor how to recompute it independently.
    """
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def transfer_hash(fields: Mapping[str, Any]) -> str:
    """`chain_hash(transfer_body(...))` for a transfer's fields, spelled out for speed.

    The same canonical JSON, byte for byte: the keys are laid out here already sorted (as
    `sort_keys` would), and pydantic-core writes compact UTF-8 JSON with the same escapes as
    `json.dumps(..., ensure_ascii=False)`, in about a third of the time (a profile showed the
    hashing). tests/unit/ledger checks the two against each other on arbitrary text.
    """
    canonical = pydantic_core.to_json(
        {
            "allocation_id": fields["allocation_id"],
            "claim_id": fields["claim_id"],
            "contract_id": fields["contract_id"],
            "department_code": fields["department_code"],
            "description": fields["description"],
            "financial_year": fields["financial_year"],
            "funding_stream_code": fields["funding_stream_code"],
            "iati_transaction_type": fields["iati_transaction_type"],
            "legs": [
                {
                    "account": leg.account,
                    "amount_pence": leg.amount_pence,
                    "direction": leg.direction,
                }
                for leg in fields["legs"]
            ],
            "place_id": fields["place_id"],
            "previous_hash": fields["previous_hash"],
            "request_event_id": str(fields["request_event_id"]),
            "sequence": fields["sequence"],
            "transfer_id": fields["transfer_id"],
        }
    )
    return hashlib.sha256(canonical).hexdigest()


# Fields added to requests after requests were first answered: left out of the fingerprint when
# empty, so that a resend of a request answered before they existed is still a resend.
_HASHED_ONLY_WHEN_SET = ("eligible_streams", "excluded_streams", "payer_shares")


def request_body_hash(event: Event) -> str:
    """A fingerprint of a request's content, to tell a resend from a reused id: SHA-256 of
    `json.dumps(body, sort_keys=True, separators=(",", ":"))`, which answered requests stored.

    pydantic-core writes the same bytes faster when they are all ASCII (its escapes match
    `json`'s, but it cannot escape non-ASCII as `json`'s default `ensure_ascii` does, and it
    writes DEL, U+007F, raw where `json` escapes it), so the rare body with non-ASCII text or a
    DEL takes `json.dumps`. tests/unit/ledger checks both ways.
    """
    flat = _flat_body(event)
    if flat is not None:
        canonical = pydantic_core.to_json(flat)
        if canonical.isascii() and b"\x7f" not in canonical:
            return hashlib.sha256(canonical).hexdigest()
    body = event.model_dump(mode="json")
    for name in _HASHED_ONLY_WHEN_SET:
        if body.get(name) == []:
            del body[name]
    canonical = pydantic_core.to_json(_keys_sorted(body))
    if not canonical.isascii() or b"\x7f" in canonical:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


_PLAIN_JSON_TYPES = frozenset({str, int, bool, type(None)})
_SORTED_FIELD_NAMES: dict[type[Event], tuple[str, ...]] = {}


def _flat_body(event: Event) -> dict[str, Any] | None:
    """The body `request_body_hash` fingerprints, read straight from the model's fields in
    sorted order, when each is a str, an int, a bool or None (or an empty list left out):
    what dumping the model to JSON-ready values and sorting its keys give, without either
    (the usual reservation and payment). None when a field holds anything else."""
    names = _SORTED_FIELD_NAMES.get(type(event))
    if names is None:
        names = _SORTED_FIELD_NAMES[type(event)] = tuple(sorted(type(event).model_fields))
    values = event.__dict__
    body: dict[str, Any] = {}
    for name in names:
        value = values[name]
        if type(value) in _PLAIN_JSON_TYPES:
            body[name] = value
        elif not (value == () and name in _HASHED_ONLY_WHEN_SET):
            return None
    return body


def _keys_sorted(value: Any) -> Any:
    """`value` with every dict's keys in sorted order, as `sort_keys` writes them."""
    if isinstance(value, dict):
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_keys_sorted(item) for item in value]
    return value


# --- Posting ----------------------------------------------------------------------------------


def post(
    book: PlaceBook,
    decision: Decision,
    financial_year: str,
    legs: Sequence[Leg],
    iati_transaction_type: IatiTransactionType,
    tags: Tags,
) -> Transfer:
    """Link one balanced transfer into the book's chain and apply its legs to the balances."""
    assert len(legs) >= 2, "a transfer has at least two legs"
    # Each leg's effect on its credit-positive balance, worked out once for the checks and
    # the posting.
    signed = [leg.amount_pence if leg.direction == "credit" else -leg.amount_pence for leg in legs]
    assert sum(signed) == 0, f"unbalanced transfer: {legs}"
    assert financial_year not in book.closed_years, "closed years are checked before posting"
    _within_limit(book, financial_year, legs, signed)
    sequence = book.sequence + 1
    fields: dict[str, Any] = {
        "place_id": book.place_id,
        "sequence": sequence,
        "transfer_id": transfer_id_for(decision.request_event_id, sequence),
        "request_event_id": decision.request_event_id,
        "financial_year": financial_year,
        "iati_transaction_type": iati_transaction_type,
        "department_code": tags.department_code,
        "funding_stream_code": tags.funding_stream_code,
        "allocation_id": tags.allocation_id,
        "contract_id": tags.contract_id,
        "claim_id": tags.claim_id,
        "description": tags.description,
        "legs": tuple(legs),
        "previous_hash": book.head_hash,
    }
    # Hashed before the transfer is built, so that it is built once (no `replace`).
    fields["chain_hash"] = transfer_hash(fields)
    transfer = Transfer.of(fields)
    book.apply(financial_year, legs, signed)
    book.sequence, book.head_hash = sequence, transfer.chain_hash
    decision.transfers.append(transfer)
    decision.answers.append(transfer_posted(transfer))
    return transfer


def _within_limit(
    book: PlaceBook, financial_year: str, legs: Sequence[Leg], signed: Sequence[int]
) -> None:
    """Refuse a transfer that would take any balance beyond the money limit, so every
    balance stays exact in the database's 64-bit integers and in JSON. Only the first
    transfer of a request can meet this: a settlement checks all its years beforehand."""
    balances = book.balances
    for leg, signed_pence in zip(legs, signed, strict=True):
        after_pence = balances.get((financial_year, leg.account), 0) + signed_pence
        if abs(after_pence) > PENCE_MAX:
            raise LedgerRejection(
                f"{leg.account} in {financial_year} would hold {after_pence} pence, beyond the "
                f"limit of {PENCE_MAX} pence a balance may hold"
            )


def name_based_id(namespace: UUID, name: str) -> UUID:
    """`uuid5(namespace, name)`, in a fraction of the time: the same SHA-1 and version and
    variant bits, set on the hex digest rather than through `UUID(bytes=, version=)`.
    tests/unit/ledger checks it against `uuid5`."""
    return _name_based_id(namespace.bytes, name.encode())[0]


def _name_based_id(namespace: bytes, name: bytes) -> tuple[UUID, str]:
    """The version 5 UUID of `name` in `namespace` (bytes), and its text."""
    digest = hashlib.sha1(namespace + name, usedforsecurity=False).hexdigest()
    variant = _VARIANT_NIBBLE[int(digest[16], 16)]
    hex_digits = f"{digest[:12]}5{digest[13:16]}{variant}{digest[17:32]}"
    text = (
        f"{hex_digits[:8]}-{hex_digits[8:12]}-{hex_digits[12:16]}-"
        f"{hex_digits[16:20]}-{hex_digits[20:]}"
    )
    return _uuid_of(int(hex_digits, 16)), text


def _uuid_of(value: int) -> UUID:
    """`UUID(int=value)` for a value known to fit in 128 bits, without `UUID.__init__`'s
    argument checks (a profile showed them): the same two slots set, the same object."""
    uuid = _new_object(UUID)
    _set_attribute(uuid, "int", value)
    _set_attribute(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def transfer_id_for(request_event_id: UUID, sequence: int) -> str:
    """`str(uuid5(TRANSFER_NAMESPACE, f"{request_event_id}/{sequence}"))`, spelled out: the
    same SHA-1 and version and variant bits, without building two UUID objects per transfer
    (a profile showed it). tests/unit/ledger checks it against `uuid5`."""
    name = f"{request_event_id}/{sequence}".encode()
    digest = hashlib.sha1(_TRANSFER_NAMESPACE_BYTES + name, usedforsecurity=False).hexdigest()
    variant = _VARIANT_NIBBLE[int(digest[16], 16)]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


def transfer_posted(transfer: Transfer) -> Payload:
    """The TransferPosted answer, as its payload. Not validated again: `post` has checked the
    legs (at least two, positive amounts, balanced), the year and the sequence; the ids come
    from validated requests. The one field `post` does not bound is the description it
    composes from the request's text: a too-long one is validated, and refused, as before."""
    payload = {
        "place_id": transfer.place_id,
        "transfer_id": transfer.transfer_id,
        "financial_year": transfer.financial_year,
        "legs": [
            {"account": leg.account, "direction": leg.direction, "amount_pence": leg.amount_pence}
            for leg in transfer.legs
        ],
        "iati_transaction_type": transfer.iati_transaction_type,
        "department_code": transfer.department_code,
        "funding_stream_code": transfer.funding_stream_code,
        "allocation_id": transfer.allocation_id,
        "contract_id": transfer.contract_id,
        "claim_id": transfer.claim_id,
        "description": transfer.description,
        "sequence": transfer.sequence,
        "previous_hash": transfer.previous_hash,
        "chain_hash": transfer.chain_hash,
    }
    if len(transfer.description) > TEXT_LENGTH_MAX:
        TransferPosted.model_validate(payload)
    return Payload(TransferPosted, payload)


def _open_year(book: PlaceBook, financial_year: str) -> None:
    if financial_year in book.closed_years:
        raise LedgerRejection(
            f"financial year {financial_year} is closed for {book.place_id}: nothing may be "
            "posted into it; post corrections into an open year",
            rule="period_open",
        )


def _moves(
    shares: Sequence[StreamShare], debit: str, credit: str, allocation_id: str = ""
) -> list[Leg]:
    """Legs moving each share from one kind of stream account ("pot", "commitment") to the
    other."""
    legs = []
    for share in shares:
        legs.append(Leg(_stream_account(debit, share, allocation_id), "debit", share.amount_pence))
        legs.append(
            Leg(_stream_account(credit, share, allocation_id), "credit", share.amount_pence)
        )
    return legs


def _stream_account(kind: str, share: StreamShare, allocation_id: str) -> str:
    if kind == "pot":
        return pot_account(share.department_code, share.funding_stream_code)
    return commitment_account(allocation_id, share.department_code, share.funding_stream_code)


# --- The operations ---------------------------------------------------------------------------


def record_settlement(book: PlaceBook, decision: Decision, command: RecordSettlement) -> None:
    """One linked transfer per financial year of the profile: all post, or none."""
    if command.settlement_id in book.settlements:
        raise LedgerRejection(
            f"settlement {command.settlement_id} is already recorded for {book.place_id}",
            rule="posts_once",
        )
    for year in command.profile:
        _open_year(book, year.financial_year)
        _settled_within_limit(book, command, year.financial_year, year.amount_pence)
    department, stream = command.department_code, command.funding_stream_code
    transfer_ids = []
    for year in command.profile:
        legs = [
            Leg(settlement_account(department, stream), "debit", year.amount_pence),
            Leg(pot_account(department, stream), "credit", year.amount_pence),
        ]
        tags = Tags(
            f"settlement {command.settlement_id} ({command.spending_review_period})",
            department_code=department,
            funding_stream_code=stream,
        )
        transfer = post(book, decision, year.financial_year, legs, IATI_INCOMING_COMMITMENT, tags)
        transfer_ids.append(transfer.transfer_id)
    book.settlements[command.settlement_id] = book.new_settlements[command.settlement_id] = (
        department,
        stream,
    )
    decision.answers.append(
        SettlementRecorded(
            place_id=book.place_id,
            settlement_id=command.settlement_id,
            department_code=department,
            funding_stream_code=stream,
            spending_review_period=command.spending_review_period,
            profile=command.profile,
            transfer_id=transfer_ids[0],
        )
    )


def _settled_within_limit(
    book: PlaceBook, command: RecordSettlement, financial_year: str, amount_pence: int
) -> None:
    """A stream's and the whole pot's settled money in a year stay within the money limit."""
    stream = (command.department_code, command.funding_stream_code)
    totals = {
        f"{stream[0]} {stream[1]}'s": book.settled_pence(financial_year, stream),
        f"{book.place_id}'s pot": book.settled_pence(financial_year),
    }
    for what, settled_pence in totals.items():
        if settled_pence + amount_pence > PENCE_MAX:
            raise LedgerRejection(
                f"settlement {command.settlement_id} would take {what} money settled for "
                f"{financial_year} to {settled_pence + amount_pence} pence, over the limit of "
                f"{PENCE_MAX} pence (2^53 - 1) a stream or pot total may reach"
            )


def record_receipt(book: PlaceBook, decision: Decision, command: RecordReceipt) -> None:
    """Money paid in against a settlement; never more than is still owed for that year."""
    _unused(book, f"receipt:{command.receipt_id}", f"receipt {command.receipt_id}")
    department, stream = command.department_code, command.funding_stream_code
    if book.settlements.get(command.settlement_id) != (department, stream):
        raise LedgerRejection(
            f"receipt {command.receipt_id} names settlement {command.settlement_id}, which "
            f"{book.place_id}'s ledger has not recorded for {department} {stream}"
        )
    _open_year(book, command.financial_year)
    owed_pence = -book.balance(command.financial_year, settlement_account(department, stream))
    if command.amount_pence > owed_pence:
        raise LedgerRejection(
            f"receipt of {format_pounds(command.amount_pence)} for {department} {stream} "
            f"exceeds the {format_pounds(owed_pence)} still owed for {command.financial_year}",
            rule="receipt_within_owed",
            figures={"amount_pence": command.amount_pence, "owed_pence": owed_pence},
        )
    legs = [
        Leg(received_account(department, stream), "debit", command.amount_pence),
        Leg(settlement_account(department, stream), "credit", command.amount_pence),
    ]
    tags = Tags(
        f"receipt {command.receipt_id} against settlement {command.settlement_id}",
        department_code=department,
        funding_stream_code=stream,
    )
    transfer = post(book, decision, command.financial_year, legs, IATI_INCOMING_FUNDS, tags)
    book.use_id(f"receipt:{command.receipt_id}")
    decision.answers.append(
        ReceiptRecorded(
            place_id=book.place_id,
            receipt_id=command.receipt_id,
            settlement_id=command.settlement_id,
            department_code=department,
            funding_stream_code=stream,
            financial_year=command.financial_year,
            amount_pence=command.amount_pence,
            transfer_id=transfer.transfer_id,
        )
    )


def reserve(book: PlaceBook, decision: Decision, request: ReservationRequested) -> None:
    """Reserve from the pot in proportion to each stream's unreserved balance, or reject."""
    year = book.reservations.get(request.allocation_id, request.financial_year)
    if year != request.financial_year:
        raise LedgerRejection(
            f"allocation {request.allocation_id} is reserved in {year}, not "
            f"{request.financial_year}; one allocation draws on one financial year"
        )
    _open_year(book, year)
    whole_pot = book.shares(year, "pot:")
    unreserved_pence = sum(share.amount_pence for share in whole_pot)
    if request.eligible_streams or request.excluded_streams:
        pot_mix = eligible_mix(whole_pot, request)
        eligible_pence = sum(share.amount_pence for share in pot_mix)
    else:  # no funding rules (most requests): every stream may fund it
        pot_mix, eligible_pence = whole_pot, unreserved_pence
    if request.amount_pence > eligible_pence and eligible_pence < unreserved_pence:
        raise _short_of_eligible_streams(book, request, year, unreserved_pence, eligible_pence)
    if request.amount_pence > unreserved_pence:
        raise LedgerRejection(
            f"reservation of {format_pounds(request.amount_pence)} for allocation "
            f"{request.allocation_id} exceeds the unreserved pot of "
            f"{format_pounds(unreserved_pence)} for {book.place_id} {year}",
            unreserved_pence=unreserved_pence,
            rule="reservation_within_unreserved_pot",
            figures={"amount_pence": request.amount_pence, "unreserved_pence": unreserved_pence},
        )
    shares = attribute(request.amount_pence, pot_mix)
    legs = _moves(shares, "pot", "commitment", request.allocation_id)
    tags = Tags(
        f"reservation for allocation {request.allocation_id}: {request.purpose}",
        allocation_id=request.allocation_id,
    )
    transfer = post(book, decision, year, legs, IATI_OUTGOING_COMMITMENT, tags)
    if request.allocation_id not in book.reservations:
        book.reservations[request.allocation_id] = year
        book.new_reservations[request.allocation_id] = year
    # Not validated again: the attribution adds up to the validated request's amount.
    decision.answers.append(
        Payload(
            ReservationMade,
            {
                "place_id": book.place_id,
                "allocation_id": request.allocation_id,
                "financial_year": year,
                "amount_pence": request.amount_pence,
                "attribution": attribution_payload(shares),
                "transfer_id": transfer.transfer_id,
            },
        )
    )


def _stream_key(stream: StreamShare | FundingStream) -> tuple[str, str]:
    return stream.department_code, stream.funding_stream_code


def eligible_mix(
    pot_mix: Sequence[StreamShare], request: ReservationRequested
) -> list[StreamShare]:
    """The pot's streams that may fund a reservation under its funding rules: those it names
    as eligible (every stream when it names none), less those it excludes."""
    eligible = {_stream_key(stream) for stream in request.eligible_streams}
    excluded = {_stream_key(stream) for stream in request.excluded_streams}
    return [
        share
        for share in pot_mix
        if (not eligible or _stream_key(share) in eligible) and _stream_key(share) not in excluded
    ]


def _short_of_eligible_streams(
    book: PlaceBook,
    request: ReservationRequested,
    year: str,
    unreserved_pence: int,
    eligible_pence: int,
) -> LedgerRejection:
    """The refusal of a reservation that the pot could cover but its eligible streams cannot."""
    return LedgerRejection(
        f"reservation of {format_pounds(request.amount_pence)} for allocation "
        f"{request.allocation_id} exceeds the {format_pounds(eligible_pence)} unreserved in the "
        f"streams that may fund it ({book.place_id} {year}); the other "
        f"{format_pounds(unreserved_pence - eligible_pence)} of the unreserved pot is in "
        "streams its funding rules exclude",
        unreserved_pence=eligible_pence,
        rule="reservation_within_eligible_streams",
        figures={
            "amount_pence": request.amount_pence,
            "eligible_pence": eligible_pence,
            "unreserved_pence": unreserved_pence,
            "excluded_pence": unreserved_pence - eligible_pence,
        },
    )


def _draw_on_reservation(
    book: PlaceBook, allocation_id: str, amount_pence: int, what: str
) -> tuple[str, list[StreamShare]]:
    """The year of an allocation's reservation and the shares `amount_pence` takes from it,
    pro rata to what remains reserved; refused when the reservation is missing, closed or
    too small for `what` ("payment", "release")."""
    year = book.reservations.get(allocation_id)
    if year is None:
        raise LedgerRejection(
            f"allocation {allocation_id} has no reservation in {book.place_id}'s ledger"
        )
    _open_year(book, year)
    commitment_mix = book.shares(year, f"commitment:{allocation_id}:")
    reserved_pence = sum(share.amount_pence for share in commitment_mix)
    if amount_pence > reserved_pence:
        raise LedgerRejection(
            f"{what} of {format_pounds(amount_pence)} for allocation {allocation_id} exceeds "
            f"its remaining reservation of {format_pounds(reserved_pence)}",
            rule="within_reservation",
            figures={"amount_pence": amount_pence, "reserved_pence": reserved_pence},
        )
    return year, attribute(amount_pence, commitment_mix)


def release(book: PlaceBook, decision: Decision, request: ReservationReleaseRequested) -> None:
    """Give unspent reserved money back to the pot, pro rata to what remains reserved."""
    year, shares = _draw_on_reservation(
        book, request.allocation_id, request.amount_pence, "release"
    )
    legs = _moves(shares, "commitment", "pot", request.allocation_id)
    tags = Tags(
        f"release ({request.reason}) of allocation {request.allocation_id}",
        allocation_id=request.allocation_id,
    )
    transfer = post(book, decision, year, legs, IATI_OUTGOING_COMMITMENT, tags)
    decision.answers.append(
        ReservationReleased(
            place_id=book.place_id,
            allocation_id=request.allocation_id,
            amount_pence=request.amount_pence,
            reason=request.reason,
            transfer_id=transfer.transfer_id,
            attribution=attribution_of(shares),
            financial_year=year,
        )
    )


def pay(book: PlaceBook, decision: Decision, request: PaymentRequested) -> None:
    """Pay a provider from a reservation; the spend inherits the reservation's stream mix."""
    if request.payment_id in book.payments:
        raise LedgerRejection(f"payment {request.payment_id} was already made; it pays once")
    year, shares = _draw_on_reservation(
        book, request.allocation_id, request.amount_pence, "payment"
    )
    legs = [
        Leg(
            commitment_account(request.allocation_id, s.department_code, s.funding_stream_code),
            "debit",
            s.amount_pence,
        )
        for s in shares
    ]
    legs.append(Leg(provider_account(request.provider_id), "credit", request.amount_pence))
    legs += payer_legs(request.payer_shares, paid=True)
    tags = Tags(
        f"{request.payment_kind} {request.payment_id}: {request.purpose}",
        allocation_id=request.allocation_id,
        contract_id=request.contract_id,
        claim_id=request.claim_batch_id,
    )
    transfer = post(book, decision, year, legs, IATI_DISBURSEMENT, tags)
    book.payments[request.payment_id] = PaymentRecord(
        request.allocation_id,
        request.provider_id,
        year,
        request.amount_pence,
        tuple(shares),
        contract_id=request.contract_id,
        payment_kind=request.payment_kind,
    )
    book.changed_payments.add(request.payment_id)
    attribution = attribution_payload(shares)
    # Not validated again: every field is the validated request's or checked above (the
    # attribution adds up to the amount; the request's payer shares were checked with it).
    decision.answers.append(
        Payload(
            PaymentMade,
            {
                "place_id": book.place_id,
                "payment_id": request.payment_id,
                "allocation_id": request.allocation_id,
                "provider_id": request.provider_id,
                "amount_pence": request.amount_pence,
                "payment_kind": request.payment_kind,
                "contract_id": request.contract_id,
                "claim_batch_id": request.claim_batch_id,
                "attribution": attribution,
                "transfer_id": transfer.transfer_id,
                "payer_shares": [
                    {"payer_id": share.payer_id, "amount_pence": share.amount_pence}
                    for share in request.payer_shares
                ],
            },
        )
    )
    decision.answers.append(
        Payload(
            SpendRecorded,
            {
                "place_id": book.place_id,
                "spend_id": f"spend/{transfer.transfer_id}",
                "payment_id": request.payment_id,
                "allocation_id": request.allocation_id,
                "provider_id": request.provider_id,
                "contract_id": request.contract_id,
                "amount_pence": request.amount_pence,
                "payment_kind": request.payment_kind,
                "purpose": request.purpose,
                "financial_year": year,
                "attribution": attribution,
                "transfer_id": transfer.transfer_id,
            },
        )
    )


def recover(book: PlaceBook, decision: Decision, request: RecoveryRaised) -> None:
    """Claw back (part of) a payment as a reversing transfer: the provider owes it back and
    the money returns to the pot of the streams that paid it, pro rata.

    A payment made in a year now closed is recovered into the next financial year (public
    sector practice: corrections are new entries in an open period)."""
    _unused(book, f"recovery:{request.recovery_id}", f"recovery {request.recovery_id}")
    payment = book.payments.get(request.payment_id)
    if payment is None:
        raise LedgerRejection(f"payment {request.payment_id} is not in {book.place_id}'s ledger")
    if (payment.allocation_id, payment.provider_id) != (request.allocation_id, request.provider_id):
        raise LedgerRejection(
            f"payment {request.payment_id} was made to {payment.provider_id} for allocation "
            f"{payment.allocation_id}, not to {request.provider_id} for {request.allocation_id}"
        )
    recoverable_pence = payment.amount_pence - payment.recovered_pence
    if request.amount_pence > recoverable_pence:
        raise LedgerRejection(
            f"recovery of {format_pounds(request.amount_pence)} from payment "
            f"{request.payment_id} exceeds the {format_pounds(recoverable_pence)} not yet "
            "recovered"
        )
    year = payment.financial_year
    if year in book.closed_years:
        year = next_financial_year(year)
    _open_year(book, year)
    shares = attribute(request.amount_pence, payment.attribution)
    legs = [Leg(provider_account(request.provider_id), "debit", request.amount_pence)]
    legs += [
        Leg(pot_account(s.department_code, s.funding_stream_code), "credit", s.amount_pence)
        for s in shares
    ]
    legs += payer_legs(request.payer_shares, paid=False)
    tags = Tags(
        f"recovery {request.recovery_id} of payment {request.payment_id}: {request.reason}",
        allocation_id=request.allocation_id,
    )
    transfer = post(book, decision, year, legs, IATI_INCOMING_FUNDS, tags)
    payment.recovered_pence += request.amount_pence
    book.changed_payments.add(request.payment_id)
    book.use_id(f"recovery:{request.recovery_id}")
    decision.answers.append(
        RecoveryRecorded(
            place_id=book.place_id,
            recovery_id=request.recovery_id,
            payment_id=request.payment_id,
            amount_pence=request.amount_pence,
            transfer_id=transfer.transfer_id,
            attribution=attribution_of(shares),
            financial_year=year,
            payer_shares=request.payer_shares,
        )
    )
    decision.answers.append(
        recovered_spend(book.place_id, request, payment, shares, year, transfer)
    )


def recovered_spend(
    place_id: str,
    request: RecoveryRaised,
    payment: PaymentRecord,
    shares: Sequence[StreamShare],
    year: str,
    transfer: Transfer,
) -> SpendRecovered:
    """The recovery as negative spend on the spend topic, with each department's share."""
    return SpendRecovered(
        place_id=place_id,
        spend_id=f"recovery/{transfer.transfer_id}",
        recovery_id=request.recovery_id,
        payment_id=request.payment_id,
        allocation_id=payment.allocation_id,
        provider_id=payment.provider_id,
        contract_id=payment.contract_id,
        payment_kind=payment.payment_kind,
        purpose=f"recovery {request.recovery_id} of payment {request.payment_id}",
        financial_year=year,
        amount_pence=-request.amount_pence,
        attribution=tuple(
            RecoveredShare(
                department_code=share.department_code,
                funding_stream_code=share.funding_stream_code,
                amount_pence=-share.amount_pence,
            )
            for share in shares
            if share.amount_pence > 0
        ),
        transfer_id=transfer.transfer_id,
    )


def vire(book: PlaceBook, decision: Decision, request: VirementRequested) -> None:
    """Move unreserved money from one stream to another, keeping its originating department
    so that departments still see what their money bought."""
    _unused(book, f"virement:{request.virement_id}", f"virement {request.virement_id}")
    _open_year(book, request.financial_year)
    source_mix = [
        share
        for share in book.shares(request.financial_year, "pot:")
        if share.funding_stream_code == request.from_funding_stream_code
    ]
    available_pence = sum(share.amount_pence for share in source_mix)
    if request.amount_pence > available_pence:
        raise LedgerRejection(
            f"virement of {format_pounds(request.amount_pence)} from stream "
            f"{request.from_funding_stream_code} exceeds its unreserved "
            f"{format_pounds(available_pence)} in {book.place_id} {request.financial_year}",
            rule="virement_within_unreserved_stream",
            figures={"amount_pence": request.amount_pence, "available_pence": available_pence},
        )
    legs = []
    moved = attribute(request.amount_pence, source_mix)
    for share in moved:
        department, amount_pence = share.department_code, share.amount_pence
        from_account = pot_account(department, request.from_funding_stream_code)
        to_account = pot_account(department, request.to_funding_stream_code)
        legs += [Leg(from_account, "debit", amount_pence), Leg(to_account, "credit", amount_pence)]
    tags = Tags(
        f"virement {request.virement_id} from {request.from_funding_stream_code} to "
        f"{request.to_funding_stream_code}, approved by {request.approval_reference}",
        funding_stream_code=request.to_funding_stream_code,
    )
    transfer = post(book, decision, request.financial_year, legs, IATI_INCOMING_COMMITMENT, tags)
    book.use_id(f"virement:{request.virement_id}")
    decision.answers.append(
        VirementRecorded(
            place_id=book.place_id,
            virement_id=request.virement_id,
            financial_year=request.financial_year,
            from_funding_stream_code=request.from_funding_stream_code,
            to_funding_stream_code=request.to_funding_stream_code,
            amount_pence=request.amount_pence,
            approval_reference=request.approval_reference,
            transfer_id=transfer.transfer_id,
            attribution=attribution_of(moved),
        )
    )


def close_period(book: PlaceBook, decision: Decision, command: ClosePeriod) -> None:
    """After this, nothing may post into the year (ARCHITECTURE.md §4, invariant 5)."""
    if command.financial_year in book.closed_years:
        raise LedgerRejection(
            f"financial year {command.financial_year} is already closed for {book.place_id}",
            rule="period_closes_once",
        )
    book.closed_years.add(command.financial_year)
    book.new_closed_years.add(command.financial_year)
    decision.answers.append(
        PeriodClosed(place_id=book.place_id, financial_year=command.financial_year)
    )


def _unused(book: PlaceBook, used_id: str, what: str) -> None:
    if used_id in book.used_ids:
        raise LedgerRejection(
            f"{what} is already recorded for {book.place_id}; it posts once", rule="posts_once"
        )


# --- The year-end risk share of a pooled budget -------------------------------------------------


def apply_risk_share(book: PlaceBook, decision: Decision, request: ApplyRiskShare) -> None:
    """Share what the pool bore in a year between its partners (the departments that settled
    into it) by the pooling agreement's rule, moving unreserved money from the partners whose
    streams bore less than their share to those whose streams bore more, in one transfer.

    What a partner's streams bore is what they settled less what is still unreserved in their
    pot accounts: money paid out, or reserved for allocations and not released. Once per year,
    in an open year; each payer needs the unreserved money it pays."""
    _unused(
        book, f"risk_share:{request.financial_year}", f"a risk share of {request.financial_year}"
    )
    _open_year(book, request.financial_year)
    partners = _risk_share_partners(book, request)
    payers = [p for p in partners if p.adjustment_pence < 0]
    legs: list[Leg] = []
    moves: list[StreamShare] = []
    for partner in payers:
        unreserved = _pot_mix(book, request.financial_year, partner.department_code)
        owed = -partner.adjustment_pence
        available = sum(share.amount_pence for share in unreserved)
        if owed > available:
            raise LedgerRejection(
                f"the risk share takes {format_pounds(owed)} from {partner.department_code}, "
                f"which has {format_pounds(available)} unreserved in {request.financial_year}",
                rule="risk_share_within_unreserved",
                figures={"amount_pence": owed, "available_pence": available},
            )
        for share in attribute(owed, unreserved):
            legs.append(
                Leg(
                    pot_account(share.department_code, share.funding_stream_code),
                    "debit",
                    share.amount_pence,
                )
            )
            moves.append(
                StreamShare(share.department_code, share.funding_stream_code, -share.amount_pence)
            )
    for partner in (p for p in partners if p.adjustment_pence > 0):
        contributed = _settled_mix(book, request.financial_year, partner.department_code)
        for share in attribute(partner.adjustment_pence, contributed):
            legs.append(
                Leg(
                    pot_account(share.department_code, share.funding_stream_code),
                    "credit",
                    share.amount_pence,
                )
            )
            moves.append(share)
    transfer_id = None
    if legs:
        tags = Tags(
            f"risk share {request.risk_share_id} of {request.financial_year} ({request.rule}) "
            f"under pooling agreement {request.agreement_reference}"
        )
        transfer = post(
            book, decision, request.financial_year, legs, IATI_INCOMING_COMMITMENT, tags
        )
        transfer_id = transfer.transfer_id
    book.use_id(f"risk_share:{request.financial_year}")
    decision.answers.append(
        RiskShareApplied(
            place_id=book.place_id,
            risk_share_id=request.risk_share_id,
            financial_year=request.financial_year,
            rule=request.rule,
            agreement_reference=request.agreement_reference,
            pool_borne_pence=sum(p.borne_pence for p in partners),
            partners=tuple(partners),
            moves=tuple(
                StreamMove(
                    department_code=m.department_code,
                    funding_stream_code=m.funding_stream_code,
                    amount_pence=m.amount_pence,
                )
                for m in moves
            ),
            transfer_id=transfer_id,
        )
    )


def _risk_share_partners(book: PlaceBook, request: ApplyRiskShare) -> list[RiskSharePartner]:
    """Each partner's contribution, what its streams bore, its agreed share and adjustment."""
    year = request.financial_year
    contributed = {
        department: sum(share.amount_pence for share in _settled_mix(book, year, department))
        for department in _departments_settled(book, year)
    }
    departments = sorted(code for code, pence in contributed.items() if pence > 0)
    if not departments:
        raise LedgerRejection(
            f"nothing was settled into {book.place_id} {year}: there are no partners to share",
            rule="risk_share_partners",
        )
    borne = {
        code: contributed[code] - sum(s.amount_pence for s in _pot_mix(book, year, code))
        for code in departments
    }
    weights = _risk_share_weights(request, departments, contributed)
    mix = [StreamShare(code, "", weight) for code, weight in zip(departments, weights, strict=True)]
    agreed = {
        share.department_code: share.amount_pence for share in attribute(sum(borne.values()), mix)
    }
    return [
        RiskSharePartner(
            department_code=code,
            contributed_pence=contributed[code],
            borne_pence=borne[code],
            agreed_share_pence=agreed.get(code, 0),
            adjustment_pence=borne[code] - agreed.get(code, 0),
        )
        for code in departments
    ]


def _risk_share_weights(
    request: ApplyRiskShare, departments: list[str], contributed: Mapping[str, int]
) -> list[int]:
    if request.rule == "equal":
        return [1] * len(departments)
    if request.rule == "contributions":
        return [contributed[code] for code in departments]
    agreed = {share.department_code: share.basis_points for share in request.agreed_shares}
    if sorted(agreed) != departments:
        raise LedgerRejection(
            f"the agreed shares name {', '.join(sorted(agreed))}; the partners of "
            f"{request.place_id} {request.financial_year} are {', '.join(departments)}",
            rule="risk_share_partners",
        )
    return [agreed[code] for code in departments]


def _departments_settled(book: PlaceBook, year: str) -> set[str]:
    found = set()
    for prefix in ("settlement:", "received:"):
        for department, _, _ in book._groups.get((year, prefix), ()):
            found.add(department)
    return found


def _settled_mix(book: PlaceBook, year: str, department: str) -> list[StreamShare]:
    """What the department settled into the year, per stream, in stream order."""
    per_stream: dict[str, int] = {}
    for prefix in ("settlement:", "received:"):
        for code, stream, account in book._groups.get((year, prefix), ()):
            if code == department:
                per_stream[stream] = per_stream.get(stream, 0) - book.balances[(year, account)]
    return [StreamShare(department, stream, pence) for stream, pence in sorted(per_stream.items())]


def _pot_mix(book: PlaceBook, year: str, department: str) -> list[StreamShare]:
    """The department's unreserved money in the year, per stream."""
    return [share for share in book.shares(year, "pot:") if share.department_code == department]


# --- Moving a reservation between allocations (participatory budgeting rounds) ----------------


def transfer_reservation(
    book: PlaceBook, decision: Decision, request: ReservationTransferRequested
) -> None:
    """Move part of one allocation's reservation to another, stream by stream, pro rata to
    what the source still holds: the money never passes through the pot, so nothing else can
    take it between the round's reservation and its winners. Refused unless the source holds
    enough in an open year, the target is another allocation reserved (if at all) in the same
    year, and the transfer id is new."""
    used_id = f"reservation_transfer:{request.reservation_transfer_id}"
    _unused(book, used_id, f"reservation transfer {request.reservation_transfer_id}")
    source, target = request.from_allocation_id, request.to_allocation_id
    if source == target:
        raise LedgerRejection(
            f"reservation transfer {request.reservation_transfer_id} names allocation {source} "
            "as both source and target",
            rule="transfer_between_allocations",
        )
    year = book.reservations.get(source)
    if year is None:
        raise LedgerRejection(
            f"allocation {source} has no reservation in {book.place_id}'s ledger to move from",
            rule="source_reserved",
        )
    _same_reservation_year(book, target, year)
    _open_year(book, year)
    source_mix = book.shares(year, f"commitment:{source}:")
    held_pence = sum(share.amount_pence for share in source_mix)
    if request.amount_pence > held_pence:
        raise LedgerRejection(
            f"moving {format_pounds(request.amount_pence)} from allocation {source} exceeds "
            f"its remaining reservation of {format_pounds(held_pence)}",
            rule="within_reservation",
            figures={"amount_pence": request.amount_pence, "reserved_pence": held_pence},
        )
    shares = attribute(request.amount_pence, source_mix)
    _post_reservation_transfer(book, decision, request, year, shares)
    book.use_id(used_id)


def _same_reservation_year(book: PlaceBook, target: str, year: str) -> None:
    """One allocation draws on one financial year (as `reserve` keeps it)."""
    target_year = book.reservations.get(target, year)
    if target_year != year:
        raise LedgerRejection(
            f"allocation {target} is reserved in {target_year}, not {year}; one allocation "
            "draws on one financial year",
            rule="same_financial_year",
        )


def _post_reservation_transfer(
    book: PlaceBook,
    decision: Decision,
    request: ReservationTransferRequested,
    year: str,
    shares: Sequence[StreamShare],
) -> None:
    source, target = request.from_allocation_id, request.to_allocation_id
    legs: list[Leg] = []
    for share in shares:
        department, stream = share.department_code, share.funding_stream_code
        legs.append(
            Leg(commitment_account(source, department, stream), "debit", share.amount_pence)
        )
        legs.append(
            Leg(commitment_account(target, department, stream), "credit", share.amount_pence)
        )
    tags = Tags(
        f"reservation moved from allocation {source} to {target}: {request.purpose}",
        allocation_id=target,
    )
    transfer = post(book, decision, year, legs, IATI_OUTGOING_COMMITMENT, tags)
    if target not in book.reservations:
        book.reservations[target] = book.new_reservations[target] = year
    decision.answers.append(
        ReservationTransferred(
            place_id=book.place_id,
            reservation_transfer_id=request.reservation_transfer_id,
            from_allocation_id=source,
            to_allocation_id=target,
            amount_pence=request.amount_pence,
            financial_year=year,
            attribution=attribution_of(shares),
            transfer_id=transfer.transfer_id,
        )
    )


OPERATIONS: dict[type[Event], Callable[..., None]] = {
    RecordSettlement: record_settlement,
    RecordReceipt: record_receipt,
    ReservationRequested: reserve,
    ReservationReleaseRequested: release,
    PaymentRequested: pay,
    RecoveryRaised: recover,
    VirementRequested: vire,
    ClosePeriod: close_period,
    ApplyRiskShare: apply_risk_share,
    ReservationTransferRequested: transfer_reservation,
}
"""Every request type the ledger accepts, and the operation that decides it."""


# --- Deciding a request -----------------------------------------------------------------------


def decide(book: PlaceBook, request_event_id: UUID, request: Event) -> Decision:
    """Apply one request to the book: post it, reject it, or recognise it as a repeat."""
    assert request.place_id == book.place_id, "requests are routed to their place's book"
    decision = Decision(request_event_id)
    body_hash = request_body_hash(request)
    seen = book.requests.get(request_event_id)
    if seen is not None:
        if seen.body_hash == body_hash:
            decision.replay_of = seen
        else:
            decision.conflict = True
            decision.answers.append(_conflict(book, request_event_id, request))
        return decision
    operation = OPERATIONS[type(request)]
    try:
        operation(book, decision, request)
    except LedgerRejection as rejection:
        # Operations check every rule before posting anything, so a rejection leaves the book
        # as it was (a multi-year settlement checks all its years first).
        assert not decision.transfers, "a rejection must come before any posting"
        decision.answers = [rejection_event(book.place_id, request_event_id, request, rejection)]
    record = RequestRecord(body_hash, tuple(decision.answer_ids()))
    book.requests[request_event_id] = book.new_requests[request_event_id] = record
    return decision


def _conflict(book: PlaceBook, request_event_id: UUID, request: Event) -> CommandRefused:
    return CommandRefused(
        place_id=book.place_id,
        decided_by="ledger",
        command_type=request.event_type,
        subject_id=str(request_event_id),
        reason=(
            f"event id {request_event_id} was already used for a different request; "
            "this one was not posted: send it again with a new event id"
        ),
        rule="event_id_unique",
    )


def rejection_event(
    place_id: str, request_event_id: UUID, request: Event, rejection: LedgerRejection
) -> Event:
    """The refusal a requester listens for: the specific event where one exists."""
    reason = str(rejection)
    if isinstance(request, ReservationRequested):
        return ReservationRejected(
            place_id=place_id,
            allocation_id=request.allocation_id,
            amount_pence=request.amount_pence,
            reason=reason,
            unreserved_pence=rejection.unreserved_pence,
            rule=None if rejection.rule == "ledger_rule" else rejection.rule,
            figures=rejection.figures,
        )
    if isinstance(request, PaymentRequested):
        return PaymentRejected(
            place_id=place_id,
            payment_id=request.payment_id,
            allocation_id=request.allocation_id,
            amount_pence=request.amount_pence,
            reason=reason,
            contract_id=request.contract_id,
            claim_batch_id=request.claim_batch_id,
            rule=None if rejection.rule == "ledger_rule" else rejection.rule,
            figures=rejection.figures,
        )
    return CommandRefused(
        place_id=place_id,
        decided_by="ledger",
        command_type=request.event_type,
        subject_id=str(request_event_id),
        reason=reason,
        rule=rejection.rule,
        figures=rejection.figures,
    )


# --- Verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    """The first transfer whose stored hash does not match what its content gives."""

    sequence: int
    transfer_id: str
    problem: str


def first_broken_link(transfers: Iterable[Transfer]) -> BrokenLink | None:
    """Recompute a place's chain from the genesis hash, in sequence order; None if intact."""
    previous_hash, expected_sequence = GENESIS_HASH, 1
    for transfer in transfers:
        if transfer.sequence != expected_sequence:
            return BrokenLink(
                transfer.sequence,
                transfer.transfer_id,
                f"sequence {expected_sequence} is missing (found {transfer.sequence})",
            )
        if transfer.previous_hash != previous_hash:
            return BrokenLink(
                transfer.sequence, transfer.transfer_id, "previous_hash does not match the link"
            )
        if transfer_hash(transfer.__dict__) != transfer.chain_hash:
            return BrokenLink(
                transfer.sequence,
                transfer.transfer_id,
                "content does not match its chain_hash (the row was changed)",
            )
        if sum(leg.signed_pence for leg in transfer.legs) != 0:
            return BrokenLink(transfer.sequence, transfer.transfer_id, "legs do not balance")
        previous_hash, expected_sequence = transfer.chain_hash, expected_sequence + 1
    return None


def derive_balances(transfers: Iterable[Transfer]) -> dict[tuple[str, str], int]:
    """Balances recomputed from the transfers alone, to compare with the stored ones."""
    balances: dict[tuple[str, str], int] = {}
    for transfer in transfers:
        for leg in transfer.legs:
            key = (transfer.financial_year, leg.account)
            balances[key] = balances.get(key, 0) + leg.signed_pence
    return {key: balance for key, balance in balances.items() if balance != 0}
