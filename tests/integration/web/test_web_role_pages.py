"""Role pages on the real gateway and database: a provider cannot open another provider's
contract, and a department downloads only its own attributed spend as CSV, exactly."""

from __future__ import annotations

import csv
import io

import pytest

from contracts import AttributionShare, MetricPrice, OutcomesContractRegistered, SpendRecorded
from tests.integration.web.web_support import browser_client, gateway_rows, sign_in, web_user
from tests.support.kafka import eventually, publish

pytestmark = pytest.mark.integration


def contract(contract_id: str, provider_id: str) -> OutcomesContractRegistered:
    return OutcomesContractRegistered(
        place_id="GM",
        contract_id=contract_id,
        allocation_id=f"A-{contract_id}",
        provider_id=provider_id,
        prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
        cap_pence=10_000,
    )


async def test_a_provider_cannot_open_another_providers_contract_page(
    settings, database_url
) -> None:
    await web_user(database_url, "prov-a", "provider@GM:PROV-A")
    await publish(settings, contract("C-A", "PROV-A"), contract("C-B", "PROV-B"))
    async with browser_client(settings) as client:
        await eventually(
            lambda: gateway_rows(database_url, "SELECT 1 FROM contracts WHERE contract_id='C-B'")
        )
        await sign_in(client, "prov-a")
        own = await client.get("/places/GM/contracts/C-A")
        other = await client.get("/places/GM/contracts/C-B")
        other_provider = await client.get("/places/GM/providers/PROV-B")

    assert own.status_code == 200 and "Upload evidence" in own.text
    assert other.status_code == 403 and "You cannot see this page" in other.text
    assert "Upload evidence" not in other.text and "outcomes-against-targets" not in other.text
    assert other_provider.status_code == 403


async def test_a_department_downloads_only_its_own_spend_as_csv_in_pence_and_pounds(
    settings, database_url
) -> None:
    await web_user(database_url, "dwp", "department:DWP")
    spend = SpendRecorded(
        place_id="GM",
        spend_id="SP-1",
        payment_id="P-1",
        allocation_id="A-1",
        provider_id="PROV-A",
        contract_id="C-1",
        amount_pence=500_001,
        payment_kind="outcome_payment",
        purpose='=HYPERLINK("x"), "jobs"',
        financial_year="2026-27",
        attribution=(
            AttributionShare(
                department_code="DWP", funding_stream_code="WORK", amount_pence=333_334
            ),
            AttributionShare(
                department_code="DHSC", funding_stream_code="PH", amount_pence=166_667
            ),
        ),
        transfer_id="T-1",
    )
    await publish(settings, spend)
    async with browser_client(settings) as client:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM department_spend"))
        await sign_in(client, "dwp")
        page = await client.get("/places/GM/departments/DWP")
        download = await client.get("/places/GM/departments/DWP/spend.csv")
        others = await client.get("/places/GM/departments/DHSC/spend.csv")

    assert page.status_code == 200 and "£3,333.34" in page.text and "Download as CSV" in page.text
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["funding_stream_code"], r["amount_pence"], r["amount_pounds"]) for r in rows] == [
        ("WORK", "333334", "3333.34")
    ]
    assert rows[0]["purpose"] == "'" + '=HYPERLINK("x"), "jobs"', "formulas are defused"
    assert "DHSC" not in download.text and "166667" not in download.text
    assert others.status_code == 403
