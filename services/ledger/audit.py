"""The auditor's export: a place's whole transfer log in chain order, as JSON Lines, so the hash
chain and the balances can be checked independently (tools/verify_audit.py; the format is
documented in docs/audit-export.md).

Line 1 is a header; every later line is one transfer: exactly the fields the ledger hashes
(`domain.transfer_body`) plus the stored `chain_hash`. `stream_lines` reads the log from the
database through a cursor, a page at a time, so an export of any length holds one page in
memory; `lines` builds the same text from a log already in memory.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.ledger import db, domain

FORMAT = "singlepot-audit-export"
FORMAT_VERSION = 1
HASH_ALGORITHM = "sha256"
CANONICALISATION = (
    "SHA-256 over the UTF-8 bytes of the transfer line without its chain_hash field, written as "
    "JSON with keys sorted, no whitespace (separators ',' and ':') and non-ASCII characters "
    "kept as they are (Python: json.dumps(body, sort_keys=True, separators=(',', ':'), "
    "ensure_ascii=False))"
)
PREFETCH_ROWS = 1_000
"""Transfers fetched from the cursor per round trip: bounds an export's memory, whatever the
length of the log."""


@dataclass(frozen=True)
class AuditLog:
    """A place's transfers in sequence order and its stored balances, held in memory."""

    place_id: str
    transfers: Sequence[domain.Transfer]
    balances: Sequence[dict[str, object]]


async def stream_lines(
    connection: asyncpg.Connection,
    place_id: str,
    exported_at: datetime,
    prefetch: int = PREFETCH_ROWS,
    up_to_sequence: int | None = None,
) -> AsyncIterator[str]:
    """The whole export, header first, each line without its newline, read in one
    repeatable-read snapshot so the header's count, head hash and balances agree with the
    transfers that follow. The transaction stays open while the caller consumes the lines.
    With `up_to_sequence`, the export stops at that chain position (a balance as at a date
    names one) and the header's balances are those the transfers up to it give."""
    assert prefetch > 0, "prefetch is a positive number of rows"
    if up_to_sequence is not None:
        async for text in _stream_prefix(
            connection, place_id, exported_at, prefetch, up_to_sequence
        ):
            yield text
        return
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        transfer_count, head_hash = await db.chain_summary(connection, place_id)
        balances = await db.balances_for_place(connection, place_id)
        yield _header(place_id, transfer_count, head_hash, balances, exported_at)
        async for transfer in db.stream_transfers(connection, place_id, prefetch):
            yield line(transfer)


async def _stream_prefix(
    connection: asyncpg.Connection,
    place_id: str,
    exported_at: datetime,
    prefetch: int,
    up_to_sequence: int,
) -> AsyncIterator[str]:
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        position = min(up_to_sequence, await db.head_position(connection, place_id))
        head_hash = await db.chain_hash_at(connection, place_id, position)
        balances = await db.balances_from_legs(connection, place_id, position)
        yield _header(place_id, position, head_hash, balances, exported_at)
        async for transfer in db.stream_transfers_up_to(connection, place_id, position, prefetch):
            yield line(transfer)


def line(transfer: domain.Transfer) -> str:
    """One transfer: the hashed body and the stored hash, in the canonical JSON form."""
    return _canonical({**domain.transfer_body(transfer), "chain_hash": transfer.chain_hash})


def header(log: AuditLog, exported_at: datetime) -> str:
    head_hash = log.transfers[-1].chain_hash if log.transfers else None
    return _header(log.place_id, len(log.transfers), head_hash, log.balances, exported_at)


def lines(log: AuditLog, exported_at: datetime) -> Iterator[str]:
    """The whole export of a log in memory, header first, each line without its newline."""
    yield header(log, exported_at)
    for transfer in log.transfers:
        yield line(transfer)


def _header(
    place_id: str,
    transfer_count: int,
    head_hash: str | None,
    balances: Sequence[dict[str, object]],
    exported_at: datetime,
) -> str:
    return _canonical(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "place_id": place_id,
            "exported_at": exported_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "transfer_count": transfer_count,
            "genesis_hash": domain.GENESIS_HASH,
            "head_hash": head_hash or domain.GENESIS_HASH,
            "hash_algorithm": HASH_ALGORITHM,
            "canonicalisation": CANONICALISATION,
            "balance_convention": "credit-positive: credit legs add, debit legs subtract",
            # The ledger's stored balances, for the verifier to compare with the ones it derives.
            "balances": [
                {
                    "financial_year": row["financial_year"],
                    "account": row["account"],
                    "balance_pence": row["balance_pence"],
                }
                for row in balances
                if row["balance_pence"] != 0
            ],
        }
    )


def _canonical(value: object) -> str:
    # The same rule as domain.chain_hash, so a transfer line minus chain_hash is the hashed text.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
