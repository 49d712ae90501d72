"""Duplicate funding, pure: every organisation funded more than once (by more than one
allocation, place, department or stream), found by its org-id where the organisations register
gives one, with the amounts and purposes side by side; and, for a proposal, the funding its
recipient already has for a similar purpose, for the board to see before it votes.

An organisation is matched across places by its org-id (the identifier the 360Giving export
publishes, so the same match can be made from any place's open data); one with no org-id is
matched only within its own place, by its reference there.

Similar purpose *(choice)*: the same mission, or at least half of the significant words (four
letters or more) of the shorter purpose shared with the other.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from contracts import format_pounds

WORD = re.compile(r"[a-z]{4,}")
SIMILAR_SHARE_NUMERATOR, SIMILAR_SHARE_DENOMINATOR = 1, 2


@dataclass(frozen=True)
class Funding:
    """One allocation to an organisation, as the report shows it."""

    place_id: str
    allocation_id: str
    recipient_ref: str
    org_id: str | None
    name: str | None
    purpose: str
    mission_id: str
    value_pence: int
    status: str
    departments: tuple[str, ...]
    streams: tuple[str, ...]

    @property
    def organisation_key(self) -> str:
        return self.org_id or f"{self.place_id}:{self.recipient_ref}"


def report(fundings: list[Funding]) -> list[dict[str, Any]]:
    """Organisations funded more than once, most money first; each with its allocations side
    by side, the totals, and what makes it more than one (allocations, places, departments)."""
    grouped: dict[str, list[Funding]] = defaultdict(list)
    for funding in fundings:
        grouped[funding.organisation_key].append(funding)
    rows: list[dict[str, Any]] = []
    for key, group in grouped.items():
        places = sorted({f.place_id for f in group})
        departments = sorted({d for f in group for d in f.departments})
        streams = sorted({s for f in group for s in f.streams})
        if len(group) < 2 and len(departments) < 2:
            continue
        total = sum(f.value_pence for f in group)
        rows.append(
            {
                "organisation": key,
                "org_id": group[0].org_id,
                "name": next((f.name for f in group if f.name), None),
                "allocations_count": len(group),
                "places": places,
                "departments": departments,
                "streams": streams,
                "total_pence": total,
                "total": format_pounds(total),
                "allocations": [
                    {**f.__dict__, "value": format_pounds(f.value_pence)}
                    for f in sorted(group, key=lambda f: (f.place_id, f.allocation_id))
                ],
            }
        )
    return sorted(rows, key=lambda row: (-row["total_pence"], row["organisation"]))


def similar(one: Funding, other: Funding) -> bool:
    if one.mission_id and one.mission_id == other.mission_id and one.place_id == other.place_id:
        return True
    words, other_words = (
        set(WORD.findall(one.purpose.lower())),
        set(WORD.findall(other.purpose.lower())),
    )
    shorter = min(len(words), len(other_words))
    shared = len(words & other_words)
    return shorter > 0 and shared * SIMILAR_SHARE_DENOMINATOR >= shorter * SIMILAR_SHARE_NUMERATOR


def already_funded(proposal: Funding, fundings: list[Funding]) -> list[str]:
    """Sentences for the board: the recipient's other funding for a similar purpose."""
    return [
        f"{f.organisation_key} already holds {f.allocation_id} in {f.place_id} "
        f"({format_pounds(f.value_pence)}, {f.status.replace('_', ' ')}) for “{f.purpose}”"
        for f in sorted(fundings, key=lambda f: (f.place_id, f.allocation_id))
        if f.organisation_key == proposal.organisation_key
        and (f.place_id, f.allocation_id) != (proposal.place_id, proposal.allocation_id)
        and similar(proposal, f)
    ]
