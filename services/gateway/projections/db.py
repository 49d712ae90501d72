"""The projections room's database access: the read models kept from public events (the pot,
allocations, the board, claims, contracts, evidence, payments, remittances), the inbox, and
reconciliation runs. The only module of the room that talks to asyncpg."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import astuple
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.command_log import db as command_log_db
from services.gateway.delivery import db as delivery_db
from services.gateway.projections.domain import PotStreamChange
from services.gateway.projections.reconciliation import ReadModels
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

Row = dict[str, Any]


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [dict(record) for record in records]


Write = Callable[[asyncpg.Connection, Row], Awaitable[None]]


def _writes(query_name: str, fields: str) -> Write:
    """A read-model write that passes an event's `fields` (their names, separated by spaces),
    as they are and in this order, to the named query."""
    query = getattr(QUERIES, query_name)
    names = fields.split()

    async def write(connection: asyncpg.Connection, values: Row) -> None:
        await connection.execute(query, *(values[name] for name in names))

    write.__name__ = write.__qualname__ = query_name
    return write


# --- Pot, statements, spend -------------------------------------------------------------------


async def add_to_pot_streams(
    connection: asyncpg.Connection, changes: list[PotStreamChange]
) -> None:
    """Apply increments to the pot overview in one statement (one change per stream row)."""
    if not changes:
        return
    columns = list(zip(*[astuple(change) for change in changes], strict=True))
    await connection.execute(QUERIES.add_to_pot_streams, *[list(column) for column in columns])


async def pot_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.pot_for_place, place_id))


async def statements_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.statements_for_place, place_id))


async def close_period(connection: asyncpg.Connection, place_id: str, year: str) -> None:
    await connection.execute(QUERIES.close_period, place_id, year)


async def insert_spends(
    connection: asyncpg.Connection, spends: list[tuple[str, str, int, Row, datetime]]
) -> None:
    """Keep (spend id, place, amount, record, when the ledger recorded it) of each spend; one
    already kept is left as it is."""
    await connection.execute(
        QUERIES.insert_spends,
        [spend_id for spend_id, _, _, _, _ in spends],
        [place_id for _, place_id, _, _, _ in spends],
        [amount for _, _, amount, _, _ in spends],
        [json.dumps(record) for _, _, _, record, _ in spends],
        [spent_at for _, _, _, _, spent_at in spends],
    )


async def spend_for_place(connection: asyncpg.Connection, place_id: str, limit: int) -> list[Row]:
    rows = await connection.fetch(QUERIES.spend_for_place, place_id, limit)
    return [json.loads(row["record"]) for row in rows]


# --- Allocations and reservations -------------------------------------------------------------


async def insert_allocation(connection: asyncpg.Connection, values: Row) -> None:
    await connection.execute(
        QUERIES.insert_allocation,
        values["place_id"],
        values["allocation_id"],
        values["allocation_type"],
        values["recipient_id"],
        values["purpose"],
        values["mission_id"],
        values["start_date"],
        values["end_date"],
        values["value_pence"],
        values["financial_year"],
        values["proposed_by"],
        json.dumps(list(values.get("purpose_tags", ()))),
        values.get("proposed_at"),
    )


async def set_allocation_status(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, status: str, reason: str
) -> None:
    await connection.execute(QUERIES.set_allocation_status, place_id, allocation_id, status, reason)


async def set_allocation_decided(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, decided_by: str
) -> None:
    await connection.execute(QUERIES.set_allocation_decided, place_id, allocation_id, decided_by)


async def set_allocation_funded(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, amount_pence: int
) -> None:
    await connection.execute(QUERIES.set_allocation_funded, place_id, allocation_id, amount_pence)


set_allocation_varied = _writes(
    "set_allocation_varied",
    "place_id allocation_id new_value_pence new_end_date new_purpose reason",
)


async def allocations_for_place(
    connection: asyncpg.Connection, place_id: str, limit: int
) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.allocations_for_place, place_id, limit))


async def allocation_for_round(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> Row | None:
    """An allocation's type, status and funded money, or None (read by the citizens room)."""
    row = await connection.fetchrow(QUERIES.allocation_for_round, place_id, allocation_id)
    return dict(row) if row is not None else None


async def insert_reservation(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    financial_year: str,
    amount_pence: int,
    attribution: list[Row],
) -> None:
    await connection.execute(
        QUERIES.insert_reservation,
        place_id,
        allocation_id,
        financial_year,
        amount_pence,
        json.dumps(attribution),
    )


async def release_reservation(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, amount_pence: int
) -> tuple[str, list[Row]] | None:
    """Add a release; return the reservation's year and stream mix, or None if unknown."""
    row = await connection.fetchrow(
        QUERIES.release_reservation, place_id, allocation_id, amount_pence
    )
    if row is None:
        return None
    return row["financial_year"], json.loads(row["attribution"])


# --- Contracts, evidence, payments ------------------------------------------------------------


async def insert_contract(connection: asyncpg.Connection, values: Row) -> None:
    await connection.execute(
        QUERIES.insert_contract,
        values["place_id"],
        values["contract_id"],
        values["allocation_id"],
        values["provider_id"],
        json.dumps(values["prices"]),
        values["cap_pence"],
        json.dumps(values.get("terms", {})),
    )


async def contract_provider(
    connection: asyncpg.Connection, place_id: str, contract_id: str
) -> str | None:
    provider: str | None = await connection.fetchval(
        QUERIES.contract_provider, place_id, contract_id
    )
    return provider


async def contracts_for_place(
    connection: asyncpg.Connection, place_id: str, providers: list[str] | None, limit: int
) -> list[Row]:
    rows = await connection.fetch(QUERIES.contracts_for_place, place_id, providers, limit)
    return [{**dict(row), "prices": json.loads(row["prices"])} for row in rows]


async def upsert_evidence_batch(connection: asyncpg.Connection, values: Row) -> None:
    await connection.execute(
        QUERIES.upsert_evidence_batch,
        values["place_id"],
        values["contract_id"],
        values["batch_id"],
        values.get("provider_id", ""),
        values["status"],
        values.get("claim_count", 0),
        values.get("accepted_count", 0),
        values.get("rejected_count", 0),
        values.get("verified_count", 0),
        values.get("amount_pence", 0),
        json.dumps(values.get("reasons", [])),
    )


async def evidence_for_contract(
    connection: asyncpg.Connection, place_id: str, contract_id: str, limit: int
) -> list[Row]:
    rows = await connection.fetch(QUERIES.evidence_for_contract, place_id, contract_id, limit)
    return [
        {
            **dict(row),
            "reasons": json.loads(row["reasons"]),
            "sample": json.loads(row["sample"]),
            "verification_outcome": json.loads(row["verification_outcome"] or "null"),
        }
        for row in rows
    ]


async def set_verification_outcome(
    connection: asyncpg.Connection, place_id: str, contract_id: str, batch_id: str, outcome: Row
) -> None:
    await connection.execute(
        QUERIES.set_verification_outcome, place_id, contract_id, batch_id, json.dumps(outcome)
    )


async def add_evidence_sample(
    connection: asyncpg.Connection,
    place_id: str,
    contract_id: str,
    batch_id: str,
    sample_size: int,
    claims: list[Row],
) -> None:
    await connection.execute(
        QUERIES.add_evidence_sample,
        place_id,
        contract_id,
        batch_id,
        sample_size,
        json.dumps(claims),
    )


async def note_evidence_received(
    connection: asyncpg.Connection, place_id: str, contract_id: str, batch_id: str, at: datetime
) -> None:
    """Keep when the batch's valid claim was received (its first submission)."""
    await connection.execute(QUERIES.note_evidence_received, place_id, contract_id, batch_id, at)


async def note_payment_made(
    connection: asyncpg.Connection, place_id: str, payment_id: str, at: datetime
) -> None:
    """Keep when the payment was made, for the days-to-pay figures."""
    await connection.execute(QUERIES.note_payment_made, place_id, payment_id, at)


async def insert_payment(connection: asyncpg.Connection, values: Row) -> None:
    await connection.execute(
        QUERIES.insert_payment,
        values["place_id"],
        values["payment_id"],
        values["allocation_id"],
        values.get("provider_id", ""),
        values.get("contract_id"),
        values.get("claim_batch_id"),
        values["amount_pence"],
        values.get("payment_kind", ""),
        values["status"],
        values.get("reason", ""),
        json.dumps(values.get("attribution", [])),
    )


async def add_recovery(
    connection: asyncpg.Connection, place_id: str, payment_id: str, amount_pence: int
) -> None:
    await connection.execute(QUERIES.add_recovery, place_id, payment_id, amount_pence)


async def payments_for_place(
    connection: asyncpg.Connection, place_id: str, limit: int
) -> list[Row]:
    rows = await connection.fetch(QUERIES.payments_for_place, place_id, limit)
    return [{**dict(row), "attribution": json.loads(row["attribution"])} for row in rows]


async def claim_inbox_batch(
    connection: asyncpg.Connection,
    consumer: str,
    event_ids: list[uuid.UUID],
    event_types: list[str],
) -> set[uuid.UUID]:
    """Record a batch of messages in the inbox; return the ids not seen before."""
    rows = await connection.fetch(QUERIES.claim_inbox_batch, consumer, event_ids, event_types)
    return {row["event_id"] for row in rows}


# --- Web read models: recording --------------------------------------------------------------


async def set_allocation_approval(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    rules_version: int | None,
    sign_off_required: bool | None,
    decided_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.set_allocation_approval,
        place_id,
        allocation_id,
        rules_version,
        sign_off_required,
        decided_at,
    )


async def set_allocation_rejection(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    reason: str,
    rule: str | None,
    decided_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.set_allocation_rejection, place_id, allocation_id, reason, decided_at, rule
    )


async def upsert_board(connection: asyncpg.Connection, values: Row) -> None:
    """Keep the board's latest configuration (an older version arriving late changes nothing)."""
    await connection.execute(
        QUERIES.upsert_board,
        values["place_id"],
        values["board_version"],
        values["chair_id"],
        values["chair_role"],
        values["accounting_officer_id"],
        json.dumps(values["members"]),
    )


upsert_decision_rules = _writes(
    "upsert_decision_rules",
    "place_id rules_version quorum_members majority sign_off_threshold_pence claim_response_days",
)


insert_interest = _writes(
    "insert_interest", "place_id interest_id member_id recipient_id allocation_id description"
)


async def upsert_vote(connection: asyncpg.Connection, values: Row) -> None:
    await connection.execute(
        QUERIES.upsert_vote,
        values["place_id"],
        values["allocation_id"],
        values["variation_id"] or "",
        values["member_id"],
        values["vote"],
        values["rules_version"],
        values.get("reason"),
    )


async def insert_board_decision(
    connection: asyncpg.Connection, values: Row, decided_at: datetime
) -> None:
    await connection.execute(
        QUERIES.insert_board_decision,
        values["place_id"],
        values["allocation_id"],
        values["variation_id"] or "",
        values["outcome"],
        values["rules_version"],
        json.dumps(list(values["votes_for"])),
        json.dumps(list(values["votes_against"])),
        json.dumps(list(values["abstentions"])),
        json.dumps(list(values["recused"])),
        values["reason"],
        decided_at,
    )


async def insert_sign_off(
    connection: asyncpg.Connection,
    values: Row,
    state: str,
    reasons: str | None,
    decided_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.insert_sign_off,
        values["place_id"],
        values["allocation_id"],
        values["variation_id"] or "",
        state,
        values["accounting_officer_id"],
        reasons,
        decided_at,
    )


async def insert_refusal(
    connection: asyncpg.Connection, event_id: uuid.UUID, values: Row, refused_at: datetime
) -> None:
    await connection.execute(
        QUERIES.insert_refusal,
        values["place_id"],
        event_id,
        values["command_type"],
        values["subject_id"],
        values["rule"],
        values["reason"],
        refused_at,
    )


upsert_earmark = _writes(
    "upsert_earmark",
    "place_id earmark_id kind purpose_tag minimum_share_basis_points department_code "
    "funding_stream_code reason",
)


async def upsert_missions(connection: asyncpg.Connection, values: Row) -> None:
    """Keep every mission of an adopted plan (one statement for the whole plan)."""
    missions = values["missions"]
    await connection.execute(
        QUERIES.upsert_missions,
        values["place_id"],
        values["plan_id"],
        values["title"],
        values["spending_review_period"],
        [mission["mission_id"] for mission in missions],
        [mission["title"] for mission in missions],
        [mission["metro_mission_id"] for mission in missions],
        [json.dumps(list(mission["national_mission_metrics"])) for mission in missions],
    )


insert_claim = _writes(
    "insert_claim",
    "place_id claim_id claim_kind claimant_id claimant_kind service_description lodged_on "
    "response_due_on",
)


set_claim_response = _writes(
    "set_claim_response",
    "place_id claim_id outcome reasons responded_by responded_on late response_due_on",
)


async def set_claim_overdue(
    connection: asyncpg.Connection, place_id: str, claim_id: str, as_of: date
) -> None:
    await connection.execute(QUERIES.set_claim_overdue, place_id, claim_id, as_of)


async def insert_remittance(
    connection: asyncpg.Connection, values: Row, advised_at: datetime
) -> None:
    await connection.execute(
        QUERIES.insert_remittance,
        values["place_id"],
        values["payment_id"],
        values["contract_id"],
        values["batch_id"],
        values["provider_id"],
        values["amount_pence"],
        json.dumps(values["lines"]),
        values["transfer_id"],
        advised_at,
        json.dumps(values.get("payer_shares", [])),
    )


async def insert_clawback(connection: asyncpg.Connection, values: Row, raised_at: datetime) -> None:
    await connection.execute(
        QUERIES.insert_clawback,
        values["place_id"],
        values["contract_id"],
        values["clawback_id"],
        values["payment_id"],
        values["metric_id"],
        values["claim_period_id"],
        values["amount_pence"],
        values["reason"],
        raised_at,
    )


async def settle_clawback(
    connection: asyncpg.Connection, values: Row, settled_at: datetime
) -> None:
    await connection.execute(
        QUERIES.settle_clawback,
        values["place_id"],
        values["contract_id"],
        values["clawback_id"],
        values["recovered"],
        values["amount_pence"],
        values["reason"],
        settled_at,
    )


async def replace_segment_funnel(
    connection: asyncpg.Connection, place_id: str, contract_id: str, segments: list[Row]
) -> None:
    """Put the latest measurement of a contract's funnel in place of the one before."""
    await connection.execute(QUERIES.forget_segment_funnel, place_id, contract_id)
    await connection.execute(
        QUERIES.record_segment_funnel,
        place_id,
        contract_id,
        *[[segment[step] for segment in segments] for step in SEGMENT_FUNNEL_STEPS],
    )


SEGMENT_FUNNEL_STEPS = ("segment", "referred", "engaged", "achieved", "paid")


async def add_to_funnel(
    connection: asyncpg.Connection,
    place_id: str,
    contract_id: str,
    referred_count: int,
    engaged_count: int,
) -> None:
    await connection.execute(
        QUERIES.add_to_funnel, place_id, contract_id, referred_count, engaged_count
    )


# --- Web read models: views -------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as JSON has it: times and dates as ISO strings, ids as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _view_rows(records: list[asyncpg.Record], json_columns: tuple[str, ...] = ()) -> list[Row]:
    """Rows as plain JSON-ready dicts, with the named jsonb-as-text columns parsed."""
    return [
        {
            name: json.loads(value) if name in json_columns and value is not None else _plain(value)
            for name, value in record.items()
        }
        for record in records
    ]


async def pot_years(connection: asyncpg.Connection, place_id: str) -> list[str]:
    return [row["financial_year"] for row in await connection.fetch(QUERIES.pot_years, place_id)]


async def pot_streams_in_year(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.pot_streams_in_year, place_id, financial_year))


async def period_is_closed(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> bool:
    return bool(await connection.fetchval(QUERIES.period_is_closed, place_id, financial_year))


async def spend_by_month(
    connection: asyncpg.Connection, place_id: str, department_code: str | None
) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.spend_by_month, place_id, department_code))


async def board_allocations(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    records = await connection.fetch(QUERIES.board_allocations, place_id)
    return _view_rows(records, ("purpose_tags",))


async def votes_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.votes_for_place, place_id))


async def board_decisions(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    records = await connection.fetch(QUERIES.board_decisions, place_id)
    return _view_rows(records, ("votes_for", "votes_against", "abstentions", "recused"))


async def sign_offs(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.sign_offs, place_id))


async def refusals_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.refusals_for_place, place_id))


async def interests_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.interests_for_place, place_id))


async def missions_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.missions_for_place, place_id))


async def earmarks_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.earmarks_for_place, place_id))


async def public_decisions(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    records = await connection.fetch(QUERIES.public_decisions, place_id)
    rows = _view_rows(records, ("votes_for", "votes_against", "abstentions", "recused"))
    for row in rows:
        del row["decided_at"]
    return rows


async def contracts_of_provider(
    connection: asyncpg.Connection, place_id: str, provider_id: str
) -> list[Row]:
    records = await connection.fetch(QUERIES.contracts_of_provider, place_id, provider_id)
    return _view_rows(records, ("prices",))


async def batches_of_provider(
    connection: asyncpg.Connection, place_id: str, provider_id: str
) -> list[Row]:
    records = await connection.fetch(QUERIES.batches_of_provider, place_id, provider_id)
    return _view_rows(records, ("reasons",))


async def remittances_of_provider(
    connection: asyncpg.Connection, place_id: str, provider_id: str
) -> list[Row]:
    records = await connection.fetch(QUERIES.remittances_of_provider, place_id, provider_id)
    return _view_rows(records, ("lines", "payer_shares"))


async def payments_of_provider(
    connection: asyncpg.Connection, place_id: str, provider_id: str
) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.payments_of_provider, place_id, provider_id))


async def clawbacks_of_provider(
    connection: asyncpg.Connection, place_id: str, provider_id: str
) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.clawbacks_of_provider, place_id, provider_id))


async def verifier_queue(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.verifier_queue, place_id), ("sample",))


async def contract_terms(
    connection: asyncpg.Connection, place_id: str, contract_id: str
) -> Row | None:
    records = await connection.fetch(QUERIES.contract_terms, place_id, contract_id)
    rows = _view_rows(records, ("prices", "terms"))
    return rows[0] if rows else None


async def metric_totals(
    connection: asyncpg.Connection, place_id: str, contract_id: str
) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.metric_totals, place_id, contract_id))


async def metric_recoveries(
    connection: asyncpg.Connection, place_id: str, contract_id: str
) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.metric_recoveries, place_id, contract_id))


async def contract_funnel(connection: asyncpg.Connection, place_id: str, contract_id: str) -> Row:
    row = await connection.fetchrow(QUERIES.contract_funnel, place_id, contract_id)
    assert row is not None, "the funnel query always returns one row"
    return dict(row)


async def segment_funnel(
    connection: asyncpg.Connection, place_id: str, contract_id: str
) -> dict[str, Row]:
    """The contract's last measured funnel, by segment."""
    rows = await connection.fetch(QUERIES.segment_funnel, place_id, contract_id)
    return {row["segment"]: dict(row) for row in rows}


async def claims_for_place(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    return _view_rows(await connection.fetch(QUERIES.claims_for_place, place_id))


# --- Rebuild ----------------------------------------------------------------------------------


async def clear_read_models(connection: asyncpg.Connection, consumer: str) -> None:
    await connection.execute(QUERIES.truncate_read_models)
    await command_log_db.forget_outcomes(connection)
    await connection.execute(QUERIES.forget_inbox, consumer)


# --- Recoveries (clawbacks) as negative spend ---------------------------------------------------


async def payment_for_recovery(
    connection: asyncpg.Connection, place_id: str, payment_id: str
) -> Row | None:
    """The made payment a recovery takes money back from, with its attribution, its year and
    whether that year is closed; None if the gateway never saw the payment made."""
    row = await connection.fetchrow(QUERIES.payment_for_recovery, place_id, payment_id)
    if row is None:
        return None
    return {**dict(row), "attribution": json.loads(row["attribution"])}


# --- Reconciliation with the ledger -----------------------------------------------------------


async def reconcile_places(connection: asyncpg.Connection) -> list[str]:
    """Every place the money read models hold figures for."""
    return [row["place_id"] for row in await connection.fetch(QUERIES.reconcile_places)]


async def money_read_models(connection: asyncpg.Connection, place_id: str) -> ReadModels:
    """One place's money figures, as the read models hold them, read in one snapshot."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        return ReadModels(
            pot_streams=_rows(await connection.fetch(QUERIES.pot_for_place, place_id)),
            allocations_reserved=_rows(
                await connection.fetch(QUERIES.reconcile_allocations, place_id)
            ),
            providers_net=_rows(await connection.fetch(QUERIES.reconcile_providers, place_id)),
            departments_net=await delivery_db.departments_net(connection, place_id),
            spend_net=_net_by_year(
                _rows(await connection.fetch(QUERIES.reconcile_spend, place_id))
                + await delivery_db.recoveries_by_year(connection, place_id)
            ),
        )


def _net_by_year(rows: list[Row]) -> list[Row]:
    """Pence per financial year, summed over the rows, in year order (a year-less row last)."""
    totals: dict[str | None, int] = {}
    for row in rows:
        totals[row["financial_year"]] = totals.get(row["financial_year"], 0) + row["net_pence"]
    years = sorted(totals, key=lambda year: (year is None, year or ""))
    return [{"financial_year": year, "net_pence": totals[year]} for year in years]


async def spent_at_of(connection: asyncpg.Connection, spend_ids: list[str]) -> dict[str, str]:
    """When each of these spends was recorded (ISO time), by spend id."""
    rows = await connection.fetch(QUERIES.spent_at_of, spend_ids)
    return {row["spend_id"]: _plain(row["spent_at"]) for row in rows}


async def record_reconciliation_run(
    connection: asyncpg.Connection,
    place_id: str | None,
    started_at: datetime,
    differences_count: int,
    accounts_checked: int,
) -> None:
    await connection.execute(
        QUERIES.record_reconciliation_run,
        place_id,
        started_at,
        differences_count,
        accounts_checked,
    )


async def latest_reconciliation_run(connection: asyncpg.Connection, place_id: str) -> Row | None:
    row = await connection.fetchrow(QUERIES.latest_reconciliation_run, place_id)
    return None if row is None else dict(row)


# --- Per-claim results of evidence batches ----------------------------------------------------


async def insert_claim_results(
    connection: asyncpg.Connection,
    batch: tuple[str, str, str, int],
    first_position: int,
    results: list[Row],
    at: datetime,
) -> None:
    """Store one part of a chunk's per-claim results; `batch` is (place, contract, batch,
    chunk)."""
    place_id, contract_id, batch_id, chunk_index = batch
    columns = (
        "row_number",
        "participant_hash",
        "metric_id",
        "achieved_on",
        "status",
        "rule",
        "reason",
        "amount_pence",
    )
    await connection.execute(
        QUERIES.insert_claim_results,
        place_id,
        contract_id,
        batch_id,
        chunk_index,
        at,
        list(range(first_position, first_position + len(results))),
        *[[result[column] for result in results] for column in columns],
    )


async def set_claims_status(
    connection: asyncpg.Connection,
    batch: tuple[str, str, str],
    status: str,
    claims: list[Row],
    at: datetime,
) -> None:
    """Move the named claims of a batch (place, contract, batch) to `status`."""
    await connection.execute(
        QUERIES.set_claims_status,
        *batch,
        status,
        at,
        [claim["participant_hash"] for claim in claims],
        [claim["metric_id"] for claim in claims],
        [claim.get("rule") for claim in claims],
        [claim.get("reason") for claim in claims],
    )


async def set_batch_claims_paid(
    connection: asyncpg.Connection, batch: tuple[str, str, str], at: datetime
) -> None:
    await connection.execute(QUERIES.set_batch_claims_paid, *batch, at)


async def set_claim_clawed_back(
    connection: asyncpg.Connection, claim: tuple[str, str, str, str], reason: str, at: datetime
) -> None:
    """Mark a paid claim (place, contract, participant, metric) clawed back, with why."""
    await connection.execute(QUERIES.set_claim_clawed_back, *claim, reason, at)


async def claim_results_page(
    connection: asyncpg.Connection,
    batch: tuple[str, str, str],
    status: str | None,
    after: tuple[int, int],
    limit: int,
) -> list[Row]:
    rows = await connection.fetch(QUERIES.claim_results_page, *batch, status, *after, limit)
    return _rows(rows)


async def claim_results_summary(
    connection: asyncpg.Connection, batch: tuple[str, str, str]
) -> list[Row]:
    return _rows(await connection.fetch(QUERIES.claim_results_summary, *batch))


async def contract_metric_ids(
    connection: asyncpg.Connection, place_id: str, contract_id: str
) -> frozenset[str] | None:
    """The metrics the contract prices; None for a contract the read model does not hold."""
    if await contract_provider(connection, place_id, contract_id) is None:
        return None
    ids = await connection.fetchval(QUERIES.contract_metric_ids, place_id, contract_id)
    return frozenset(ids)


async def allocations_with_id(connection: asyncpg.Connection, allocation_id: str) -> list[dict]:
    """(place_id, allocation_type, recipient_id) of every place's allocation of this id."""
    return [dict(row) for row in await connection.fetch(QUERIES.allocations_with_id, allocation_id)]


async def known_places(connection: asyncpg.Connection) -> list[str]:
    """Every place the read models hold (the start page lists them)."""
    return [str(row["place_id"]) for row in await connection.fetch(QUERIES.known_places)]
