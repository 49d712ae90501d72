"""Issue 21's done-when, on the real stack (gateway, allocations service, ledger, broker,
PostgreSQL): a grant with quarterly reports whose second report goes overdue. The next
instalment is held (the ledger is asked for no payment), the recipient's page says why, and
once the report is accepted the instalment is paid."""

from __future__ import annotations

import pytest

from contracts import PaymentMade, PaymentRequested, topics
from contracts.allocations import InstalmentHeld, InstalmentHoldReleased
from singlepot.system import service_definition
from tests.integration.monitoring.monitoring_support import (
    MEASURES,
    PLACE,
    QUARTERLY_REPORTS,
    RECIPIENT,
    funded_grant,
    people,
    review,
    send_report,
)
from tests.integration.web.web_support import browser_client, gateway_rows, sign_in, web_user
from tests.support.kafka import TopicReader, eventually, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LEDGER = service_definition("ledger")
ALLOCATIONS = service_definition("allocations")


def payments(reader: TopicReader, kind: type) -> list[str]:
    return sorted(e.payment_id for e in reader.events(kind))


async def test_an_overdue_report_holds_the_next_instalment_until_it_is_accepted(
    settings, database_url
) -> None:
    who = await people(database_url)
    await web_user(database_url, "hubs-web", f"provider@{PLACE}:{RECIPIENT}")
    async with (
        TopicReader(
            settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_REQUESTS, topics.LEDGER_RESULTS
        ) as reader,
        running(LEDGER, settings),
        running(ALLOCATIONS, settings),
        browser_client(settings) as client,
    ):
        await funded_grant(settings, database_url, reader, "G-HUBS", 100_000_00)
        plan = await client.put(
            f"/api/v1/places/{PLACE}/allocations/G-HUBS/monitoring",
            json={"measures": MEASURES, "schedule": QUARTERLY_REPORTS},
            headers=who.headers("programme"),
        )
        assert plan.status_code == 200, plan.text
        assert [r["due_date"] for r in plan.json()["reports"]] == [
            "2027-06-30",
            "2027-09-30",
            "2027-12-31",
            "2028-03-31",
        ]
        assert (await send_report(client, who, "G-HUBS", 1)).status_code == 200
        accepted = await review(client, who, "G-HUBS", 1, "accept")
        assert accepted.json()["status"] == "accepted"

        # The daily run on 1 October 2027: instalments 1 and 2 are paid; report 2 (due 30
        # September) never came, so instalment 3 is held.
        due = await client.post(
            f"/api/v1/places/{PLACE}/due-work",
            json={"as_of": "2027-10-01"},
            headers=who.headers("finance"),
        )
        assert due.status_code == 202, due.text
        held = (await eventually(lambda: _events(reader, InstalmentHeld, 1)))[0]
        await eventually(lambda: _events(reader, PaymentMade, 2))
        assert (held.instalment_number, held.report_number) == (3, 2)
        assert held.amount_pence == 25_000_00
        assert held.reason == "report 2 was due on 2027-09-30 and has not been accepted"
        assert payments(reader, PaymentRequested) == ["G-HUBS/i1", "G-HUBS/i2"]

        # The recipient's page says which instalment is held and why.
        await eventually(lambda: gateway_rows(database_url, "SELECT 1 FROM monitoring_holds"))
        await sign_in(client, "hubs-web")
        page = await client.get(f"/places/{PLACE}/grants/{RECIPIENT}")
        assert page.status_code == 200
        assert (
            "Instalment 3 (£25,000.00) is held: report 2 was due on 2027-09-30 and has not "
            "been accepted. It is paid once the report is accepted."
        ) in page.text
        staff = await client.get(
            f"/api/v1/places/{PLACE}/monitoring",
            params={"as_of": "2027-10-01"},
            headers=who.headers("finance"),
        )
        tally = staff.json()["recipients"][0]
        assert (tally["accepted"], tally["overdue"], tally["due"]) == (1, 1, 2)
        assert staff.json()["holds"][0]["reason"] == held.reason

        # Sent late, it still holds until accepted; accepted, the instalment is paid.
        assert (await send_report(client, who, "G-HUBS", 2)).status_code == 200
        assert (await review(client, who, "G-HUBS", 2, "accept")).status_code == 200
        released = (await eventually(lambda: _events(reader, InstalmentHoldReleased, 1)))[0]
        await eventually(lambda: _events(reader, PaymentMade, 3))
        await eventually(
            lambda: gateway_rows(
                database_url, "SELECT 1 FROM monitoring_holds WHERE released_at IS NOT NULL"
            )
        )
        after = await client.get(f"/places/{PLACE}/grants/{RECIPIENT}")

    assert released.payment_id == "G-HUBS/i3"
    assert payments(reader, PaymentMade) == ["G-HUBS/i1", "G-HUBS/i2", "G-HUBS/i3"]
    assert [p.amount_pence for p in reader.events(PaymentMade)] == [25_000_00] * 3
    assert "is held:" not in after.text
    assert "Instalment 3 (£25,000.00) was held because report 2 was due" in after.text


async def _events(reader: TopicReader, kind: type, expected: int) -> list:
    found = reader.events(kind)
    return found if len(found) >= expected else []
