"""Reads a place's open-data inputs from the gateway's read models: read-only, named queries
from this package's queries.sql, each bounded by `rows_max`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import (
    Allocation,
    ClaimPeriodTerms,
    Contract,
    ContractTerms,
    EvidenceBatch,
    InvestorFlow,
    MetricPrice,
    MetricTerms,
    PaidByPayer,
    PayerTerms,
    Payment,
    PlaceData,
    Publisher,
    Recovery,
    Reservation,
    StreamShare,
)
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

ROWS_MAX = 100_000
"""The most rows of any one read model an export reads (DOMAIN.md §6: at most ~1,000
allocations per place; payments are the largest table)."""


async def publishing_places(
    connection: asyncpg.Connection, rows_max: int = ROWS_MAX
) -> list[dict[str, Any]]:
    """Each place the gateway has heard of, with its registered combined authority or None."""
    rows = await connection.fetch(QUERIES.publishing_places, rows_max)
    return [dict(row) for row in rows]


async def place_known(connection: asyncpg.Connection, place_id: str) -> bool:
    known: bool = await connection.fetchval(QUERIES.place_known, place_id)
    return known


async def organisations(
    connection: asyncpg.Connection, place_id: str, rows_max: int = ROWS_MAX
) -> dict[str, Organisation]:
    rows = await connection.fetch(QUERIES.organisations, place_id, rows_max)
    return {row["organisation_ref"]: Organisation(**dict(row)) for row in rows}


async def register_organisation(
    connection: asyncpg.Connection, place_id: str, organisation: Organisation, registered_by: str
) -> None:
    await connection.execute(
        QUERIES.register_organisation,
        place_id,
        organisation.organisation_ref,
        organisation.kind,
        organisation.name,
        organisation.legal_form,
        organisation.org_id_scheme,
        organisation.org_id_identifier,
        organisation.postcode,
        organisation.is_sme,
        organisation.is_vcse,
        registered_by,
    )


async def record_investor_flow(
    connection: asyncpg.Connection,
    place_id: str,
    flow: InvestorFlow,
) -> None:
    """Keep an investor flow (a replayed one is already kept)."""
    await connection.execute(
        QUERIES.record_investor_flow,
        place_id,
        flow.flow_id,
        flow.contract_id,
        flow.investor_id,
        flow.flow_kind,
        flow.amount_pence,
        flow.occurred_on,
    )


async def record_payer_shares(
    connection: asyncpg.Connection,
    place_id: str,
    entry_id: str,
    payment_id: str,
    financial_year: str | None,
    shares: list[tuple[str, int]],
    recorded_at: datetime,
) -> None:
    """Keep a payment's (positive) or a recovery's (negative) split by outcome payer."""
    await connection.execute(
        QUERIES.record_payer_shares,
        place_id,
        entry_id,
        payment_id,
        financial_year,
        [payer for payer, _ in shares],
        recorded_at,
        [pence for _, pence in shares],
    )


async def payer_statement_by_year(
    connection: asyncpg.Connection, place_id: str, payer_id: str
) -> list[dict[str, Any]]:
    rows = await connection.fetch(QUERIES.payer_statement_by_year, place_id, payer_id)
    return [dict(row) for row in rows]


async def place_data(
    connection: asyncpg.Connection,
    place_id: str,
    rows_max: int = ROWS_MAX,
    publisher: Callable[[Organisation | None], Publisher] | None = None,
) -> PlaceData:
    """Everything the exports need for one place, read in one repeatable-read snapshot so the
    tables agree with each other; `publisher` resolves the place's publishing identity from its
    registered combined authority (None: the demo's placeholders)."""
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        return await read_place_data(connection, place_id, rows_max, publisher)


async def read_place_data(
    connection: asyncpg.Connection,
    place_id: str,
    rows_max: int = ROWS_MAX,
    publisher: Callable[[Organisation | None], Publisher] | None = None,
) -> PlaceData:
    """`place_data` inside the caller's own transaction (a handler's, when keeping releases)."""
    register = await organisations(connection, place_id, rows_max)
    missions = await connection.fetch(QUERIES.missions, place_id, rows_max)
    allocations = await connection.fetch(QUERIES.allocations, place_id, rows_max)
    reservations = await connection.fetch(QUERIES.reservations, place_id, rows_max)
    contracts = await connection.fetch(QUERIES.contracts, place_id, rows_max)
    paid = await connection.fetch(QUERIES.paid_claim_periods, place_id, rows_max)
    evidence = await connection.fetch(QUERIES.evidence_batches, place_id, rows_max)
    payments = await connection.fetch(QUERIES.payments, place_id, rows_max)
    recoveries = await connection.fetch(QUERIES.recoveries, place_id, rows_max)
    investor_flows = await connection.fetch(QUERIES.investor_flows, place_id, rows_max)
    payer_rows = await connection.fetch(QUERIES.payer_shares_of_place, place_id, rows_max)
    authority = register.get(place_id)
    return PlaceData(
        place_id=place_id,
        publisher=publisher(authority) if publisher else None,
        organisations=register,
        mission_titles={row["mission_id"]: row["title"] for row in missions},
        allocations=tuple(Allocation(**dict(row)) for row in allocations),
        reservations={row["allocation_id"]: _reservation(row) for row in reservations},
        contracts=tuple(_contract(row, _paid_periods(paid)) for row in contracts),
        evidence=tuple(EvidenceBatch(**dict(row)) for row in evidence),
        payments=tuple(Payment(**dict(row)) for row in payments),
        recoveries=tuple(Recovery(**dict(row)) for row in recoveries),
        investor_flows=tuple(InvestorFlow(**dict(row)) for row in investor_flows),
        payer_shares=tuple(
            PaidByPayer(row["payer_id"], row["payment_id"], row["amount_pence"])
            for row in payer_rows
        ),
    )


async def read_process_data(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, rows_max: int = ROWS_MAX
) -> PlaceData:
    """One contracting process's rows (its allocation, reservation, contracts and their
    evidence, payments, recoveries and investors) and the place's organisations register, in
    the caller's transaction: what `ocds.release` reads for it, without the rest of the place."""
    register = await organisations(connection, place_id, rows_max)
    allocation = await connection.fetchrow(QUERIES.allocation_of_process, place_id, allocation_id)
    reservation = await connection.fetchrow(QUERIES.reservation_of_process, place_id, allocation_id)
    contracts = await connection.fetch(
        QUERIES.contracts_of_process, place_id, allocation_id, rows_max
    )
    contract_ids = [row["contract_id"] for row in contracts]
    of_contracts = (place_id, contract_ids, rows_max)
    paid = await connection.fetch(QUERIES.paid_claim_periods_of_contracts, *of_contracts)
    paid_periods = _paid_periods(paid)
    evidence = await connection.fetch(QUERIES.evidence_batches_of_contracts, *of_contracts)
    payments = await connection.fetch(
        QUERIES.payments_of_process, place_id, allocation_id, rows_max
    )
    recoveries = await connection.fetch(QUERIES.recoveries_of_contracts, *of_contracts)
    investor_flows = await connection.fetch(QUERIES.investor_flows_of_contracts, *of_contracts)
    return PlaceData(
        place_id=place_id,
        organisations=register,
        allocations=(Allocation(**dict(allocation)),) if allocation else (),
        reservations={allocation_id: _reservation(reservation)} if reservation else {},
        contracts=tuple(_contract(row, paid_periods) for row in contracts),
        evidence=tuple(EvidenceBatch(**dict(row)) for row in evidence),
        payments=tuple(Payment(**dict(row)) for row in payments),
        recoveries=tuple(Recovery(**dict(row)) for row in recoveries),
        investor_flows=tuple(InvestorFlow(**dict(row)) for row in investor_flows),
    )


def _reservation(row: asyncpg.Record) -> Reservation:
    shares = tuple(
        StreamShare(s["department_code"], s["funding_stream_code"], s["amount_pence"])
        for s in json.loads(row["attribution"])
    )
    return Reservation(
        row["allocation_id"],
        row["financial_year"],
        row["amount_pence"],
        row["released_pence"],
        shares,
    )


def _paid_periods(rows: list[asyncpg.Record]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["contract_id"], set()).add(row["claim_period_id"])
    return {contract_id: frozenset(ids) for contract_id, ids in found.items()}


def _contract(row: asyncpg.Record, paid: dict[str, frozenset[str]]) -> Contract:
    prices = tuple(
        MetricPrice(p["metric_id"], p["price_pence"], p.get("cap_pence"), p.get("payer_id"))
        for p in json.loads(row["prices"])
    )
    return Contract(
        row["contract_id"],
        row["allocation_id"],
        row["provider_id"],
        prices,
        row["cap_pence"],
        row["registered_at"],
        _terms(json.loads(row["terms"])),
        paid.get(row["contract_id"], frozenset()),
    )


def _terms(terms: dict[str, Any]) -> ContractTerms:
    """The registered terms as the gateway stored them (OutcomesContractRegistered, as JSON);
    only the fields the exports publish are kept."""
    return ContractTerms(
        payers=tuple(
            PayerTerms(p["payer_id"], p.get("cap_pence")) for p in terms.get("payers", [])
        ),
        metrics=tuple(
            MetricTerms(
                m["metric_id"],
                m["definition"],
                m.get("target_population"),
                m.get("target_count"),
                m.get("validation_method"),
            )
            for m in terms.get("metrics", [])
        ),
        start_date=_date(terms.get("start_date")),
        end_date=_date(terms.get("end_date")),
        claim_periods=tuple(
            ClaimPeriodTerms(
                c["claim_period_id"],
                date.fromisoformat(c["starts_on"]),
                date.fromisoformat(c["ends_on"]),
                _date(c.get("claim_deadline")),
                c.get("planned_payment_pence", 0),
            )
            for c in terms.get("claim_periods", [])
        ),
    )


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
