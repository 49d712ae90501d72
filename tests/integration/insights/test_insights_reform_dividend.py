"""The reform dividend over HTTP: a unit-cost table loaded from CSV (versioned), the dividend
per contract and agency from remittances written by hand, the open-data extension and the
public page; bad tables are refused naming the row and field."""

from __future__ import annotations

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.insights.insights_support import connect, write_place
from tests.integration.web.web_support import browser_client

pytestmark = pytest.mark.integration

UNIT_COSTS = "/api/v1/places/GM/insights/unit-costs"
HEADER = "metric_id,beneficiary_agency,fiscal_saving_pence,public_value_pence,source,source_year"
TABLE = "\n".join(
    [
        HEADER,
        "JOB,DWP,300000,500000,Illustrative (GMCA unit cost database structure),2024",
        "JOB,HMRC,100000,100000,Illustrative (GMCA unit cost database structure),2024",
        "HOUSED,Council,999999,999999,Illustrative (GMCA unit cost database structure),2024",
    ]
)
CSV = {"Content-Type": "text/csv"}


async def test_the_dividend_values_each_contracts_paid_outcomes_by_agency(
    settings, database_url
) -> None:
    await write_place(database_url)  # OC-1 was paid £5,000 for 5 JOB outcomes
    connection = await connect(database_url)
    try:
        # One of the five was clawed back and its £1,000 recovered.
        await connection.execute(
            "INSERT INTO clawbacks (place_id, contract_id, clawback_id, payment_id, metric_id,"
            " claim_period_id, amount_pence, status, reason, recovered_pence) VALUES ('GM',"
            " 'OC-1', 'CB-1', 'PAY-1', 'JOB', 'CP-1', 100000, 'recovered', 'invalid', 100000)"
        )
    finally:
        await connection.close()
    finance = {**bearer(await token_for(database_url, "fin-gm", "finance@GM")), **CSV}
    public = bearer(await token_for(database_url, "citizen", "public@GM"))
    async with client_for(settings, gateway_settings()) as client:
        first = await client.post(UNIT_COSTS, content=TABLE.replace("300000", "1"), headers=finance)
        second = await client.post(UNIT_COSTS, content=TABLE, headers=finance)
        negative = await client.post(
            UNIT_COSTS, content=TABLE.replace("300000", "-3"), headers=finance
        )
        no_header = await client.post(UNIT_COSTS, content="a,b\n1,2", headers=finance)
        repeated = await client.post(
            UNIT_COSTS, content=TABLE + "\n" + TABLE.splitlines()[1], headers=finance
        )
        refused = await client.post(UNIT_COSTS, content=TABLE, headers={**public, **CSV})
        older = await client.get(f"{UNIT_COSTS}?version=1", headers=public)
        dividend = await client.get("/api/v1/places/GM/insights/reform-dividend", headers=public)
        open_data = await client.get("/open-data/places/GM/insights.json")
        unknown = await client.get("/open-data/places/NOWHERE/insights.json")
    async with browser_client(settings) as client:
        page = await client.get("/places/GM")

    assert (first.status_code, first.json()["version"]) == (201, 1)
    assert (second.status_code, second.json()["version"]) == (201, 2)
    # The CSV's shape is the documented pattern: a negative figure or another header is not it.
    assert negative.status_code == 422 and '"rule":"pattern"' in negative.text
    assert no_header.status_code == 422 and '"field":"body"' in no_header.text
    assert repeated.status_code == 422 and "JOB for DWP more than once" in repeated.text
    assert refused.status_code == 403
    assert older.json()["unit_costs"][1]["fiscal_saving_pence"] == 1
    assert dividend.status_code == 200, dividend.text
    figures = dividend.json()
    assert figures["unit_costs_version"] == 2
    (contract,) = figures["contracts"]
    # 5 outcomes paid less 1 clawed back = 4; £5,000 - £1,000 recovered = £4,000 paid.
    assert contract["outcomes_paid"] == {"JOB": 4}
    assert contract["paid_pence"] == 400_000
    # DWP 4 × £3,000, HMRC 4 × £1,000; public value 4 × (£5,000 + £1,000) = £24,000.
    assert contract["fiscal_savings_by_agency_pence"] == {"DWP": 1_200_000, "HMRC": 400_000}
    assert contract["public_value_pence"] == 2_400_000
    assert contract["public_value_per_pound_paid"] == "6.00"
    assert contract["fiscal_savings_per_pound_paid"] == "4.00"
    assert figures["missions"][0]["mission_id"] == "M-1"
    assert open_data.status_code == 200, open_data.text
    published = open_data.json()
    assert published["reform_dividend"]["place"]["public_value_pence"] == 2_400_000
    assert published["unit_costs"]["version"] == 2
    assert "participant" not in open_data.text
    assert unknown.status_code == 404
    assert page.status_code == 200
    assert "£6.00 per £1 paid" in page.text and 'id="reform-dividend"' in page.text
