"""Due diligence on the real stack: a recipient rated red (its charity removed from the
register) cannot be signed off or paid; the accounting officer overrides with a reason, which
is recorded, and the held instalments are then paid and sign-off goes ahead."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import PaymentMade, PaymentRequested, topics
from contracts.allocations import InstalmentHeld, InstalmentHoldReleased
from singlepot.system import service_definition
from tests.integration.gateway.gateway_support import bearer, token_for
from tests.integration.monitoring.monitoring_support import PLACE, RECIPIENT, funded_grant, people
from tests.integration.web.web_support import browser_client
from tests.support.kafka import TopicReader, eventually, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DILIGENCE = f"/api/v1/places/{PLACE}/organisations/{RECIPIENT}/due-diligence"
REGISTRATION = {
    "kind": "provider",
    "name": "Family Hubs Trust",
    "legal_form": "charity",
    "org_id_scheme": "GB-CHC",
    "org_id_identifier": "1123456",
}
REASON = "Re-registered under a new number; the Charity Commission confirmed it by letter"


async def test_a_red_rating_blocks_sign_off_and_payment_until_overridden_with_a_reason(
    settings, database_url
) -> None:
    who = await people(database_url)
    officer = await token_for(database_url, "ca-chief-executive", f"accounting_officer@{PLACE}")
    async with (
        TopicReader(
            settings, topics.ALLOCATIONS_LIFECYCLE, topics.LEDGER_REQUESTS, topics.LEDGER_RESULTS
        ) as reader,
        running(service_definition("ledger"), settings),
        running(service_definition("allocations"), settings),
        browser_client(settings) as client,
    ):
        await funded_grant(settings, database_url, reader, "G-RED", 80_000_00)
        registered = await client.put(
            f"/api/v1/places/{PLACE}/organisations/{RECIPIENT}",
            json=REGISTRATION,
            headers=who.headers("finance"),
        )
        assert registered.status_code == 200, registered.text
        recorded = await client.put(
            DILIGENCE,
            json={
                "registration": {
                    "register_name": "charity",
                    "number": "1123456",
                    "status": "removed",
                    "checked_on": "2026-12-01",
                },
                "bank": {"status": "verified", "checked_on": "2026-12-01"},
            },
            headers=who.headers("finance"),
        )
        assert recorded.status_code == 200, recorded.text
        assert recorded.json()["rating"] == "red"
        assert recorded.json()["reasons"] == [
            "the charity register shows 1123456 as removed (checked 2026-12-01 by fin-1)"
        ]
        assert recorded.json()["blocks_sign_off_and_payment"] is True

        sign_off: dict[str, Any] = {"decision": "signed_off"}
        blocked = await client.post(
            f"/api/v1/places/{PLACE}/allocations/G-RED/sign-off",
            json=sign_off,
            headers=bearer(officer, "sign-off-1"),
        )
        assert blocked.status_code == 409
        assert blocked.json()["errors"][0]["rule"] == "recipient_due_diligence"

        due = await client.post(
            f"/api/v1/places/{PLACE}/due-work",
            json={"as_of": "2027-07-01"},
            headers=who.headers("finance"),
        )
        assert due.status_code == 202
        held = await eventually(lambda: _at_least(reader, InstalmentHeld, 2))
        assert [(h.instalment_number, h.report_number) for h in held] == [(1, None), (2, None)]
        assert held[0].reason.startswith("PROV-HUBS is rated red in due diligence")
        assert reader.events(PaymentRequested) == []

        # Only the accounting officer may override, and only with a reason.
        assert (
            await client.post(
                f"{DILIGENCE}/override", json={"reason": REASON}, headers=who.headers("finance")
            )
        ).status_code == 403
        overridden = await client.post(
            f"{DILIGENCE}/override", json={"reason": REASON}, headers=bearer(officer)
        )
        assert overridden.status_code == 200, overridden.text
        await eventually(lambda: _at_least(reader, InstalmentHoldReleased, 2))
        paid = await eventually(lambda: _at_least(reader, PaymentMade, 2))
        allowed = await client.post(
            f"/api/v1/places/{PLACE}/allocations/G-RED/sign-off",
            json=sign_off,
            headers=bearer(officer, "sign-off-2"),
        )
        record = await client.get(DILIGENCE, headers=who.headers("programme"))

    assert sorted(p.payment_id for p in paid) == ["G-RED/i1", "G-RED/i2"]
    assert allowed.status_code == 202
    assert record.json()["rating"] == "red"
    assert record.json()["blocks_sign_off_and_payment"] is False
    assert record.json()["override"]["overridden_by"] == "ca-chief-executive"
    assert record.json()["override"]["reason"] == REASON


async def _at_least(reader: TopicReader, kind: type, expected: int) -> list[Any]:
    found = reader.events(kind)
    return found if len(found) >= expected else []
