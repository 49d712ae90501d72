"""After a clawback, every figure finance staff, departments and the public see agrees with the
ledger's trial balance: the real ledger and the real gateway (its own consumer) on the broker,
a payment split unevenly between two departments' streams and a recovery of part of it; then
the pot overview, the finance page, the spend chart, each department's CSV and the open data
(OCDS and INDIGO) are compared, to the penny, with the trial balance and the ledger's
statements."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from contracts import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
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
from contracts.outcomes import MetricPrice
from services.gateway.web.rendering import pounds
from services.ledger.app import DEFINITION as LEDGER
from tests.integration.gateway.gateway_support import bearer, gateway_settings, token_for
from tests.integration.opendata.test_opendata_exports_live import (
    PUBLISHERS,
    register_organisations,
)
from tests.integration.web.web_support import (
    browser_client,
    gateway_rows,
    sign_in,
    web_user,
)
from tests.support.kafka import TopicReader, eventually, publish, running
from tests.support.ledger import ledger_reports, seen, settlement

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPORT_TOKEN = "totals-after-clawback-credential"
YEAR = "2026-27"
DEPARTMENTS = ("DHSC", "DWP")


ALLOCATION = [
    AllocationProposed(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="outcomes_contract",
        recipient_id="PROV-WORKWELL",
        purpose="Supported employment",
        mission_id="M-GOOD-JOBS",
        start_date=date(2026, 5, 1),
        end_date=date(2028, 3, 31),
        value_pence=30_000_01,
        financial_year=YEAR,
        proposed_by="finance-officer",
    ),
    AllocationApproved(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="outcomes_contract",
        recipient_id="PROV-WORKWELL",
        value_pence=30_000_01,
        financial_year=YEAR,
        decided_by="chair",
    ),
]


async def test_after_a_clawback_every_total_agrees_with_the_trial_balance(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    for code in DEPARTMENTS:
        await web_user(database_url, f"analyst-{code}", f"department@GM:{code}")
    token = await token_for(database_url, "fin-api", "finance@GM")
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with (
        TopicReader(settings, topics.LEDGER_RESULTS) as reader,
        running(LEDGER, settings) as host,
        browser_client(settings, published) as client,
    ):
        await register_organisations(client, database_url)
        # Two departments' streams in the ratio 2:1, so every split has an odd penny.
        await publish(
            settings,
            settlement("DWP", "WORK", 200_000_00),
            settlement("DHSC", "HEALTH", 100_000_00),
            *ALLOCATION,
        )
        await eventually(lambda: _count(reader, SettlementRecorded, 2))
        await publish(
            settings,
            ReservationRequested(
                place_id="GM",
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=30_000_01,
                purpose="supported employment",
            ),
        )
        await eventually(seen(reader, ReservationMade))
        await publish(
            settings,
            AllocationFunded(place_id="GM", allocation_id="A-1", amount_pence=30_000_01),
            OutcomesContractRegistered(
                place_id="GM",
                contract_id="C-1",
                allocation_id="A-1",
                provider_id="PROV-WORKWELL",
                prices=(MetricPrice(metric_id="JOB-START", price_pence=1_000_00),),
                cap_pence=30_000_01,
            ),
            PaymentRequested(
                place_id="GM",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-WORKWELL",
                amount_pence=9_000_01,
                payment_kind="outcome_payment",
                contract_id="C-1",
                claim_batch_id="B-1",
                purpose="outcome payment",
            ),
        )
        await eventually(seen(reader, PaymentMade))
        await publish(
            settings,
            RecoveryRaised(
                place_id="GM",
                recovery_id="R-1",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-WORKWELL",
                amount_pence=3_000_01,
                reason="evidence found invalid",
            ),
        )
        await eventually(seen(reader, RecoveryRecorded))
        # The gateway has heard it all: the payment, its recovery and the recovery's spend.
        await eventually(
            lambda: gateway_rows(
                database_url,
                "SELECT 1 FROM payments WHERE payment_id = 'P-1' AND recovered_pence = 300001",
            )
        )
        await eventually(
            lambda: gateway_rows(
                database_url, "SELECT 1 FROM department_spend WHERE amount_pence < 0"
            )
        )
        await eventually(
            lambda: gateway_rows(database_url, "SELECT 1 FROM allocations WHERE status = 'funded'")
        )
        # And the payment's own posting in the pot: the spend topic has a consumer group of its
        # own, so the recovery's spend can be projected before the payment's transfer is.
        api = bearer(token)
        await eventually(lambda: _overview_paid(client, api, 9_000_01))

        async with ledger_reports(host, REPORT_TOKEN) as ledger:
            trial = (await ledger.get(f"/ledger/v1/places/GM/trial-balance/{YEAR}")).json()
            by_department = {
                code: (
                    await ledger.get(f"/ledger/v1/places/GM/statements/departments/{code}")
                ).json()
                for code in DEPARTMENTS
            }

        overview = (await client.get("/api/v1/places/GM/pot/overview", headers=api)).json()
        monthly = (await client.get("/api/v1/places/GM/spend/monthly", headers=api)).json()
        await sign_in(client, "fin")
        finance = (await client.get(f"/places/GM/finance?year={YEAR}")).text
        releases = (await client.get("/open-data/places/GM/ocds.json")).json()
        projects = (await client.get("/open-data/places/GM/indigo.json")).json()
    department_csv = {}
    for code in DEPARTMENTS:
        async with browser_client(settings, published) as browser:
            await sign_in(browser, f"analyst-{code}")
            department_csv[code] = (
                await browser.get(f"/places/GM/departments/{code}/spend.csv")
            ).text

    balances = {row["account"]: row["balance_pence"] for row in trial["accounts"]}
    net_paid = balances["provider:PROV-WORKWELL"]
    available = sum(pence for account, pence in balances.items() if account.startswith("pot:"))
    committed = sum(
        pence for account, pence in balances.items() if account.startswith("commitment:")
    )
    assert net_paid == 9_000_01 - 3_000_01
    assert trial["debits_pence"] == trial["credits_pence"]
    department_net = {code: by_department[code]["net_pence"] for code in DEPARTMENTS}
    assert sum(department_net.values()) == net_paid

    # The pot overview and the finance page.
    totals = overview["totals"]
    assert (totals["net_paid_pence"], totals["available_pence"]) == (net_paid, available)
    assert totals["paid_pence"] - totals["recovered_pence"] == net_paid
    assert totals["reserved_pence"] - totals["paid_pence"] == committed  # not yet paid
    assert _total_shown(finance, "net_paid_pence") == pounds(net_paid)
    assert _total_shown(finance, "recovered_pence") == pounds(3_000_01)
    assert _total_shown(finance, "available_pence") == pounds(available)
    # The spend chart: each department's latest cumulative spend.
    latest = {row["department_code"]: row["cumulative_pence"] for row in monthly["months"]}
    assert latest == department_net
    # Each department's CSV.
    for code in DEPARTMENTS:
        rows = list(csv.DictReader(io.StringIO(department_csv[code])))
        assert sum(int(row["amount_pence"]) for row in rows) == department_net[code], code
    # The open data.
    release = releases["releases"][-1]
    transactions = release["contracts"][0]["implementation"]["transactions"]
    assert round(sum(t["value"]["amount"] for t in transactions) * 100) == net_paid
    [project] = projects["projects"]
    made = project["data"]["overall_project_finance"]["total_outcome_payments_made"]
    assert round(made["amount"]["value"] * 100) == net_paid


async def _count(reader: TopicReader, event_type: type, count: int) -> list[Any]:
    found: list[Any] = reader.events(event_type)
    return found if len(found) >= count else []


def _total_shown(html: str, name: str) -> str:
    marker = f'data-total="{name}">'
    start = html.index(marker) + len(marker)
    return html[start : html.index("<", start)].strip()


async def _overview_paid(client: Any, headers: dict[str, str], paid_pence: int) -> bool:
    overview = (await client.get("/api/v1/places/GM/pot/overview", headers=headers)).json()
    return bool(overview["totals"]["paid_pence"] == paid_pence)
