"""The ledger's database access: the only ledger module that talks to asyncpg.

`load_books` reads, for a batch of requests, exactly the part of each place's book they can
touch, after locking each place's chain head; `save_books` writes back what changed with COPY
and multi-row statements. Between the two, `domain.decide` runs in memory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from uuid import UUID

import asyncpg
import pydantic_core

from contracts import (
    ApplyRiskShare,
    Event,
    PaymentRequested,
    RecordReceipt,
    RecordSettlement,
    RecoveryRaised,
    ReservationReleaseRequested,
    ReservationRequested,
    VirementRequested,
)
from contracts.ledger import ReservationTransferRequested
from services.ledger import domain
from services.runtime.outbox import OutboxRow
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

TRANSFER_COLUMNS = (
    "place_id",
    "sequence",
    "transfer_id",
    "request_event_id",
    "financial_year",
    "iati_transaction_type",
    "department_code",
    "funding_stream_code",
    "allocation_id",
    "contract_id",
    "claim_id",
    "description",
    "legs",
    "previous_hash",
    "chain_hash",
)
OUTBOX_COLUMNS = ("event_id", "topic", "partition_key", "event_type", "value", "headers")
ANSWER_COLUMNS = ("event_id", "place_id", "request_type", "body_hash", "answer_event_ids")
BALANCE_COLUMNS = (
    "place_id",
    "financial_year",
    "account",
    "department_code",
    "funding_stream_code",
    "allocation_id",
    "must_not_go_negative",
    "balance_pence",
)
PAYMENT_COLUMNS = (
    "place_id",
    "payment_id",
    "allocation_id",
    "provider_id",
    "financial_year",
    "amount_pence",
    "attribution",
    "recovered_pence",
    "contract_id",
    "payment_kind",
)
# New rows of these tables are plain inserts (a duplicate is an error either way), so they go
# by COPY: binary, native types, rather than one text array per column for an `unnest`.
NEW_RECORD_TABLES = (
    ("settlements", ("place_id", "settlement_id", "department_code", "funding_stream_code")),
    ("reservations", ("place_id", "allocation_id", "financial_year")),
    ("used_ids", ("place_id", "used_id")),
    ("closed_years", ("place_id", "financial_year")),
)


@dataclass
class _Needs:
    """What a batch's requests may read, gathered before loading."""

    places: set[str] = field(default_factory=set)
    settlements: set[tuple[str, str]] = field(default_factory=set)
    used_ids: set[tuple[str, str]] = field(default_factory=set)
    allocations: set[tuple[str, str]] = field(default_factory=set)
    payments: set[tuple[str, str]] = field(default_factory=set)
    years: set[tuple[str, str]] = field(default_factory=set)
    accounts: set[tuple[str, str]] = field(default_factory=set)

    def add(self, request: Event) -> None:
        place = request.place_id
        self.places.add(place)
        if isinstance(request, RecordSettlement):
            self.settlements.add((place, request.settlement_id))
            self.years.update((place, entry.financial_year) for entry in request.profile)
        elif isinstance(request, RecordReceipt):
            self.settlements.add((place, request.settlement_id))
            self.used_ids.add((place, f"receipt:{request.receipt_id}"))
            self.years.add((place, request.financial_year))
        elif isinstance(request, ReservationRequested):
            self.allocations.add((place, request.allocation_id))
            self.years.add((place, request.financial_year))
        elif isinstance(request, ReservationReleaseRequested):
            self.allocations.add((place, request.allocation_id))
        elif isinstance(request, ReservationTransferRequested):
            self.allocations.add((place, request.from_allocation_id))
            self.allocations.add((place, request.to_allocation_id))
            self.used_ids.add((place, f"reservation_transfer:{request.reservation_transfer_id}"))
        elif isinstance(request, PaymentRequested):
            self.allocations.add((place, request.allocation_id))
            self.payments.add((place, request.payment_id))
            self.accounts.add((place, domain.provider_account(request.provider_id)))
            self.accounts.update((place, a) for a in domain.payer_accounts(request.payer_shares))
        elif isinstance(request, RecoveryRaised):
            self.payments.add((place, request.payment_id))
            self.used_ids.add((place, f"recovery:{request.recovery_id}"))
            self.accounts.add((place, domain.provider_account(request.provider_id)))
            self.accounts.update((place, a) for a in domain.payer_accounts(request.payer_shares))
        elif isinstance(request, VirementRequested):
            self.used_ids.add((place, f"virement:{request.virement_id}"))
            self.years.add((place, request.financial_year))
        elif isinstance(request, ApplyRiskShare):
            self.used_ids.add((place, f"risk_share:{request.financial_year}"))
            self.years.add((place, request.financial_year))


def _columns(pairs: Iterable[tuple[object, ...]], width: int) -> list[list[object]]:
    """[(a, b), (c, d)] -> [[a, c], [b, d]]: the arrays an `unnest` query takes."""
    rows = list(pairs)
    return [[row[index] for row in rows] for index in range(width)]


async def load_books(
    connection: asyncpg.Connection, requests: Sequence[tuple[UUID, Event]]
) -> dict[str, domain.PlaceBook]:
    """Lock the places the requests belong to and load what they may need."""
    needs = _Needs()
    for _, request in requests:
        needs.add(request)
    books = await _lock_chain_heads(connection, sorted(needs.places))
    request_ids = [event_id for event_id, _ in requests]
    for row in await connection.fetch(QUERIES.answered_requests, request_ids):
        book = books.get(row["place_id"])
        if book is not None:
            book.requests[row["event_id"]] = domain.RequestRecord(
                row["body_hash"], tuple(row["answer_event_ids"])
            )
    await _load_ids_and_records(connection, books, needs)
    await _load_balances(connection, books, needs)
    for book in books.values():
        book.stored_balances = set(book.balances)
        book.stored_payments = set(book.payments)
    return books


async def _lock_chain_heads(
    connection: asyncpg.Connection, places: list[str]
) -> dict[str, domain.PlaceBook]:
    """Lock each place's chain head, in place order, opening the chains of new places; each
    book starts with the place's closed years.

    Nearly every batch finds all its places' chains open, so the lock is tried first (one round
    trip); only when a place is new are the chains opened and all of them locked again, still
    in place order, so that two batches never deadlock."""
    rows = await connection.fetch(QUERIES.lock_chain_heads, places)
    if len(rows) < len(places):
        await connection.execute(QUERIES.open_chain_heads, places, domain.GENESIS_HASH)
        rows = await connection.fetch(QUERIES.lock_chain_heads, places)
    return {
        row["place_id"]: domain.PlaceBook(
            row["place_id"],
            sequence=row["sequence"],
            head_hash=row["chain_hash"],
            closed_years=set(row["closed_years"]),
        )
        for row in rows
    }


async def _fetch_unless_empty(
    connection: asyncpg.Connection, query: str, pairs: set[tuple[str, str]]
) -> list[asyncpg.Record]:
    """The rows of an `unnest` lookup of (place, id) pairs; no round trip when there are none
    (most batches have no settlements, receipts, recoveries or virements)."""
    if not pairs:
        return []
    return list(await connection.fetch(query, *_columns(pairs, 2)))


async def _load_ids_and_records(
    connection: asyncpg.Connection, books: dict[str, domain.PlaceBook], needs: _Needs
) -> None:
    for row in await _fetch_unless_empty(connection, QUERIES.settlements, needs.settlements):
        books[row["place_id"]].settlements[row["settlement_id"]] = (
            row["department_code"],
            row["funding_stream_code"],
        )
    for row in await _fetch_unless_empty(connection, QUERIES.used_ids, needs.used_ids):
        books[row["place_id"]].used_ids.add(row["used_id"])
    for row in await _fetch_unless_empty(connection, QUERIES.reservations, needs.allocations):
        books[row["place_id"]].reservations[row["allocation_id"]] = row["financial_year"]
        needs.years.add((row["place_id"], row["financial_year"]))
    for row in await _fetch_unless_empty(connection, QUERIES.payments, needs.payments):
        year = row["financial_year"]
        books[row["place_id"]].payments[row["payment_id"]] = domain.PaymentRecord(
            allocation_id=row["allocation_id"],
            provider_id=row["provider_id"],
            financial_year=year,
            amount_pence=row["amount_pence"],
            attribution=tuple(
                domain.StreamShare(**share) for share in json.loads(row["attribution"])
            ),
            recovered_pence=row["recovered_pence"],
            contract_id=row["contract_id"],
            payment_kind=row["payment_kind"],
        )
        # A recovery credits the pot of the payment's year, or of the next if that is closed.
        needs.years.add((row["place_id"], year))
        needs.years.add((row["place_id"], domain.next_financial_year(year)))


async def _load_balances(
    connection: asyncpg.Connection, books: dict[str, domain.PlaceBook], needs: _Needs
) -> None:
    rows = [
        *await _fetch_unless_empty(connection, QUERIES.stream_balances, needs.years),
        *await _fetch_unless_empty(connection, QUERIES.commitment_balances, needs.allocations),
        *await _fetch_unless_empty(connection, QUERIES.account_balances, needs.accounts),
    ]
    for row in rows:
        book = books[row["place_id"]]
        book.set_balance(row["financial_year"], row["account"], row["balance_pence"])


async def save_books(
    connection: asyncpg.Connection,
    books: Iterable[domain.PlaceBook],
    decisions: Sequence[tuple[domain.Decision, Event]],
    outbox_rows: Sequence[OutboxRow],
    effective_dates: Mapping[UUID, date] | None = None,
) -> None:
    """Write every change of the batch: transfers, balances, records, answers, outbox.
    `effective_dates` gives, by request id, the day each request's money event happened; a
    transfer without one takes the day it is recorded."""
    books = list(books)
    transfers = [transfer for decision, _ in decisions for transfer in decision.transfers]
    if transfers:
        dates = effective_dates or {}
        await connection.copy_records_to_table(
            "transfers",
            records=[(*_transfer_record(t), dates.get(t.request_event_id)) for t in transfers],
            columns=(*TRANSFER_COLUMNS, "effective_on"),
        )
    await _save_balances_and_chain_heads(connection, books)
    await _save_records(connection, books)
    request_types = {
        decision.request_event_id: request.event_type for decision, request in decisions
    }
    answers = [
        (
            event_id,
            book.place_id,
            request_types[event_id],
            record.body_hash,
            list(record.answer_event_ids),
        )
        for book in books
        for event_id, record in book.new_requests.items()
    ]
    if answers:
        await connection.copy_records_to_table(
            "answered_requests", records=answers, columns=ANSWER_COLUMNS
        )
    if outbox_rows:
        await connection.copy_records_to_table(
            "outbox",
            records=[
                (
                    row.event_id,
                    row.topic,
                    row.partition_key,
                    row.event_type,
                    row.value,
                    row.headers_json or pydantic_core.to_json(row.headers).decode(),
                )
                for row in outbox_rows
            ],
            columns=OUTBOX_COLUMNS,
        )


async def _save_balances_and_chain_heads(
    connection: asyncpg.Connection, books: Sequence[domain.PlaceBook]
) -> None:
    """Insert new balances by COPY; upsert the changed ones the book was loaded with in the
    statement that moves the chain heads.

    Most of a batch's balances are new (a reservation opens a commitment account), and COPY
    encodes them natively; the few stored ones that changed (the pots) keep the upsert."""
    new_rows: list[tuple[object, ...]] = []
    rows: list[tuple[object, ...]] = []
    for book in books:
        for key in sorted(book.changed_balances):
            year, account = key
            (rows if key in book.stored_balances else new_rows).append(
                (
                    book.place_id,
                    year,
                    account,
                    *domain.account_columns(account),
                    book.balances[key],
                )
            )
    if new_rows:
        await connection.copy_records_to_table(
            "balances", records=new_rows, columns=BALANCE_COLUMNS
        )
    heads = [(book.place_id, book.sequence, book.head_hash) for book in books]
    await connection.execute(
        QUERIES.save_chain_heads_and_balances, *_columns(heads, 3), *_columns(rows, 8)
    )


async def _save_records(connection: asyncpg.Connection, books: Sequence[domain.PlaceBook]) -> None:
    settlements = [
        (book.place_id, settlement_id, department, stream)
        for book in books
        for settlement_id, (department, stream) in book.new_settlements.items()
    ]
    reservations = [
        (book.place_id, allocation_id, year)
        for book in books
        for allocation_id, year in book.new_reservations.items()
    ]
    used_ids = [(book.place_id, used_id) for book in books for used_id in book.new_used_ids]
    closed = [(book.place_id, year) for book in books for year in book.new_closed_years]
    for (table, columns), rows in zip(
        NEW_RECORD_TABLES, (settlements, reservations, used_ids, closed), strict=True
    ):
        if rows:
            await connection.copy_records_to_table(table, records=rows, columns=columns)
    # A payment made in this batch is new (COPY); one recovered from is stored (upsert).
    new_payments: list[tuple[object, ...]] = []
    changed_payments: list[tuple[object, ...]] = []
    for book in books:
        for payment_id in book.changed_payments:
            record = _payment_record(book.place_id, payment_id, book.payments[payment_id])
            stored = payment_id in book.stored_payments
            (changed_payments if stored else new_payments).append(record)
    if new_payments:
        await connection.copy_records_to_table(
            "payments", records=new_payments, columns=PAYMENT_COLUMNS
        )
    if changed_payments:
        await connection.execute(QUERIES.save_payments, *_columns(changed_payments, 10))


def _payment_record(
    place_id: str, payment_id: str, payment: domain.PaymentRecord
) -> tuple[object, ...]:
    attribution = pydantic_core.to_json(
        [
            {"department_code": department, "funding_stream_code": stream, "amount_pence": pence}
            for department, stream, pence in payment.attribution
        ]
    ).decode()
    return (
        place_id,
        payment_id,
        payment.allocation_id,
        payment.provider_id,
        payment.financial_year,
        payment.amount_pence,
        attribution,
        payment.recovered_pence,
        payment.contract_id,
        payment.payment_kind,
    )


def _transfer_record(transfer: domain.Transfer) -> tuple[object, ...]:
    # jsonb: the text's layout does not matter, and pydantic-core writes it fastest.
    legs = pydantic_core.to_json(
        [
            {"account": account, "direction": direction, "amount_pence": amount_pence}
            for account, direction, amount_pence in transfer.legs
        ]
    ).decode()
    return (
        transfer.place_id,
        transfer.sequence,
        transfer.transfer_id,
        transfer.request_event_id,
        transfer.financial_year,
        transfer.iati_transaction_type,
        transfer.department_code,
        transfer.funding_stream_code,
        transfer.allocation_id,
        transfer.contract_id,
        transfer.claim_id,
        transfer.description,
        legs,
        transfer.previous_hash,
        transfer.chain_hash,
    )


async def save_conflict(
    connection: asyncpg.Connection, event_id: UUID, body_hash: str, request: Event
) -> None:
    await connection.execute(
        QUERIES.save_conflict, event_id, body_hash, request.place_id, request.event_type
    )


async def republish(connection: asyncpg.Connection, event_ids: Sequence[UUID]) -> None:
    await connection.execute(QUERIES.republish_answer, list(event_ids))


# --- Reading, for verification, queries and tests --------------------------------------------


async def places(connection: asyncpg.Connection) -> list[str]:
    return [row["place_id"] for row in await connection.fetch(QUERIES.places)]


async def transfers_for_place(
    connection: asyncpg.Connection, place_id: str
) -> list[domain.Transfer]:
    """The place's transfers as stored, in sequence order."""
    return [_transfer(row) for row in await connection.fetch(QUERIES.transfers_for_place, place_id)]


async def chain_summary(connection: asyncpg.Connection, place_id: str) -> tuple[int, str | None]:
    """How many transfers the place's chain holds, and the last one's hash (None: no transfers)."""
    row = await connection.fetchrow(QUERIES.chain_summary, place_id)
    assert row is not None, "an aggregate query always returns one row"
    return row["transfer_count"], row["head_hash"]


async def stream_transfers(
    connection: asyncpg.Connection, place_id: str, prefetch: int
) -> AsyncIterator[domain.Transfer]:
    """The place's transfers in sequence order, read through a server-side cursor `prefetch`
    rows at a time. asyncpg cursors need a transaction: the caller holds one open."""
    cursor = connection.cursor(QUERIES.transfers_for_place, place_id, prefetch=prefetch)
    async for row in cursor:
        yield _transfer(row)


async def balances_for_place(connection: asyncpg.Connection, place_id: str) -> list[dict]:
    return [dict(row) for row in await connection.fetch(QUERIES.balances_for_place, place_id)]


async def trial_balance(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> list[dict]:
    return [
        dict(row) for row in await connection.fetch(QUERIES.trial_balance, place_id, financial_year)
    ]


async def stream_summary(connection: asyncpg.Connection, place_id: str) -> list[dict]:
    return [dict(row) for row in await connection.fetch(QUERIES.stream_summary, place_id)]


async def statement(connection: asyncpg.Connection, place_id: str, pattern: str) -> list[dict]:
    rows = await connection.fetch(QUERIES.transfers_touching, place_id, pattern)
    return [{**dict(row), "legs": json.loads(row["legs"])} for row in rows]


def _transfer(row: asyncpg.Record) -> domain.Transfer:
    legs = tuple(domain.Leg(**leg) for leg in json.loads(row["legs"]))
    return domain.Transfer(
        place_id=row["place_id"],
        sequence=row["sequence"],
        transfer_id=row["transfer_id"],
        request_event_id=row["request_event_id"],
        financial_year=row["financial_year"],
        iati_transaction_type=row["iati_transaction_type"],
        department_code=row["department_code"],
        funding_stream_code=row["funding_stream_code"],
        allocation_id=row["allocation_id"],
        contract_id=row["contract_id"],
        claim_id=row["claim_id"],
        description=row["description"],
        legs=legs,
        previous_hash=row["previous_hash"],
        chain_hash=row["chain_hash"],
    )


def group_by_place(
    requests: Sequence[tuple[UUID, Event]],
) -> dict[str, list[tuple[UUID, Event]]]:
    grouped: dict[str, list[tuple[UUID, Event]]] = defaultdict(list)
    for event_id, request in requests:
        grouped[request.place_id].append((event_id, request))
    return grouped


# --- Balances as at a date (services/ledger/as_at.py) -----------------------------------------


async def recorded_position(
    connection: asyncpg.Connection, place_id: str, recorded_before: datetime
) -> int:
    """The last chain position recorded before the instant (0: none)."""
    sequence: int = await connection.fetchval(QUERIES.recorded_position, place_id, recorded_before)
    return sequence


async def head_position(connection: asyncpg.Connection, place_id: str) -> int:
    sequence: int = await connection.fetchval(QUERIES.head_position, place_id)
    return sequence


async def chain_hash_at(connection: asyncpg.Connection, place_id: str, sequence: int) -> str:
    """The hash at a chain position; the genesis hash at position 0."""
    if sequence == 0:
        return domain.GENESIS_HASH
    found: str = await connection.fetchval(QUERIES.chain_hash_at, place_id, sequence)
    return found


async def effective_later_than(
    connection: asyncpg.Connection, place_id: str, up_to_sequence: int, as_at: date
) -> list[int]:
    rows = await connection.fetch(QUERIES.effective_later_than, place_id, up_to_sequence, as_at)
    return [row["sequence"] for row in rows]


async def effective_by_recorded_after(
    connection: asyncpg.Connection, place_id: str, after: int, up_to: int, as_at: date
) -> list[int]:
    rows = await connection.fetch(
        QUERIES.effective_by_recorded_after, place_id, after, up_to, as_at
    )
    return [row["sequence"] for row in rows]


async def balances_from_legs(
    connection: asyncpg.Connection,
    place_id: str,
    up_to_sequence: int,
    left_out: Sequence[int] = (),
    added: Sequence[int] = (),
) -> list[dict]:
    """Balances from the legs of transfers 1..up_to_sequence except `left_out`, plus `added`."""
    rows = await connection.fetch(
        QUERIES.balances_from_legs, place_id, up_to_sequence, list(left_out), list(added)
    )
    return [dict(row) for row in rows]


async def stream_transfers_up_to(
    connection: asyncpg.Connection, place_id: str, up_to_sequence: int, prefetch: int
) -> AsyncIterator[domain.Transfer]:
    """Like `stream_transfers`, stopping at a chain position."""
    cursor = connection.cursor(QUERIES.transfers_up_to, place_id, up_to_sequence, prefetch=prefetch)
    async for row in cursor:
        yield _transfer(row)
