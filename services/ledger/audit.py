"""The auditor's export: a place's whole transfer log in chain order, as JSON Lines, so the hash
chain and the balances can be checked independently (tools/verify_audit.py; the format is
documented in docs/audit-export.md).

Line 1 is a header; every later line is one transfer: exactly the fields the ledger hashes
(`domain.transfer_body`) plus the stored `chain_hash`. Building the lines is pure; `load` reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
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


@dataclass(frozen=True)
class AuditLog:
    """What one export reads: the transfers in sequence order and the stored balances."""

    place_id: str
    transfers: Sequence[domain.Transfer]
    balances: Sequence[dict[str, object]]


async def load(connection: asyncpg.Connection, place_id: str) -> AuditLog:
    """The place's transfers and balances, from one snapshot so they agree."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        transfers = await db.transfers_for_place(connection, place_id)
        balances = await db.balances_for_place(connection, place_id)
    return AuditLog(place_id, transfers, balances)


def line(transfer: domain.Transfer) -> str:
    """One transfer: the hashed body and the stored hash, in the canonical JSON form."""
    return _canonical({**domain.transfer_body(transfer), "chain_hash": transfer.chain_hash})


def header(log: AuditLog, exported_at: datetime) -> str:
    transfers = log.transfers
    return _canonical(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "place_id": log.place_id,
            "exported_at": exported_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "transfer_count": len(transfers),
            "genesis_hash": domain.GENESIS_HASH,
            "head_hash": transfers[-1].chain_hash if transfers else domain.GENESIS_HASH,
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
                for row in log.balances
                if row["balance_pence"] != 0
            ],
        }
    )


def lines(log: AuditLog, exported_at: datetime) -> Iterator[str]:
    """The whole export, header first, each line without its newline."""
    yield header(log, exported_at)
    for transfer in log.transfers:
        yield line(transfer)


def _canonical(value: object) -> str:
    # The same rule as domain.chain_hash, so a transfer line minus chain_hash is the hashed text.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
