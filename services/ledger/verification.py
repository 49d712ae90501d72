"""Checks an auditor can run at any time: the hash chain and the balances, per place.

The chain is recomputed from the genesis hash over every stored transfer; the balances are
re-derived from the transfers' legs and compared with the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from services.ledger import db, domain


@dataclass
class PlaceVerification:
    """What verifying one place found."""

    place_id: str
    transfers_checked: int
    broken_link: domain.BrokenLink | None
    balance_mismatches: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.broken_link is None and not self.balance_mismatches

    def summary(self) -> str:
        if self.intact:
            return f"{self.place_id}: {self.transfers_checked} transfers, chain and balances intact"
        problems = []
        if self.broken_link is not None:
            link = self.broken_link
            problems.append(
                f"first broken link at sequence {link.sequence} "
                f"(transfer {link.transfer_id}): {link.problem}"
            )
        problems += self.balance_mismatches
        return f"{self.place_id}: " + "; ".join(problems)


async def verify_place(connection: asyncpg.Connection, place_id: str) -> PlaceVerification:
    """Recompute the place's chain and balances from its transfers."""
    transfers = await db.transfers_for_place(connection, place_id)
    derived = domain.derive_balances(transfers)
    stored = {
        (row["financial_year"], row["account"]): row["balance_pence"]
        for row in await db.balances_for_place(connection, place_id)
        if row["balance_pence"] != 0
    }
    mismatches = [
        f"balance of {account} in {year} is {stored.get((year, account), 0)} pence stored but "
        f"{derived.get((year, account), 0)} pence from the transfers"
        for year, account in sorted(stored.keys() | derived.keys())
        if stored.get((year, account), 0) != derived.get((year, account), 0)
    ]
    return PlaceVerification(
        place_id, len(transfers), domain.first_broken_link(transfers), mismatches
    )


async def verify_all(
    connection: asyncpg.Connection, place_id: str | None = None
) -> list[PlaceVerification]:
    places = [place_id] if place_id else await db.places(connection)
    return [await verify_place(connection, place) for place in places]
