"""A provider's page shows its statement by financial year on the real gateway, broker and
database: what it was paid, what was clawed back, and the net, from the ledger's spend."""

from __future__ import annotations

import pytest

from contracts import PaymentMade, RecoveryRecorded, SpendRecorded
from tests.integration.web.test_web_department_recoveries import SHARES
from tests.integration.web.web_support import browser_client, gateway_rows, sign_in, web_user
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def figures(html: str, year: str) -> list[str]:
    row = html.split(f'data-year="{year}"')[1].split("</tr>")[0]
    return [cell.split("<")[0] for cell in row.split('numeric">')[1:]]


async def test_a_provider_sees_paid_recovered_and_net_by_financial_year(
    settings, database_url
) -> None:
    await web_user(database_url, "prov-a", "provider@GM:PROV-A")
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
        place_id="GM",
        recovery_id="R-1",
        payment_id="P-1",
        amount_pence=2_500,
        transfer_id="T-R",
        attribution=(
            SHARES[0].model_copy(update={"amount_pence": 1_500}),
            SHARES[1].model_copy(update={"amount_pence": 1_000}),
        ),
        financial_year="2027-28",
    )
    await publish(settings, paid, spent, recovered)
    async with browser_client(settings) as client:
        await eventually(
            lambda: gateway_rows(
                database_url, "SELECT 1 FROM department_spend WHERE spend_id = 'recovery/T-R'"
            )
        )
        await sign_in(client, "prov-a")
        page = await client.get("/places/GM/providers/PROV-A")

    assert page.status_code == 200
    # Paid in 2026-27; clawed back in 2027-28 (the ledger booked it there); net over both.
    assert figures(page.text, "2026-27") == ["£100.00", "£0.00", "£100.00"]
    assert figures(page.text, "2027-28") == ["£0.00", "£25.00", "−£25.00"]
    assert figures(page.text, "all") == ["£100.00", "£25.00", "£75.00"]
