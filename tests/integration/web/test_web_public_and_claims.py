"""The public page's charts and the claims page, on the real gateway and database: anyone sees
the place's pot composition and spend over time (place-wide figures, no personal data), and the
board sees each Right to Serve / Right to Request claim with its deadline, overdue ones tagged
red in words."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import AttributionShare, SettlementRecorded, SpendRecorded
from contracts.allocations import ClaimLodged, ClaimResponded
from tests.integration.web.web_support import browser_client, gateway_rows, sign_in, web_user
from tests.support.kafka import eventually, publish

pytestmark = pytest.mark.integration


def claim(claim_id: str, lodged_on: date, due_on: date) -> ClaimLodged:
    return ClaimLodged(
        place_id="GM",
        claim_id=claim_id,
        claim_kind="right_to_serve",
        claimant_id=f"GROUP-{claim_id}",
        claimant_kind="community_group",
        service_description=f"Run the service of {claim_id}",
        lodged_on=lodged_on,
        response_due_on=due_on,
    )


async def test_the_public_page_charts_the_pot_and_spend_over_time_without_personal_data(
    settings, database_url
) -> None:
    await publish(
        settings,
        SettlementRecorded(
            place_id="GM",
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=[{"financial_year": "2026-27", "amount_pence": 12_000_000_00}],
            transfer_id="T-1",
        ),
        SpendRecorded(
            place_id="GM",
            spend_id="SP-1",
            payment_id="P-1",
            allocation_id="A-1",
            provider_id="PROV-A",
            contract_id="C-1",
            amount_pence=5_900_00,
            payment_kind="outcome_payment",
            purpose="Supported employment",
            financial_year="2026-27",
            attribution=(
                AttributionShare(
                    department_code="DWP", funding_stream_code="WORK", amount_pence=5_900_00
                ),
            ),
            transfer_id="T-2",
        ),
    )
    async with browser_client(settings) as client:
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM spend_records"))
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM pot_streams"))
        page = await client.get("/places/GM")

    assert page.status_code == 200
    assert 'id="pot-by-stream"' in page.text and "DWP / WORK" in page.text
    assert 'id="spend-over-time"' in page.text and "£5,900.00" in page.text
    assert "The pot in 2026-27" in page.text
    assert "Signed in as" not in page.text


async def test_the_board_sees_claims_with_deadlines_and_the_overdue_ones_flagged(
    settings, database_url
) -> None:
    await web_user(database_url, "cllr-brown", "chair@GM")
    await publish(
        settings,
        claim("CL-1", date(2020, 1, 6), date(2020, 3, 2)),
        claim("CL-2", date(2099, 1, 6), date(2099, 3, 3)),
        claim("CL-3", date(2020, 1, 1), date(2020, 2, 26)),
        ClaimResponded(
            place_id="GM",
            claim_id="CL-3",
            outcome="accepted_in_part",
            reasons="Saturdays only",
            responded_by="cllr-brown",
            responded_on=date(2020, 3, 1),
            response_due_on=date(2020, 2, 26),
            late=True,
        ),
    )
    async with browser_client(settings) as client:
        await eventually(
            lambda: gateway_rows(database_url, "SELECT 1 FROM claims WHERE outcome IS NOT NULL")
        )
        await eventually(
            lambda: gateway_rows(database_url, "SELECT 1 FROM claims WHERE claim_id='CL-2'")
        )
        await sign_in(client, "cllr-brown")
        account = await client.get("/account")
        page = await client.get("/places/GM/claims")
        refused = await client.get("/places/WM/claims")

    assert 'href="/places/GM/claims"' in account.text
    assert page.status_code == 200
    rows = {
        claim_id: page.text.split(f'id="claim-{claim_id}"')[1].split("</tr>")[0]
        for claim_id in ("CL-1", "CL-2", "CL-3")
    }
    assert "govuk-tag--red" in rows["CL-1"] and "Overdue" in rows["CL-1"]
    assert "2 March 2020" in rows["CL-1"]
    assert "govuk-tag--blue" in rows["CL-2"] and "Awaiting response" in rows["CL-2"]
    assert "govuk-tag--green" in rows["CL-3"] and "answered late" in rows["CL-3"]
    assert "Accepted in part" in rows["CL-3"] and "Saturdays only" in rows["CL-3"]
    assert "1 claim passed its response deadline without an answer" in page.text
    assert refused.status_code == 403
