"""The ledger's statements over HTTP: a provider's and a department's payments, recoveries and
net, by year, from the real ledger's transfers."""

from __future__ import annotations

import pytest

from contracts import (
    PaymentMade,
    PaymentRequested,
    RecoveryRaised,
    RecoveryRecorded,
    ReservationMade,
    ReservationRequested,
    SettlementRecorded,
    topics,
)
from services.ledger.app import DEFINITION as LEDGER
from tests.support.kafka import TopicReader, eventually, publish, running
from tests.support.ledger import ledger_reports, seen, settlement

pytestmark = pytest.mark.integration

REPORT_TOKEN = "statements-test-credential"


async def test_provider_and_department_statements_answer_paid_recovered_and_net_by_year(
    settings,
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
                financial_year="2026-27",
                amount_pence=30_000_00,
                purpose="employment support",
            ),
        )
        await eventually(seen(reader, ReservationMade))
        await publish(
            settings,
            PaymentRequested(
                place_id="GM",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=9_000_00,
                payment_kind="outcome_payment",
                contract_id="C-1",
                claim_batch_id="B-1",
                purpose="job outcomes",
            ),
        )
        await eventually(seen(reader, PaymentMade))
        await publish(
            settings,
            RecoveryRaised(
                place_id="GM",
                recovery_id="RC-1",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=3_000_00,
                reason="evidence found invalid",
            ),
        )
        await eventually(seen(reader, RecoveryRecorded))
        async with ledger_reports(host, REPORT_TOKEN) as client:
            provider = await client.get("/ledger/v1/places/GM/statements/providers/PROV-1")
            department = await client.get("/ledger/v1/places/GM/statements/departments/DWP")
            nobody = await client.get("/ledger/v1/places/GM/statements/providers/PROV-9")

    assert provider.status_code == 200, provider.text
    assert department.status_code == 200, department.text
    assert {k: provider.json()[k] for k in ("paid_pence", "recovered_pence", "net_pence")} == {
        "paid_pence": 9_000_00,
        "recovered_pence": 3_000_00,
        "net_pence": 6_000_00,
    }
    assert provider.json()["by_year"] == [
        {
            "financial_year": "2026-27",
            "paid_pence": 9_000_00,
            "recovered_pence": 3_000_00,
            "net_pence": 6_000_00,
        }
    ]
    assert len(provider.json()["transfers"]) == 2
    # DWP holds two-thirds of the pot: two-thirds of the payment and of the recovery.
    dwp = department.json()
    assert (dwp["paid_pence"], dwp["recovered_pence"], dwp["net_pence"]) == (
        6_000_00,
        2_000_00,
        4_000_00,
    )
    assert nobody.status_code == 200
    assert nobody.json()["transfers"] == []
    assert nobody.json()["net_pence"] == 0
