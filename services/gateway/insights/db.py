"""The insights room's database reads: the place's commitments with their contracts' terms and
what each has paid, its pot by year, and its own rules. The only module here that imports
asyncpg; it reads the gateway's read-model tables through its own named queries."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.insights import domain
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")
ROWS_MAX = 100_000
"""Allocations or contracts read for one place at most (DOMAIN.md §6: up to 1,000)."""
PAYMENTS_MAX = 2_000_000
"""Payments read for one place at most (thousands a year, over a settlement's years)."""


async def commitments(connection: asyncpg.Connection, place_id: str) -> list[domain.Commitment]:
    """The place's funded and pending allocations, each with its contract's terms if any."""
    contracts = await _contract_terms(connection, place_id)
    rows = await connection.fetch(QUERIES.commitments, place_id, ROWS_MAX)
    return [
        domain.Commitment(**dict(row), contract=contracts.get(row["allocation_id"])) for row in rows
    ]


async def _contract_terms(
    connection: asyncpg.Connection, place_id: str
) -> dict[str, domain.ContractTerms]:
    """Each registered contract's terms, by the allocation it spends."""
    lines = await connection.fetch(QUERIES.paid_lines, place_id)
    rows = await connection.fetch(QUERIES.contracts, place_id, ROWS_MAX)
    return {row["allocation_id"]: contract_terms(row, lines) for row in rows}


def contract_terms(row: asyncpg.Record, lines: list[asyncpg.Record]) -> domain.ContractTerms:
    """A contract's stored terms (the registration event's fields) with what it paid."""
    terms: dict[str, Any] = json.loads(row["terms"])
    prices: list[dict[str, Any]] = json.loads(row["prices"])
    own = [line for line in lines if line["contract_id"] == row["contract_id"]]
    by_metric: dict[str, int] = {}
    by_period: dict[str | None, int] = {}
    for line in own:
        by_metric[line["metric_id"]] = by_metric.get(line["metric_id"], 0) + line["paid_pence"]
        period = line["claim_period_id"]
        by_period[period] = by_period.get(period, 0) + line["paid_pence"]
    metrics = tuple(
        domain.MetricTerms(
            price["metric_id"],
            price.get("cap_pence"),
            price.get("payer_id"),
            by_metric.get(price["metric_id"], 0),
        )
        for price in prices
    )
    periods = tuple(
        domain.ClaimPeriodPlan(
            period["claim_period_id"],
            date.fromisoformat(period.get("claim_deadline") or period["ends_on"]),
            int(period.get("planned_payment_pence") or 0),
            by_period.get(period["claim_period_id"], 0),
        )
        for period in terms.get("claim_periods") or []
    )
    return domain.ContractTerms(
        contract_id=row["contract_id"],
        cap_pence=row["cap_pence"],
        paid_pence=row["paid_pence"],
        metrics=metrics,
        payer_caps=tuple((p["payer_id"], p.get("cap_pence")) for p in terms.get("payers") or []),
        periods=periods,
        start_date=_day(terms.get("start_date")),
        end_date=_day(terms.get("end_date")),
    )


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


async def funding(connection: asyncpg.Connection, place_id: str) -> list[domain.YearFunding]:
    rows = await connection.fetch(QUERIES.funding, place_id)
    return [domain.YearFunding(**dict(row)) for row in rows]


async def place_rules(connection: asyncpg.Connection, place_id: str) -> domain.PlaceRules:
    """The place's own choices, or the defaults when it has made none."""
    row = await connection.fetchrow(QUERIES.place_rules, place_id)
    return domain.PlaceRules(**dict(row)) if row else domain.PlaceRules()


async def set_place_rules(
    connection: asyncpg.Connection, place_id: str, rules: domain.PlaceRules, set_by: str
) -> None:
    await connection.execute(
        QUERIES.set_place_rules,
        place_id,
        rules.liability_test,
        rules.provider_share_max_basis_points,
        set_by,
    )


async def allocation_flows(connection: asyncpg.Connection, place_id: str) -> list[domain.Flow]:
    rows = await connection.fetch(QUERIES.allocation_flows, place_id)
    return [domain.Flow(**dict(row)) for row in rows]


async def payment_flows(connection: asyncpg.Connection, place_id: str) -> list[domain.Flow]:
    """Each payment as money to its provider in the financial year it was paid."""
    rows = await connection.fetch(QUERIES.payment_flows, place_id, PAYMENTS_MAX)
    return [
        domain.Flow(
            row["provider_id"], domain.financial_year_on(row["paid_on"]), row["amount_pence"]
        )
        for row in rows
    ]


async def provider_facts(
    connection: asyncpg.Connection, place_id: str
) -> dict[str, domain.ProviderFacts]:
    """What the organisations register says of each provider it holds."""
    rows = await connection.fetch(QUERIES.provider_facts, place_id)
    return {
        row["organisation_ref"]: domain.ProviderFacts(
            row["legal_form"], row["is_sme"], row["is_vcse"]
        )
        for row in rows
    }


async def load_unit_costs(
    connection: asyncpg.Connection, place_id: str, table: list[domain.UnitCost], loaded_by: str
) -> int:
    """Store a checked table as the place's next version; returns the version."""
    async with connection.transaction():
        await connection.execute(QUERIES.lock_unit_costs, place_id)
        version: int = await connection.fetchval(QUERIES.next_unit_cost_version, place_id)
        await connection.executemany(
            QUERIES.insert_unit_cost,
            [
                (place_id, version, unit.metric_id, unit.beneficiary_agency,
                 unit.fiscal_saving_pence, unit.public_value_pence, unit.source,
                 unit.source_year, loaded_by)
                for unit in table
            ],
        )  # fmt: skip
    return version


async def unit_costs(
    connection: asyncpg.Connection, place_id: str, version: int | None = None
) -> tuple[int | None, list[domain.UnitCost]]:
    """A version of the place's unit-cost table (the latest by default) and its number."""
    rows = await connection.fetch(QUERIES.unit_costs, place_id, version)
    table = [
        domain.UnitCost(
            row["metric_id"],
            row["beneficiary_agency"],
            row["fiscal_saving_pence"],
            row["public_value_pence"],
            row["source"],
            row["source_year"],
        )
        for row in rows
    ]
    return (rows[0]["version"] if rows else None), table


async def outcomes_paid(connection: asyncpg.Connection, place_id: str) -> list[domain.OutcomesPaid]:
    rows = await connection.fetch(QUERIES.outcomes_paid, place_id)
    return [domain.OutcomesPaid(**dict(row)) for row in rows]


async def place_known(connection: asyncpg.Connection, place_id: str) -> bool:
    return bool(await connection.fetchval(QUERIES.place_known, place_id))


async def metric_targets(
    connection: asyncpg.Connection, place_id: str
) -> dict[tuple[str, str], int]:
    """Each contract's target count per metric, where its terms set one."""
    rows = await connection.fetch(QUERIES.contracts, place_id, ROWS_MAX)
    targets = {}
    for row in rows:
        for metric in json.loads(row["terms"]).get("metrics") or []:
            if metric.get("target_count") is not None:
                targets[(row["contract_id"], metric["metric_id"])] = int(metric["target_count"])
    return targets


async def funded_purposes(
    connection: asyncpg.Connection, place_id: str
) -> list[tuple[int, list[str]]]:
    rows = await connection.fetch(QUERIES.funded_purposes, place_id, ROWS_MAX)
    return [(row["value_pence"], list(json.loads(row["purpose_tags"]))) for row in rows]


async def evidence_to_payment_days(connection: asyncpg.Connection, place_id: str) -> list[int]:
    rows = await connection.fetch(QUERIES.evidence_to_payment_days, place_id, PAYMENTS_MAX)
    return [row["days"] for row in rows]


async def known_places(connection: asyncpg.Connection, places_max: int) -> list[str]:
    return [row["place_id"] for row in await connection.fetch(QUERIES.known_places, places_max)]
