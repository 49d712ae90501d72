"""The returns room's database reads and writes: payments under contracts with their claims'
dates, the payments notices as approved, and the agreement of balances."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.opendata.transparency import PaymentTax
from services.gateway.returns.agreement import BalanceLine
from services.gateway.returns.prompt_payment import ContractPayment, Period
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")
ROWS_MAX = 1_000_000
"""Payments read for one period of one place at most (DOMAIN.md §6: thousands a year)."""


async def contract_payments(
    connection: asyncpg.Connection, place_id: str, period: Period, rows_max: int = ROWS_MAX
) -> list[ContractPayment]:
    """The place's contract payments paid within the period (UTC days)."""
    start = datetime.combine(period.first_day, time(0), tzinfo=UTC)
    end = datetime.combine(period.last_day + timedelta(days=1), time(0), tzinfo=UTC)
    rows = await connection.fetch(QUERIES.contract_payments, place_id, start, end, rows_max)
    return [ContractPayment(**dict(row)) for row in rows]


async def registered_names(connection: asyncpg.Connection, place_id: str) -> dict[str, str]:
    rows = await connection.fetch(QUERIES.registered_names, place_id)
    return {row["organisation_ref"]: row["name"] for row in rows}


async def payment_notice(
    connection: asyncpg.Connection, place_id: str, notice: str, financial_year: str, period: str
) -> dict[str, Any] | None:
    """The notice as approved, or None while it is a draft."""
    row = await connection.fetchrow(
        QUERIES.payment_notice, place_id, notice, financial_year, period
    )
    if row is None:
        return None
    return {**dict(row), "figures": json.loads(row["figures"])}


async def payment_notices_of_place(
    connection: asyncpg.Connection, place_id: str, rows_max: int = ROWS_MAX
) -> list[dict[str, Any]]:
    rows = await connection.fetch(QUERIES.payment_notices_of_place, place_id, rows_max)
    return [dict(row) for row in rows]


async def approve_payment_notice(
    connection: asyncpg.Connection,
    place_id: str,
    notice: str,
    financial_year: str,
    period: str,
    figures: dict[str, Any],
    digest: str,
    approved_by: str,
    approved_at: datetime,
    command_id: uuid.UUID,
) -> None:
    await connection.execute(
        QUERIES.approve_payment_notice,
        place_id,
        notice,
        financial_year,
        period,
        json.dumps(figures),
        digest,
        approved_by,
        approved_at,
        command_id,
    )


async def command_done_here(
    connection: asyncpg.Connection,
    command_id: uuid.UUID,
    made: dict[str, str],
    event_type: str,
    done_at: datetime,
) -> None:
    """Mark a command the gateway decided itself as done, in the transaction that did it."""
    await connection.execute(
        QUERIES.command_done_here, command_id, json.dumps(made), event_type, done_at
    )


# --- Agreement of balances ---------------------------------------------------------------------


async def balance_lines(
    connection: asyncpg.Connection,
    place_id: str,
    department_code: str | None,
    financial_year: str,
    rows_max: int = ROWS_MAX,
) -> dict[str, list[BalanceLine]]:
    """Each department's lines of the year (one department's, or every department's)."""
    rows = await connection.fetch(
        QUERIES.balance_lines, place_id, department_code, financial_year, rows_max
    )
    found: dict[str, list[BalanceLine]] = {}
    for row in rows:
        fields = dict(row)
        department = fields.pop("department_code")
        found.setdefault(department, []).append(BalanceLine(**fields))
    return found


async def balance_answers(
    connection: asyncpg.Connection,
    place_id: str,
    department_code: str | None,
    financial_year: str,
    rows_max: int = ROWS_MAX,
) -> list[dict[str, Any]]:
    rows = await connection.fetch(
        QUERIES.balance_answers, place_id, department_code, financial_year, rows_max
    )
    return [_decoded(row, "figures", "department_figures") for row in rows]


async def insert_balance_answer(connection: asyncpg.Connection, answer: dict[str, Any]) -> None:
    await connection.execute(
        QUERIES.insert_balance_answer,
        answer["answer_id"],
        answer["place_id"],
        answer["department_code"],
        answer["financial_year"],
        answer["funding_stream_code"],
        answer["answer"],
        json.dumps(answer["figures"]),
        answer["figures_digest"],
        None if answer["department_figures"] is None else json.dumps(answer["department_figures"]),
        answer["note"],
        answer["answered_by"],
        answer["answered_at"],
        answer["command_id"],
    )


async def balance_dispute(
    connection: asyncpg.Connection, place_id: str, dispute_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await connection.fetchrow(QUERIES.balance_dispute, place_id, dispute_id)
    return None if row is None else dict(row)


async def balance_disputes(
    connection: asyncpg.Connection, place_id: str, rows_max: int = ROWS_MAX
) -> list[dict[str, Any]]:
    rows = await connection.fetch(QUERIES.balance_disputes, place_id, rows_max)
    return [_decoded(row, "figures", "department_figures") for row in rows]


async def balance_dispute_notes(
    connection: asyncpg.Connection, dispute_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    rows = await connection.fetch(QUERIES.balance_dispute_notes, dispute_ids)
    found: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["answer_id"], []).append(dict(row))
    return found


async def add_balance_dispute_note(
    connection: asyncpg.Connection,
    dispute_id: uuid.UUID,
    note: str,
    resolves: bool,
    written_by: str,
    written_at: datetime,
    command_id: uuid.UUID,
) -> None:
    """Add a note to a dispute, numbered after its last (under the dispute's row lock)."""
    await connection.execute(QUERIES.lock_balance_dispute, dispute_id)
    await connection.execute(
        QUERIES.insert_balance_dispute_note,
        dispute_id,
        note,
        resolves,
        written_by,
        written_at,
        command_id,
    )


def _decoded(row: asyncpg.Record, *json_fields: str) -> dict[str, Any]:
    fields = dict(row)
    for name in json_fields:
        if fields[name] is not None:
            fields[name] = json.loads(fields[name])
    return fields


# --- Partner returns and the risk share --------------------------------------------------------


async def note_partner_receipt(
    connection: asyncpg.Connection,
    place_id: str,
    receipt_id: str,
    financial_year: str,
    department_code: str,
    funding_stream_code: str,
    amount_pence: int,
    received_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.note_partner_receipt,
        place_id,
        receipt_id,
        financial_year,
        department_code,
        funding_stream_code,
        amount_pence,
        received_at,
    )


async def note_risk_share(
    connection: asyncpg.Connection, share: dict[str, Any], applied_at: datetime
) -> None:
    await connection.execute(
        QUERIES.note_risk_share,
        share["place_id"],
        share["financial_year"],
        share["risk_share_id"],
        share["rule"],
        share["agreement_reference"],
        share["pool_borne_pence"],
        json.dumps(share["partners"]),
        json.dumps(share["moves"]),
        share["transfer_id"],
        applied_at,
    )


async def risk_share(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> dict[str, Any] | None:
    row = await connection.fetchrow(QUERIES.risk_share, place_id, financial_year)
    return None if row is None else _decoded(row, "partners")


async def partner_committed(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> dict[str, int]:
    rows = await connection.fetch(QUERIES.partner_committed, place_id, financial_year)
    return {row["department_code"]: row["committed_pence"] for row in rows}


async def partner_flows(
    connection: asyncpg.Connection,
    place_id: str,
    financial_year: str,
    start: datetime,
    end: datetime,
) -> tuple[dict[str, int], dict[str, int]]:
    """Each partner's (income, spending) dated in [start, end)."""
    income = await connection.fetch(QUERIES.partner_income, place_id, financial_year, start, end)
    spending = await connection.fetch(
        QUERIES.partner_spending, place_id, financial_year, start, end
    )
    return (
        {row["department_code"]: row["income_pence"] for row in income},
        {row["department_code"]: row["spending_pence"] for row in spending},
    )


async def partner_narratives(
    connection: asyncpg.Connection, place_id: str, financial_year: str, quarter: str
) -> dict[str, dict[str, Any]]:
    rows = await connection.fetch(QUERIES.partner_narratives, place_id, financial_year, quarter)
    return {row["department_code"]: dict(row) for row in rows}


async def partner_narrative_quarters(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> dict[str, set[str]]:
    rows = await connection.fetch(QUERIES.partner_narrative_quarters, place_id, financial_year)
    return {row["quarter"]: set(row["departments"]) for row in rows}


async def write_partner_narrative(
    connection: asyncpg.Connection,
    place_id: str,
    financial_year: str,
    quarter: str,
    department_code: str,
    narrative: str,
    written_by: str,
    written_at: datetime,
    command_id: uuid.UUID,
) -> None:
    await connection.execute(
        QUERIES.write_partner_narrative,
        place_id,
        financial_year,
        quarter,
        department_code,
        narrative,
        written_by,
        written_at,
        command_id,
    )


# --- VAT and merchant category on payments ------------------------------------------------------


async def payment_amount(
    connection: asyncpg.Connection, place_id: str, payment_id: str
) -> int | None:
    amount: int | None = await connection.fetchval(QUERIES.payment_amount, place_id, payment_id)
    return amount


async def record_payment_tax(
    connection: asyncpg.Connection,
    place_id: str,
    payment_id: str,
    tax: PaymentTax,
    recorded_by: str,
    recorded_at: datetime,
    command_id: uuid.UUID,
) -> None:
    await connection.execute(
        QUERIES.record_payment_tax,
        place_id,
        payment_id,
        tax.irrecoverable_vat_pence,
        tax.merchant_category,
        recorded_by,
        recorded_at,
        command_id,
    )


async def payment_tax_of_place(
    connection: asyncpg.Connection, place_id: str
) -> dict[str, PaymentTax]:
    rows = await connection.fetch(QUERIES.payment_tax_of_place, place_id)
    return {
        row["payment_id"]: PaymentTax(row["irrecoverable_vat_pence"], row["merchant_category"])
        for row in rows
    }
