"""A two-payer outcomes contract through the real ledger and the gateway's own handlers: the
ledger books each payer's share of a payment on the payer's account and credits back the share
a clawback takes, its payer statements and trial balance say so; the department page shows the
department's statement as an outcome payer, and INDIGO splits the outcome payments and totals
by payer, all to the penny. (The split and each payer's cap are the outcomes service's:
tests/integration/outcomes/test_outcomes_payer_shares.py.)"""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from contracts import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
    Event,
    OutcomesContractRegistered,
    PaymentMade,
    PaymentRequested,
    RecoveryRaised,
    RecoveryRecorded,
    ReservationMade,
    ReservationRequested,
    SettlementRecorded,
    topics,
)
from contracts.envelope import wrap
from contracts.ledger import PayerShare
from contracts.outcomes import MetricPrice, Payer
from services.gateway.app import HANDLERS
from services.ledger.app import DEFINITION as LEDGER
from services.runtime.consumer import HandlerContext
from services.runtime.outbox import Outbox
from tests.integration.gateway.gateway_support import client_for, gateway_settings
from tests.integration.opendata.test_opendata_exports_live import (
    PUBLISHERS,
    register_organisations,
)
from tests.integration.web.web_support import browser_client, sign_in, web_user
from tests.support.kafka import TopicReader, eventually, publish, running
from tests.support.ledger import ledger_reports, seen, settlement

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPORT_TOKEN = "payer-statements-test-credential"
YEAR = "2026-27"
# DWP pays for job starts, DHSC for sustained work: £2,000.00 and £3,000.00 of one payment.
SPLIT = (
    PayerShare(payer_id="DHSC", amount_pence=3_000_00),
    PayerShare(payer_id="DWP", amount_pence=2_000_00),
)
# One job start clawed back: DWP's £1,000.00.
CLAWED = (PayerShare(payer_id="DWP", amount_pence=1_000_00),)


def gateway_events(reservation: Event, payment: Event, recovery: Event) -> list[Event]:
    """What the gateway hears of the contract: the board's, the outcomes service's and the
    ledger's own answers."""
    return [
        AllocationProposed(
            place_id="GM",
            allocation_id="A-1",
            allocation_type="outcomes_contract",
            recipient_id="PROV-WORKWELL",
            purpose="Supported employment",
            mission_id="M-GOOD-JOBS",
            start_date=date(2026, 5, 1),
            end_date=date(2028, 3, 31),
            value_pence=30_000_00,
            financial_year=YEAR,
            proposed_by="finance-officer",
        ),
        AllocationApproved(
            place_id="GM",
            allocation_id="A-1",
            allocation_type="outcomes_contract",
            recipient_id="PROV-WORKWELL",
            value_pence=30_000_00,
            financial_year=YEAR,
            decided_by="chair",
        ),
        reservation,
        AllocationFunded(place_id="GM", allocation_id="A-1", amount_pence=30_000_00),
        OutcomesContractRegistered(
            place_id="GM",
            contract_id="C-1",
            allocation_id="A-1",
            provider_id="PROV-WORKWELL",
            prices=(
                MetricPrice(metric_id="JOB-START", price_pence=1_000_00, payer_id="DWP"),
                MetricPrice(metric_id="SUSTAINED", price_pence=3_000_00, payer_id="DHSC"),
            ),
            cap_pence=30_000_00,
            payers=(
                Payer(payer_id="DWP", cap_pence=10_000_00),
                Payer(payer_id="DHSC", cap_pence=20_000_00),
            ),
        ),
        payment,
        recovery,
    ]


async def feed(database_url: str, events: list[Event]) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        for event in events:
            envelope = wrap(event, producer="test")
            async with connection.transaction():
                outbox = Outbox(connection, "gateway", causation=envelope)
                await HANDLERS[type(event)](HandlerContext(connection, outbox, envelope), event)
    finally:
        await connection.close()


async def test_each_payers_share_is_booked_shown_on_its_statement_and_split_in_indigo(
    settings, database_url
) -> None:
    async with (
        TopicReader(settings, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings) as host,
    ):
        await publish(
            settings,
            settlement("DWP", "WORK", 200_000_00),
            settlement("DHSC", "HEALTH", 100_000_00),
        )
        await eventually(seen(reader, SettlementRecorded, 2))
        await publish(
            settings,
            ReservationRequested(
                place_id="GM",
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=30_000_00,
                purpose="supported employment",
            ),
        )
        [reservation] = await eventually(seen(reader, ReservationMade))
        await publish(
            settings,
            PaymentRequested(
                place_id="GM",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-WORKWELL",
                amount_pence=5_000_00,
                payment_kind="outcome_payment",
                contract_id="C-1",
                claim_batch_id="B-1",
                purpose="outcome payment",
                payer_shares=SPLIT,
            ),
        )
        [payment] = await eventually(seen(reader, PaymentMade))
        await publish(
            settings,
            RecoveryRaised(
                place_id="GM",
                recovery_id="R-1",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-WORKWELL",
                amount_pence=1_000_00,
                reason="a job start found invalid",
                payer_shares=CLAWED,
            ),
        )
        [recovery] = await eventually(seen(reader, RecoveryRecorded))
        async with ledger_reports(host, REPORT_TOKEN) as ledger:
            dwp = (await ledger.get("/ledger/v1/places/GM/statements/payers/DWP")).json()
            dhsc = (await ledger.get("/ledger/v1/places/GM/statements/payers/DHSC")).json()
            trial = (await ledger.get(f"/ledger/v1/places/GM/trial-balance/{YEAR}")).json()

    assert payment.payer_shares == SPLIT and recovery.payer_shares == CLAWED
    assert (dwp["paid_pence"], dwp["recovered_pence"], dwp["net_pence"]) == (
        2_000_00,
        1_000_00,
        1_000_00,
    )
    assert (dhsc["paid_pence"], dhsc["recovered_pence"], dhsc["net_pence"]) == (
        3_000_00,
        0,
        3_000_00,
    )
    balances = {row["account"]: row["balance_pence"] for row in trial["accounts"]}
    assert balances["payer:DWP"] == -1_000_00 and balances["payer:DHSC"] == -3_000_00
    assert balances["payers:funded"] == 4_000_00
    # The memorandum does not move money: the provider kept £4,000.00, and the books balance.
    assert balances["provider:PROV-WORKWELL"] == 4_000_00
    assert trial["debits_pence"] == trial["credits_pence"]

    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as client:
        await register_organisations(client, database_url)
        await feed(database_url, gateway_events(reservation, payment, recovery))
        projects = (await client.get("/open-data/places/GM/indigo.json")).json()
    await web_user(database_url, "dwp-analyst", "department@GM:DWP")
    async with browser_client(settings) as browser:
        await sign_in(browser, "dwp-analyst")
        page = (await browser.get("/places/GM/departments/DWP")).text

    [project] = projects["projects"]
    payments = [
        (p["payer_organisation_id"]["value"], p["money"]["amount"]["value"])
        for p in project["data"]["outcome_payments"]
    ]
    assert payments == [("GB-GOR-D12", 3_000.0), ("GB-GOR-D10", 1_000.0)]  # DHSC, DWP
    totals = {
        c["organisation_id"]["value"]: c["total_outcome_payments"]["amount"]["value"]
        for c in project["data"]["outcome_payment_commitments"]
    }
    assert totals == {"GB-GOR-D10": 1_000.0, "GB-GOR-D12": 3_000.0}
    assert 'id="payer-statement"' in page
    assert f'data-payer-year="{YEAR}"' in page and 'data-payer-net="100000"' in page
