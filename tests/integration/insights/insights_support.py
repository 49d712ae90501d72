"""Read-model rows written by hand for the insights tests: a place with one outcomes contract,
one grant, a pot settled for two years and a proposal (figures in the tests' comments)."""

from __future__ import annotations

import json
from datetime import date

import asyncpg

CONTRACT_PRICES = [
    {"metric_id": "JOB", "price_pence": 100_000, "cap_pence": 4_000_000, "payer_id": "DWP"},
    {"metric_id": "HOUSED", "price_pence": 50_000, "cap_pence": 1_500_000, "payer_id": "MHCLG"},
]
CONTRACT_TERMS = {
    "payers": [{"payer_id": "DWP", "cap_pence": 5_000_000}, {"payer_id": "MHCLG"}],
    "metrics": [],
    "start_date": "2026-04-01",
    "end_date": "2029-03-31",
    "claim_periods": [
        {"claim_period_id": "CP-1", "starts_on": "2026-04-01", "ends_on": "2026-05-31",
         "planned_payment_pence": 1_000_000},
        {"claim_period_id": "CP-2", "starts_on": "2026-06-01", "ends_on": "2026-12-31",
         "planned_payment_pence": 1_000_000},
        {"claim_period_id": "CP-3", "starts_on": "2027-01-01", "ends_on": "2027-06-30",
         "planned_payment_pence": 2_000_000},
        {"claim_period_id": "CP-4", "starts_on": "2027-07-01", "ends_on": "2028-06-30",
         "planned_payment_pence": 1_000_000},
    ],
}  # fmt: skip


async def connect(database_url: str) -> asyncpg.Connection:
    return await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})


async def write_place(database_url: str, place_id: str = "GM") -> None:
    connection = await connect(database_url)
    try:
        await connection.executemany(
            "INSERT INTO pot_streams (place_id, financial_year, department_code,"
            " funding_stream_code, settled_pence, received_pence, paid_pence, available_pence)"
            " VALUES ($1, $2, 'DWP', 'WORK', $3, $4, $5, $6)",
            [
                (place_id, "2026-27", 10_000_000, 6_000_000, 2_000_000, 3_000_000),
                (place_id, "2027-28", 5_000_000, 0, 0, 5_000_000),
            ],
        )
        await connection.executemany(
            "INSERT INTO allocations (place_id, allocation_id, allocation_type, recipient_id,"
            " purpose, mission_id, start_date, end_date, value_pence, financial_year,"
            " proposed_by, status) VALUES ($1, $2, $3, $4, 'help', 'M-1', $5, $6, $7, $8,"
            " 'fin', $9)",
            [
                (place_id, "A-OC", "outcomes_contract", "PROV-WW", date(2026, 4, 1),
                 date(2029, 3, 31), 6_000_000, "2026-27", "funded"),
                (place_id, "A-GRANT", "grant", "PROV-JS", date(2026, 4, 1), date(2028, 3, 31),
                 1_200_000, "2026-27", "funded"),
                (place_id, "P-BIG", "grant", "PROV-NEW", date(2027, 4, 1), date(2028, 3, 31),
                 4_000_000, "2027-28", "proposed"),
            ],
        )  # fmt: skip
        await connection.executemany(
            "INSERT INTO payments (place_id, payment_id, allocation_id, provider_id, contract_id,"
            " amount_pence, status) VALUES ($1, $2, $3, $4, $5, $6, 'made')",
            [
                (place_id, "PAY-1", "A-OC", "PROV-WW", "OC-1", 500_000),
                (place_id, "PAY-2", "A-GRANT", "PROV-JS", None, 200_000),
            ],
        )
        await connection.execute(
            "INSERT INTO contracts (place_id, contract_id, allocation_id, provider_id, prices,"
            " cap_pence, terms) VALUES ($1, 'OC-1', 'A-OC', 'PROV-WW', $2::jsonb, 6000000,"
            " $3::jsonb)",
            place_id,
            json.dumps(CONTRACT_PRICES),
            json.dumps(CONTRACT_TERMS),
        )
        line = {"claim_period_id": "CP-1", "metric_id": "JOB", "metric_version": 1,
                "outcome_count": 5, "amount_pence": 500_000}  # fmt: skip
        await connection.execute(
            "INSERT INTO remittances (place_id, payment_id, contract_id, batch_id, provider_id,"
            " amount_pence, lines, transfer_id, advised_at) VALUES ($1, 'PAY-1', 'OC-1', 'B-1',"
            " 'PROV-WW', 500000, $2::jsonb, 'T-1', now())",
            place_id,
            json.dumps([line]),
        )
    finally:
        await connection.close()
