"""The grant monitoring room's database access: its own tables (plans, reports, holds, claims)
and reads of the gateway's allocation and payment read models, by named queries."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.monitoring.diligence import (
    BankCheck,
    Conflict,
    DueDiligence,
    Override,
    RegistrationCheck,
)
from services.gateway.monitoring.domain import Measure, ScheduledReport
from services.gateway.monitoring.duplicates import Funding
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")
ROWS_MAX = 10_000
"""Rows one monitoring table reads at most (DOMAIN.md §6: up to 1,000 allocations a place)."""

Row = dict[str, Any]


async def grant_of(connection: asyncpg.Connection, place_id: str, allocation_id: str) -> Row | None:
    row = await connection.fetchrow(QUERIES.grant_of, place_id, allocation_id)
    return dict(row) if row else None


async def reports_started(connection: asyncpg.Connection, place_id: str, allocation_id: str) -> int:
    started: int = await connection.fetchval(QUERIES.reports_started, place_id, allocation_id)
    return started


async def save_plan(
    connection: asyncpg.Connection,
    place_id: str,
    grant: Row,
    measures: list[Measure],
    schedule: dict[str, Any],
    paid_in_arrears: bool,
    reports: list[ScheduledReport],
    set_by: str,
) -> None:
    """The plan, and its reports scheduled afresh (only while none was sent)."""
    allocation_id, recipient_id = grant["allocation_id"], grant["recipient_id"]
    await connection.execute(
        QUERIES.upsert_plan,
        place_id,
        allocation_id,
        recipient_id,
        json.dumps([m.__dict__ for m in measures]),
        json.dumps(schedule),
        paid_in_arrears,
        set_by,
    )
    await connection.execute(QUERIES.delete_due_reports, place_id, allocation_id)
    await connection.executemany(
        QUERIES.insert_report,
        [
            (
                place_id,
                allocation_id,
                r.report_number,
                recipient_id,
                r.kind,
                r.milestone,
                r.due_date,
            )
            for r in reports
        ],
    )


async def plan_of(connection: asyncpg.Connection, place_id: str, allocation_id: str) -> Row | None:
    row = await connection.fetchrow(QUERIES.plan_of, place_id, allocation_id)
    if row is None:
        return None
    plan = dict(row)
    plan["measures"] = [Measure(**m) for m in json.loads(plan["measures"])]
    plan["schedule"] = json.loads(plan["schedule"])
    return plan


async def lock_plan(connection: asyncpg.Connection, place_id: str, allocation_id: str) -> bool:
    return await connection.fetchval(QUERIES.lock_plan, place_id, allocation_id) is not None


async def reports_of_grant(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> list[Row]:
    rows = await connection.fetch(QUERIES.reports_of_grant, place_id, allocation_id)
    return [_decoded(row, "figures", "attachments") for row in rows]


async def lock_report(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, report_number: int
) -> Row | None:
    row = await connection.fetchrow(QUERIES.lock_report, place_id, allocation_id, report_number)
    return dict(row) if row else None


async def submit_report(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    report_number: int,
    figures: dict[str, int],
    narrative: str,
    attachments: list[str],
    submitted_by: str,
) -> None:
    await connection.execute(
        QUERIES.submit_report,
        place_id,
        allocation_id,
        report_number,
        json.dumps(figures),
        narrative,
        json.dumps(attachments),
        submitted_by,
    )


async def review_report(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    report_number: int,
    status: str,
    reviewed_by: str,
    note: str,
) -> None:
    await connection.execute(
        QUERIES.review_report,
        place_id,
        allocation_id,
        report_number,
        status,
        reviewed_by,
        note or None,
    )


async def reports_of_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    rows = await connection.fetch(QUERIES.reports_of_place, place_id, ROWS_MAX)
    return [_decoded(row, "figures", "attachments") for row in rows]


async def grants_of_recipient(
    connection: asyncpg.Connection, place_id: str, recipient_id: str
) -> list[Row]:
    rows = await connection.fetch(QUERIES.grants_of_recipient, place_id, recipient_id)
    grants = []
    for row in rows:
        grant = dict(row)
        grant["measures"] = [Measure(**m) for m in json.loads(grant["measures"])]
        grants.append(grant)
    return grants


async def record_hold(
    connection: asyncpg.Connection, place_id: str, values: Row, held_at: datetime
) -> None:
    await connection.execute(
        QUERIES.upsert_hold,
        place_id,
        values["allocation_id"],
        values["instalment_number"],
        values["report_number"],
        values["amount_pence"],
        values["reason"],
        held_at,
    )


async def release_hold(
    connection: asyncpg.Connection, place_id: str, values: Row, released_at: datetime
) -> None:
    await connection.execute(
        QUERIES.release_hold,
        place_id,
        values["allocation_id"],
        values["instalment_number"],
        released_at,
        values["payment_id"],
    )


async def holds_of_place(
    connection: asyncpg.Connection,
    place_id: str,
    recipient_id: str | None = None,
    *,
    with_released: bool = False,
) -> list[Row]:
    rows = await connection.fetch(QUERIES.holds_of_place, place_id, recipient_id, with_released)
    return [dict(row) for row in rows]


async def claim_figures(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, claim_id: str
) -> tuple[int, int]:
    """What the ledger paid from the allocation, and what other pending claims ask for."""
    paid: int = await connection.fetchval(QUERIES.paid_pence_of_allocation, place_id, allocation_id)
    pending: int = await connection.fetchval(
        QUERIES.pending_claims_pence, place_id, allocation_id, claim_id
    )
    return paid, pending


async def lock_claim(connection: asyncpg.Connection, place_id: str, claim_id: str) -> Row | None:
    row = await connection.fetchrow(QUERIES.lock_claim, place_id, claim_id)
    return dict(row) if row else None


async def save_claim(
    connection: asyncpg.Connection,
    place_id: str,
    claim_id: str,
    grant: Row,
    amount_pence: int,
    evidence: str,
    submitted_by: str,
) -> None:
    await connection.execute(
        QUERIES.upsert_claim,
        place_id,
        claim_id,
        grant["allocation_id"],
        grant["recipient_id"],
        amount_pence,
        evidence,
        submitted_by,
    )


async def programme_review_claim(
    connection: asyncpg.Connection,
    place_id: str,
    claim_id: str,
    status: str,
    reviewed_by: str,
    note: str,
) -> None:
    await connection.execute(
        QUERIES.programme_review_claim, place_id, claim_id, status, reviewed_by, note or None
    )


async def finance_review_claim(
    connection: asyncpg.Connection,
    place_id: str,
    claim_id: str,
    status: str,
    reviewed_by: str,
    note: str,
    payment_id: str | None,
    command_event_id: uuid.UUID | None,
) -> None:
    await connection.execute(
        QUERIES.finance_review_claim,
        place_id,
        claim_id,
        status,
        reviewed_by,
        note or None,
        payment_id,
        command_event_id,
    )


async def claim_payment_requested(
    connection: asyncpg.Connection, place_id: str, claim_id: str, payment_id: str
) -> None:
    await connection.execute(QUERIES.claim_payment_requested, place_id, claim_id, payment_id)


async def claim_paid(connection: asyncpg.Connection, place_id: str, payment_id: str) -> None:
    await connection.execute(QUERIES.claim_paid, place_id, payment_id)


async def claim_payment_refused(
    connection: asyncpg.Connection, place_id: str, payment_id: str, reason: str
) -> None:
    await connection.execute(QUERIES.claim_payment_refused, place_id, payment_id, reason)


async def claim_refused(
    connection: asyncpg.Connection, place_id: str, command_event_id: uuid.UUID, reason: str
) -> None:
    await connection.execute(QUERIES.claim_refused, place_id, command_event_id, reason)


async def claims_of_place(
    connection: asyncpg.Connection, place_id: str, recipient_id: str | None = None
) -> list[Row]:
    rows = await connection.fetch(QUERIES.claims_of_place, place_id, recipient_id, ROWS_MAX)
    return [dict(row) for row in rows]


def _decoded(row: asyncpg.Record, *json_columns: str) -> Row:
    values = dict(row)
    for column in json_columns:
        if values.get(column) is not None:
            values[column] = json.loads(values[column])
    return values


# --- Due diligence ------------------------------------------------------------------------------


async def organisation_registered(
    connection: asyncpg.Connection, place_id: str, organisation_ref: str
) -> Row | None:
    row = await connection.fetchrow(QUERIES.organisation_registered, place_id, organisation_ref)
    return dict(row) if row else None


async def save_due_diligence(
    connection: asyncpg.Connection, place_id: str, record: DueDiligence, recorded_by: str
) -> None:
    document = json.dumps(asdict(record), default=str)
    ref = record.organisation_ref
    await connection.execute(QUERIES.upsert_due_diligence, place_id, ref, document, recorded_by)
    entry = json.dumps({"recorded": asdict(record)}, default=str)
    await connection.execute(QUERIES.log_due_diligence, place_id, ref, entry, recorded_by)


async def due_diligence_of(
    connection: asyncpg.Connection, place_id: str, organisation_ref: str, *, lock: bool = False
) -> tuple[DueDiligence, Override | None, Row] | None:
    if lock:
        await connection.fetchval(QUERIES.lock_due_diligence, place_id, organisation_ref)
    row = await connection.fetchrow(QUERIES.due_diligence_of, place_id, organisation_ref)
    if row is None:
        return None
    record = _record(json.loads(row["record"]))
    override = None
    if row["override_by"] is not None:
        override = Override(row["override_by"], row["override_reason"], row["override_on"])
    return record, override, dict(row)


async def override_due_diligence(
    connection: asyncpg.Connection, place_id: str, organisation_ref: str, override: Override
) -> None:
    await connection.execute(
        QUERIES.override_due_diligence,
        place_id,
        organisation_ref,
        override.overridden_by,
        override.reason,
        override.overridden_on,
    )
    entry = json.dumps({"overridden": asdict(override)}, default=str)
    await connection.execute(
        QUERIES.log_due_diligence, place_id, organisation_ref, entry, override.overridden_by
    )


async def due_diligence_valid_days(
    connection: asyncpg.Connection, place_id: str, default_days: int
) -> int:
    days: int | None = await connection.fetchval(QUERIES.due_diligence_valid_days, place_id)
    return default_days if days is None else days


async def set_due_diligence_rules(
    connection: asyncpg.Connection, place_id: str, valid_days: int, set_by: str
) -> None:
    await connection.execute(QUERIES.set_due_diligence_rules, place_id, valid_days, set_by)


async def grant_ids_of_recipient(
    connection: asyncpg.Connection, place_id: str, recipient_id: str
) -> list[str]:
    rows = await connection.fetch(QUERIES.grants_of_recipient_any, place_id, recipient_id)
    return [row["allocation_id"] for row in rows]


def _record(document: dict[str, Any]) -> DueDiligence:
    registration = document.get("registration")
    bank = document.get("bank")
    return DueDiligence(
        organisation_ref=document["organisation_ref"],
        registration=None
        if registration is None
        else RegistrationCheck(
            **{**registration, "checked_on": date.fromisoformat(registration["checked_on"])}
        ),
        bank=None
        if bank is None
        else BankCheck(**{**bank, "checked_on": date.fromisoformat(bank["checked_on"])}),
        conflicts=tuple(Conflict(**c) for c in document.get("conflicts", ())),
        source=document.get("source", "manual"),
    )


# --- Duplicate funding ------------------------------------------------------------------------

# An allocation counts as funding once the board approved it (the money is committed or spent).
FUNDING_STATUSES = ("awaiting_sign_off", "reservation_requested", "funded", "expired")


async def fundings(
    connection: asyncpg.Connection, statuses: tuple[str, ...] = FUNDING_STATUSES
) -> list[Funding]:
    rows = await connection.fetch(QUERIES.fundings, list(statuses), ROWS_MAX)
    found = []
    for row in rows:
        shares = json.loads(row["attribution"]) if row["attribution"] else []
        scheme, identifier = row["org_id_scheme"], row["org_id_identifier"]
        found.append(
            Funding(
                place_id=row["place_id"],
                allocation_id=row["allocation_id"],
                recipient_ref=row["recipient_id"],
                org_id=f"{scheme}-{identifier}" if scheme else None,
                name=row["name"],
                purpose=row["purpose"],
                mission_id=row["mission_id"],
                value_pence=row["value_pence"],
                status=row["status"],
                departments=tuple(sorted({s["department_code"] for s in shares})),
                streams=tuple(
                    sorted({f"{s['department_code']}/{s['funding_stream_code']}" for s in shares})
                ),
            )
        )
    return found
