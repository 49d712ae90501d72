"""Claims on a grant paid in arrears, on the real stack: the recipient claims with evidence,
programme staff then finance approve (either may return it), only the approved claim becomes a
payment request, a claim beyond what remains is refused with the figures, and a claim whose
payment the ledger refused stops counting against what remains."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contracts import PaymentMade, PaymentRequested, topics
from contracts.ledger import ClosePeriod, PaymentRejected
from singlepot.system import service_definition
from tests.integration.monitoring.monitoring_support import (
    MEASURES,
    PLACE,
    RECIPIENT,
    YEAR,
    People,
    funded_grant,
    people,
)
from tests.integration.web.web_support import browser_client, gateway_rows
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GRANTS = f"/api/v1/places/{PLACE}/providers/{RECIPIENT}/grants"


async def claim(
    client: httpx.AsyncClient, who: People, claim_id: str, amount_pence: int
) -> httpx.Response:
    return await client.post(
        f"{GRANTS}/G-ARREARS/claims",
        json={
            "claim_id": claim_id,
            "amount_pence": amount_pence,
            "evidence": "Invoices INV-101 to INV-140 for hub fit-out, paid from our account",
        },
        headers=who.headers("recipient"),
    )


async def decide(
    client: httpx.AsyncClient, who: People, step: str, claim_id: str, decision: str
) -> dict[str, Any]:
    reviewer = "programme" if step == "programme" else "finance"
    answer = await client.post(
        f"/api/v1/places/{PLACE}/grant-claims/{claim_id}/{step}-review",
        json={"decision": decision, "note": "Attach the receipts" if "changes" in decision else ""},
        headers=who.headers(reviewer),
    )
    return {"status_code": answer.status_code, **answer.json()}


async def grant_paid_in_arrears(
    settings: Any, database_url: str, reader: TopicReader, client: httpx.AsyncClient, who: People
) -> None:
    """G-ARREARS: £60,000 funded, monitored, paid only by approved claims."""
    await funded_grant(settings, database_url, reader, "G-ARREARS", 60_000_00, instalments=False)
    plan = await client.put(
        f"/api/v1/places/{PLACE}/allocations/G-ARREARS/monitoring",
        json={
            "measures": MEASURES,
            "schedule": {"kind": "one_off", "due_date": "2028-03-31"},
            "paid_in_arrears": True,
        },
        headers=who.headers("programme"),
    )
    assert plan.status_code == 200, plan.text


async def test_a_claim_is_paid_only_after_programme_then_finance_approve_it(
    settings, database_url
) -> None:
    who = await people(database_url)
    async with (
        TopicReader(
            settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_REQUESTS, topics.LEDGER_RESULTS
        ) as reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        browser_client(settings) as client,
    ):
        await grant_paid_in_arrears(settings, database_url, reader, client, who)

        first = await claim(client, who, "CL-1", 20_000_00)
        assert first.json()["remaining_after_pence"] == 40_000_00
        # Beyond what remains (60,000 less the 20,000 already claimed): refused with figures.
        too_much = await claim(client, who, "CL-2", 45_000_00)
        assert too_much.status_code == 422
        assert too_much.json()["errors"] == [
            {
                "field": "amount_pence",
                "rule": "within_remaining",
                "message": "the claim of £45,000.00 is more than the £40,000.00 that remains "
                "of the grant",
            }
        ]
        # Finance cannot approve before programme staff have.
        early = await decide(client, who, "finance", "CL-1", "approve")
        assert (early["status_code"], early["errors"][0]["rule"]) == (409, "two_step_order")
        # The recipient cannot approve its own claim at all.
        own = await client.post(
            f"/api/v1/places/{PLACE}/grant-claims/CL-1/programme-review",
            json={"decision": "approve"},
            headers=who.headers("recipient"),
        )
        assert own.status_code == 403

        assert (await decide(client, who, "programme", "CL-1", "approve"))["status"] == (
            "programme_approved"
        )
        returned = await decide(client, who, "finance", "CL-1", "request_changes")
        assert returned["status"] == "changes_requested"
        assert (await claim(client, who, "CL-1", 18_000_00)).status_code == 200
        assert (await decide(client, who, "programme", "CL-1", "approve"))["status_code"] == 200
        approved = await decide(client, who, "finance", "CL-1", "approve")
        assert approved["status"] == "approved"

        paid = (await eventually(lambda: _found(reader, PaymentMade)))[0]
        await eventually(
            lambda: gateway_rows(
                database_url,
                "SELECT 1 FROM grant_claims WHERE claim_id = 'CL-1' AND status = 'paid'",
            )
        )
        view = await client.get(GRANTS, headers=who.headers("recipient"))

    assert [(r.payment_id, r.amount_pence) for r in reader.events(PaymentRequested)] == [
        ("G-ARREARS/c-CL-1", 18_000_00)
    ]
    assert (paid.payment_id, paid.provider_id) == ("G-ARREARS/c-CL-1", RECIPIENT)
    (grant,) = view.json()["grants"]
    assert grant["remaining_pence"] == 42_000_00
    assert [(c["claim_id"], c["status"]) for c in grant["claims"]] == [("CL-1", "paid")]


async def test_a_claim_the_ledger_refused_to_pay_no_longer_counts_against_what_remains(
    settings, database_url
) -> None:
    who = await people(database_url)
    async with (
        TopicReader(
            settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_REQUESTS, topics.LEDGER_RESULTS
        ) as reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        browser_client(settings) as client,
    ):
        await grant_paid_in_arrears(settings, database_url, reader, client, who)
        assert (await claim(client, who, "CL-1", 20_000_00)).status_code == 200
        assert (await decide(client, who, "programme", "CL-1", "approve"))["status_code"] == 200
        # The year is closed before finance approves: the ledger must refuse the payment.
        await publish(settings, ClosePeriod(place_id=PLACE, financial_year=YEAR))
        assert (await decide(client, who, "finance", "CL-1", "approve"))["status_code"] == 200

        refusal = (await eventually(lambda: _found(reader, PaymentRejected)))[0]
        await eventually(
            lambda: gateway_rows(
                database_url,
                "SELECT 1 FROM grant_claims WHERE claim_id = 'CL-1' AND status = 'refused'",
            )
        )
        view = await client.get(GRANTS, headers=who.headers("recipient"))
        # Both the gateway and the allocations service now let a claim draw the whole grant.
        whole = await claim(client, who, "CL-2", 60_000_00)
        assert whole.status_code == 200, whole.text
        assert (await decide(client, who, "programme", "CL-2", "approve"))["status_code"] == 200
        assert (await decide(client, who, "finance", "CL-2", "approve"))["status_code"] == 200
        await eventually(lambda: _found(reader, PaymentRequested, 2))

    assert refusal.payment_id == "G-ARREARS/c-CL-1"
    (grant,) = view.json()["grants"]
    assert grant["remaining_pence"] == 60_000_00
    assert [(c["claim_id"], c["status"]) for c in grant["claims"]] == [("CL-1", "refused")]
    assert whole.json()["remaining_after_pence"] == 0
    assert [(r.payment_id, r.amount_pence) for r in reader.events(PaymentRequested)] == [
        ("G-ARREARS/c-CL-1", 20_000_00),
        ("G-ARREARS/c-CL-2", 60_000_00),
    ]


async def _found(reader: TopicReader, kind: type, count: int = 1) -> list[Any]:
    found = reader.events(kind)
    return found if len(found) >= count else []
