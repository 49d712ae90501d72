"""The projections room's pure rules: how public events change the read models (the pot, the
department feed's views, recoveries as negative spend) and what the board page shows. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
