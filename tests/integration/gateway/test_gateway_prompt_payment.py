"""Prompt-payment returns over HTTP, from read-model rows written by hand: the half year's
compliance figures with the payment that took longer than 30 days, the quarter's payments over
£30,000 with the supplier's registered name, and who may read them."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from contracts import AttributionShare, Event, EvidenceSubmitted, PaymentMade
from contracts.envelope import wrap
from services.gateway.app import HANDLERS
from services.runtime.consumer import HandlerContext
from services.runtime.outbox import Outbox
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)

pytestmark = pytest.mark.integration

NOTICE = "/api/v1/places/GM/returns/prompt-payment/2026-27/H1"
LARGE = "/api/v1/places/GM/returns/payments-over-30000/2026-27/Q1"


def on(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


async def write_read_models(database_url: str) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.executemany(
            "INSERT INTO evidence_batches (place_id, contract_id, batch_id, status, received_at)"
            " VALUES ('GM', 'OC-1', $1, 'paid', $2)",
            [("B-1", on(4, 1)), ("B-2", on(5, 1)), ("B-3", on(6, 1))],
        )
        await connection.executemany(
            "INSERT INTO payments (place_id, payment_id, allocation_id, provider_id, contract_id,"
            " claim_batch_id, amount_pence, status, paid_at)"
            " VALUES ('GM', $1, 'A-1', $2, $3, $4, $5, $6, $7)",
            [
                ("P-1", "PROV-WW", "OC-1", "B-1", 4_000_000, "made", on(4, 21)),  # 20 days
                ("P-2", "PROV-WW", "OC-1", "B-2", 3_000_000, "made", on(6, 15)),  # 45 days
                ("P-3", "PROV-JS", "OC-1", "B-3", 500_000, "made", on(6, 11)),  # 10 days
                ("P-4", "PROV-WW", None, None, 9_000_000, "made", on(5, 1)),  # a grant
                ("P-5", "PROV-WW", "OC-1", "B-3", 9_000_000, "rejected", on(6, 2)),
            ],
        )
        await connection.execute(
            "INSERT INTO organisations (place_id, organisation_ref, kind, name, legal_form,"
            " org_id_scheme, org_id_identifier, registered_by) VALUES ('GM', 'PROV-WW',"
            " 'provider', 'Workwell CIC', 'social_enterprise', 'GB-COH', '12345678', 'test')"
        )
    finally:
        await connection.close()


async def test_finance_staff_read_the_notice_figures_and_the_large_payments(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    provider = bearer(await token_for(database_url, "prov-gm", "provider@GM:PROV-WW"))
    async with client_for(settings, gateway_settings()) as client:
        notice = await client.get(NOTICE, headers=finance)
        large = await client.get(LARGE, headers=auditor)
        refused = [(await client.get(NOTICE, headers=h)).status_code for h in (provider, {})]
        bad_half = await client.get(NOTICE.replace("H1", "H3"), headers=finance)
        bad_year = await client.get(NOTICE.replace("2026-27", "2026-29"), headers=finance)

    assert notice.status_code == 200, notice.text
    figures = notice.json()
    assert [(p["payment_id"], p["days_to_pay"]) for p in figures["payments"]] == [
        ("P-1", 20),
        ("P-3", 10),
        ("P-2", 45),
    ]
    assert figures["average_days_to_pay"] == "25.0"  # (20 + 10 + 45) / 3
    assert figures["paid_within_days"] == {"1_to_30": 2, "31_to_60": 1, "61_or_more": 0}
    assert figures["paid_within_days_percent"]["1_to_30"] == "66.7"
    assert [p["payment_id"] for p in figures["later_than_30_days"]] == ["P-2"]
    assert large.status_code == 200, large.text
    assert [
        (p["payment_id"], p["amount_pence"], p["supplier_name"]) for p in large.json()["payments"]
    ] == [("P-1", 4_000_000, "Workwell CIC")]  # P-2 is exactly £30,000: not over
    assert refused == [403, 401]
    assert bad_half.status_code == 422
    assert bad_year.status_code == 422 and "financial_year" in bad_year.text


async def feed(database_url: str, events: list[tuple[Event, datetime]]) -> None:
    """Each event through the gateway's own handler, as its consumer does, dated as given."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        for event, occurred_at in events:
            envelope = wrap(event, producer="test", occurred_at=occurred_at)
            async with connection.transaction():
                outbox = Outbox(connection, "gateway", causation=envelope)
                await HANDLERS[type(event)](HandlerContext(connection, outbox, envelope), event)
    finally:
        await connection.close()


async def test_the_claim_and_payment_dates_come_from_the_events_as_they_happened(
    settings, database_url
) -> None:
    submitted = EvidenceSubmitted(
        place_id="GM",
        contract_id="OC-1",
        batch_id="B-1",
        provider_id="PROV-WW",
        claim_count=2,
        accepted_count=2,
        rejected_count=0,
    )
    payment = PaymentMade(
        place_id="GM",
        payment_id="P-1",
        allocation_id="A-1",
        provider_id="PROV-WW",
        amount_pence=1_000_00,
        payment_kind="outcome_payment",
        contract_id="OC-1",
        claim_batch_id="B-1",
        attribution=(AttributionShare(department_code="DWP", funding_stream_code="WORK",
                                      amount_pence=1_000_00),),
        transfer_id="T-1",
    )  # fmt: skip
    # A second submission to the same batch later does not move when its claim arrived.
    await feed(database_url, [(submitted, on(4, 1)), (submitted, on(4, 20)), (payment, on(5, 11))])
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    async with client_for(settings, gateway_settings()) as client:
        notice = await client.get(NOTICE, headers=finance)

    assert notice.status_code == 200, notice.text
    (timed,) = notice.json()["payments"]
    assert (timed["claim_received_on"], timed["paid_on"], timed["days_to_pay"]) == (
        "2026-04-01",
        "2026-05-11",
        40,
    )
