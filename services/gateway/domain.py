"""The gateway's pure rules: how ledger events change the pot overview, and command ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from contracts import ReservationMade, SettlementRecorded

# Fixed, so the same Idempotency-Key always names the same command event.
IDEMPOTENCY_NAMESPACE = uuid.UUID("0f7d1c52-5a8e-4d0e-9a3c-6b1f9f2d4e21")


@dataclass(frozen=True)
class PotStreamChange:
    """An increment to one stream's row of the pot overview."""

    place_id: str
    financial_year: str
    department_code: str
    funding_stream_code: str
    settled_pence: int = 0
    reserved_pence: int = 0
    paid_pence: int = 0


def command_event_id(idempotency_key: str | None) -> uuid.UUID:
    """The command's event id: derived from the caller's Idempotency-Key when there is one, so
    a retried request names the same event and is applied once downstream."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key)


def settled(event: SettlementRecorded) -> list[PotStreamChange]:
    return [
        PotStreamChange(
            event.place_id,
            year.financial_year,
            event.department_code,
            event.funding_stream_code,
            settled_pence=year.amount_pence,
        )
        for year in event.profile
    ]


def reserved(event: ReservationMade) -> list[PotStreamChange]:
    return [
        PotStreamChange(
            event.place_id,
            event.financial_year,
            share.department_code,
            share.funding_stream_code,
            reserved_pence=share.amount_pence,
        )
        for share in event.attribution
    ]


def pot_overview(rows: list[dict]) -> dict:
    """Per stream: settled, reserved, paid and available (settled less reserved), plus totals."""
    streams = []
    for row in rows:
        available = row["settled_pence"] - row["reserved_pence"]
        streams.append({**row, "available_pence": available})
    totals = {
        field: sum(stream[field] for stream in streams)
        for field in ("settled_pence", "reserved_pence", "paid_pence", "available_pence")
    }
    return {"streams": streams, "totals": totals}
