"""A department's page and CSV on the real gateway, broker and database: a payment its streams
funded, then a recovery (clawback) of part of it, published by the ledger's topics; the page
shows the recovery as a negative row marked "Recovery" and the total net of it; the CSV has
the recovery's shares as negative pence and pounds with kind "recovery"."""

from __future__ import annotations

import csv
import io

import pytest

from contracts import AttributionShare, PaymentMade, RecoveryRecorded, SpendRecorded
from tests.integration.web.web_support import browser_client, gateway_rows, sign_in, web_user
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHARES = (
    AttributionShare(department_code="DWP", funding_stream_code="WORK", amount_pence=6_000),
    AttributionShare(department_code="DHSC", funding_stream_code="PH", amount_pence=4_000),
)


async def test_a_department_sees_a_recovery_as_negative_spend_on_its_page_and_in_its_csv(
    settings, database_url
) -> None:
    await web_user(database_url, "dwp", "department:DWP")
    paid = PaymentMade(
        place_id="GM",
        payment_id="P-1",
        allocation_id="A-1",
        provider_id="PROV-A",
        contract_id="C-1",
        claim_batch_id="B-1",
        amount_pence=10_000,
        payment_kind="outcome_payment",
        attribution=SHARES,
        transfer_id="T-P-1",
    )
    spent = SpendRecorded(
        **paid.model_dump(exclude={"claim_batch_id", "payer_shares"}),
        spend_id="spend/T-P-1",
        purpose="job outcomes",
        financial_year="2026-27",
    )
    recovered = RecoveryRecorded(
        place_id="GM", recovery_id="R-1", payment_id="P-1", amount_pence=2_500, transfer_id="T-R"
    )
    await publish(settings, paid, spent, recovered)
    async with browser_client(settings) as client:
        await eventually(
            lambda: gateway_rows(
                database_url, "SELECT 1 FROM department_spend WHERE spend_id = 'recovery/T-R'"
            ),
            timeout_s=30,
        )
        await eventually(
            lambda: gateway_rows(
                database_url, "SELECT 1 FROM department_spend WHERE amount_pence > 0"
            ),
            timeout_s=30,
        )
        await sign_in(client, "dwp")
        page = await client.get("/places/GM/departments/DWP")
        download = await client.get("/places/GM/departments/DWP/spend.csv")

    assert page.status_code == 200
    assert "Recovery" in page.text and "−£15.00" in page.text
    assert "£45.00" in page.text, "the total is £60.00 paid less £15.00 recovered"
    # The statement: paid, recovered and net, in all and per financial year.
    all_years = page.text.split('data-year="all"')[1].split("</tr>")[0]
    assert ["£60.00", "£15.00", "£45.00"] == [
        cell.split("<")[0] for cell in all_years.split('numeric">')[1:]
    ]
    assert 'data-year="2026-27"' in page.text
    rows = list(csv.DictReader(io.StringIO(download.text)))
    by_kind = {
        r["kind"]: (r["funding_stream_code"], r["amount_pence"], r["amount_pounds"]) for r in rows
    }
    assert by_kind == {"spend": ("WORK", "6000", "60.00"), "recovery": ("WORK", "-1500", "-15.00")}
    assert "DHSC" not in download.text and "-1000" not in download.text
