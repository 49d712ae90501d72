"""The ledger's pure rules: accounts, double-entry transfers, reservations, payments, attribution.

No I/O here. Functions take the balances they need and return the transfer to post, or raise a
`LedgerRejection` whose message a person can act on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from contracts.money import format_pounds
from services.ledger.errors import LedgerRejection

GENESIS_HASH = "0" * 64


# Account names. Balances are kept credit-positive: credits minus debits.
def pot_account(department_code: str, funding_stream_code: str) -> str:
    """The unreserved money of one department's funding stream in the place's pot."""
    return f"pot:{department_code}:{funding_stream_code}"


def settlement_account(department_code: str, funding_stream_code: str) -> str:
    """What a department has committed to the place and not yet paid in (a receivable)."""
    return f"settlement:{department_code}:{funding_stream_code}"


def commitment_account(allocation_id: str, department_code: str, funding_stream_code: str) -> str:
    """Money reserved for one allocation, per department stream it came from."""
    return f"commitment:{allocation_id}:{department_code}:{funding_stream_code}"


def stream_of(account: str) -> tuple[str | None, str | None]:
    """(department_code, funding_stream_code) of a stream-specific account, else (None, None)."""
    parts = account.split(":")
    if parts[0] in ("pot", "settlement", "commitment"):
        return parts[-2], parts[-1]
    return None, None


def provider_paid_account(provider_id: str) -> str:
    """What has been paid out to a provider."""
    return f"provider-paid:{provider_id}"


@dataclass(frozen=True)
class Leg:
    """One side of a transfer."""

    account: str
    direction: Literal["debit", "credit"]
    amount_pence: int

    @property
    def signed_pence(self) -> int:
        """Effect on the credit-positive balance."""
        return self.amount_pence if self.direction == "credit" else -self.amount_pence


@dataclass(frozen=True)
class StreamShare:
    """How much of an amount came from one department's funding stream."""

    department_code: str
    funding_stream_code: str
    amount_pence: int


def settlement_legs(department_code: str, funding_stream_code: str, amount_pence: int) -> list[Leg]:
    """A settlement credits the stream's pot and debits the department's receivable."""
    return [
        Leg(settlement_account(department_code, funding_stream_code), "debit", amount_pence),
        Leg(pot_account(department_code, funding_stream_code), "credit", amount_pence),
    ]


def attribute(amount_pence: int, mix: Sequence[StreamShare]) -> list[StreamShare]:
    """Split `amount_pence` pro rata over `mix`, exactly, to the penny.

    Rounding rule (largest remainder): each share first gets the floor of its exact pro-rata
    amount; the pennies left over go one each to the shares with the largest remainders, ties
    broken by (department_code, funding_stream_code) ascending. The result always adds up to
    `amount_pence` and is the same on every run.
    """
    basis = sum(share.amount_pence for share in mix)
    if amount_pence == 0 or basis <= 0:
        return []
    floors = [(amount_pence * share.amount_pence) // basis for share in mix]
    remainders = [(amount_pence * share.amount_pence) % basis for share in mix]
    left_over = amount_pence - sum(floors)
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


def reservation_legs(
    place_id: str,
    allocation_id: str,
    amount_pence: int,
    financial_year: str,
    pot_mix: Sequence[StreamShare],
) -> tuple[list[Leg], list[StreamShare]]:
    """Reserve `amount_pence` from the pot in proportion to each stream's unreserved balance.

    Raises `LedgerRejection` when the unreserved pot is too small.
    """
    unreserved_pence = sum(share.amount_pence for share in pot_mix)
    if amount_pence > unreserved_pence:
        raise LedgerRejection(
            f"reservation of {format_pounds(amount_pence)} for allocation {allocation_id} "
            f"exceeds the unreserved pot of {format_pounds(unreserved_pence)} for "
            f"{place_id} {financial_year}",
            unreserved_pence=unreserved_pence,
        )
    shares = attribute(amount_pence, pot_mix)
    legs: list[Leg] = []
    for share in shares:
        legs.append(
            Leg(
                pot_account(share.department_code, share.funding_stream_code),
                "debit",
                share.amount_pence,
            )
        )
        legs.append(
            Leg(
                commitment_account(allocation_id, share.department_code, share.funding_stream_code),
                "credit",
                share.amount_pence,
            )
        )
    return legs, shares


def payment_legs(
    allocation_id: str,
    provider_id: str,
    amount_pence: int,
    commitment_mix: Sequence[StreamShare],
) -> tuple[list[Leg], list[StreamShare]]:
    """Pay from an allocation's reservation, attributed pro rata to what remains reserved.

    Raises `LedgerRejection` when the payment is larger than what is still reserved.
    """
    reserved_pence = sum(share.amount_pence for share in commitment_mix)
    if amount_pence > reserved_pence:
        raise LedgerRejection(
            f"payment of {format_pounds(amount_pence)} for allocation {allocation_id} exceeds "
            f"its remaining reservation of {format_pounds(reserved_pence)}",
            unreserved_pence=reserved_pence,
        )
    shares = attribute(amount_pence, commitment_mix)
    legs: list[Leg] = []
    for share in shares:
        legs.append(
            Leg(
                commitment_account(allocation_id, share.department_code, share.funding_stream_code),
                "debit",
                share.amount_pence,
            )
        )
    legs.append(Leg(provider_paid_account(provider_id), "credit", amount_pence))
    return legs, shares


def check_balanced(legs: Sequence[Leg]) -> None:
    """Every transfer balances: a programmer error if not, so an assertion."""
    assert len(legs) >= 2, "a transfer has at least two legs"
    assert sum(leg.signed_pence for leg in legs) == 0, f"unbalanced transfer: {legs}"


def chain_hash(previous_hash: str, transfer: Mapping[str, object]) -> str:
    """The next link of the place's hash chain: SHA-256 over the previous hash and the
    transfer's canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(transfer, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous_hash}|{canonical}".encode()).hexdigest()
