#!/usr/bin/env python3
"""Verify a singlepot audit export (docs/audit-export.md) with the Python standard library only.

    python tools/verify_audit.py FILE

Recomputes every link of the place's hash chain from the genesis hash, checks that each
transfer's legs balance, re-derives every account's balance from the legs and compares them with
the balances the ledger reported in the header. Prints "verified N transfers, head <hash>" and
exits 0, or names the first broken line and why and exits 1. Reads nothing but FILE and imports
nothing from the singlepot repository, so an auditor can read all of it before trusting it.
"""

from __future__ import annotations

import hashlib
import json
import sys

FORMAT = "singlepot-audit-export"
FORMAT_VERSIONS = (1,)
TRANSFER_FIELDS = frozenset(
    {
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
    }
)
LEG_FIELDS = frozenset({"account", "direction", "amount_pence"})


class Broken(Exception):
    """The export fails verification at one line, for the reason given."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")


def canonical_hash(body: dict) -> str:
    """SHA-256 of the body's canonical JSON: sorted keys, no whitespace, UTF-8, non-ASCII kept."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse(line_number: int, text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise Broken(line_number, f"is not JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise Broken(line_number, "is not a JSON object")
    return value


def check_header(header: dict) -> None:
    if header.get("format") != FORMAT:
        raise Broken(1, f"format is {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("format_version") not in FORMAT_VERSIONS:
        raise Broken(1, f"format_version {header.get('format_version')!r} is not supported")
    if header.get("hash_algorithm") != "sha256":
        raise Broken(1, f"hash_algorithm {header.get('hash_algorithm')!r} is not sha256")
    for field in ("place_id", "transfer_count", "genesis_hash", "head_hash", "balances"):
        if field not in header:
            raise Broken(1, f"the header has no {field}")


def check_legs(line_number: int, legs: object) -> list[tuple[str, int]]:
    """The legs as (account, credit-positive pence); they must add up to zero."""
    if not isinstance(legs, list) or len(legs) < 2:
        raise Broken(line_number, "a transfer needs a list of at least two legs")
    signed = []
    for leg in legs:
        if not isinstance(leg, dict) or set(leg) != LEG_FIELDS:
            raise Broken(line_number, f"a leg must have exactly {sorted(LEG_FIELDS)}")
        amount = leg["amount_pence"]
        if type(amount) is not int or amount <= 0:
            raise Broken(line_number, f"leg amount_pence {amount!r} is not a positive integer")
        if leg["direction"] not in ("debit", "credit"):
            raise Broken(line_number, f"leg direction {leg['direction']!r} is not debit/credit")
        signed.append((leg["account"], amount if leg["direction"] == "credit" else -amount))
    total = sum(amount for _, amount in signed)
    if total != 0:
        raise Broken(line_number, f"legs do not balance: credits minus debits is {total} pence")
    return signed


def check_transfer(line_number: int, transfer: dict, place_id: str, sequence: int, previous: str):
    if set(transfer) != TRANSFER_FIELDS:
        missing = sorted(TRANSFER_FIELDS - set(transfer))
        extra = sorted(set(transfer) - TRANSFER_FIELDS)
        raise Broken(
            line_number, f"fields differ from the format: missing {missing}, extra {extra}"
        )
    if transfer["place_id"] != place_id:
        raise Broken(line_number, f"place_id {transfer['place_id']!r} is not {place_id!r}")
    if transfer["sequence"] != sequence:
        raise Broken(
            line_number,
            f"sequence {transfer['sequence']!r} where {sequence} was expected "
            "(a transfer is missing, repeated or out of order)",
        )
    if transfer["previous_hash"] != previous:
        raise Broken(line_number, "previous_hash is not the chain_hash of the line before")
    body = {key: value for key, value in transfer.items() if key != "chain_hash"}
    if canonical_hash(body) != transfer["chain_hash"]:
        raise Broken(line_number, "content does not match its chain_hash (the line was changed)")
    return check_legs(line_number, transfer["legs"])


def verify(lines: list[str]) -> tuple[int, str]:
    """(transfers verified, head hash), or raise Broken."""
    if not lines:
        raise Broken(1, "the file is empty: no header")
    header = parse(1, lines[0])
    check_header(header)
    place_id, previous = header["place_id"], header["genesis_hash"]
    balances: dict[tuple[str, str], int] = {}
    count = 0
    for index, text in enumerate(lines[1:], start=2):
        if not text.strip():
            raise Broken(index, "is blank")
        transfer = parse(index, text)
        for account, amount in check_transfer(index, transfer, place_id, count + 1, previous):
            key = (transfer["financial_year"], account)
            balances[key] = balances.get(key, 0) + amount
        previous, count = transfer["chain_hash"], count + 1
    end = len(lines) + 1
    if count != header["transfer_count"]:
        raise Broken(end, f"{count} transfers found, the header says {header['transfer_count']}")
    if previous != header["head_hash"]:
        raise Broken(end, "the last chain_hash is not the header's head_hash")
    check_balances(end, balances, header["balances"])
    return count, previous


def check_balances(line_number: int, derived: dict, reported: list) -> None:
    stated = {(row["financial_year"], row["account"]): row["balance_pence"] for row in reported}
    derived = {key: value for key, value in derived.items() if value != 0}
    for key in sorted(stated.keys() | derived.keys()):
        if stated.get(key, 0) != derived.get(key, 0):
            year, account = key
            raise Broken(
                line_number,
                f"balance of {account} in {year}: the header says {stated.get(key, 0)} pence, "
                f"the transfers give {derived.get(key, 0)} pence",
            )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python tools/verify_audit.py FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {argv[1]}: {error}", file=sys.stderr)
        return 2
    try:
        count, head = verify(lines)
    except Broken as broken:
        print(f"NOT verified: {broken}")
        return 1
    print(f"verified {count} transfers, head {head}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
