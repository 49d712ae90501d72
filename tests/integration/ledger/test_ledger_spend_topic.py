"""A department consuming `ledger.spend.v1` with a plain Kafka client (no singlepot code) sees a
clawback as negative spend, its departments' shares adding up to it, and the same record as the
gateway's feed shows for that recovery."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from contracts import (
    FinancialYearAmount,
    PaymentRequested,
    RecordSettlement,
    RecoveryRaised,
    RecoveryRecorded,
    ReservationRequested,
    topics,
)
from services.ledger.app import DEFINITION as LEDGER
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FEED_FIELDS = (
    "kind",
    "spend_id",
    "recovery_id",
    "payment_id",
    "allocation_id",
    "provider_id",
    "contract_id",
    "payment_kind",
    "purpose",
    "financial_year",
    "transfer_id",
)


def settlement(department: str, stream: str, amount_pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=amount_pence),),
    )


async def spend_records(consumer: AIOKafkaConsumer, found: list[dict[str, Any]]) -> bool:
    """Read what the topic has now, as JSON, as a department's own consumer would."""
    batches = await consumer.getmany(timeout_ms=200)
    for records in batches.values():
        found.extend(json.loads(record.value) for record in records)
    return any(record["event_type"] == "SpendRecovered" for record in found)


async def test_a_clawback_is_negative_spend_on_the_topic_with_shares_summing_to_it(
    settings, database_url
) -> None:
    auditor = await token_for(database_url, "audit", "auditor")
    consumer = AIOKafkaConsumer(
        settings.topic(topics.LEDGER_SPEND),
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id="dwp-analytics",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )
    found: list[dict[str, Any]] = []
    await consumer.start()
    try:
        async with (
            TopicReader(settings, topics.LEDGER_RESULTS) as reader,
            running(LEDGER, settings),
            client_for(settings) as gateway,
        ):
            await publish(
                settings,
                settlement("DWP", "WORK", 200_000_00),
                settlement("DHSC", "HEALTH", 100_000_00),
                ReservationRequested(
                    place_id="GM",
                    allocation_id="A-1",
                    financial_year="2026-27",
                    amount_pence=30_000_00,
                    purpose="employment support",
                ),
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
                RecoveryRaised(
                    place_id="GM",
                    recovery_id="RC-1",
                    payment_id="P-1",
                    allocation_id="A-1",
                    provider_id="PROV-1",
                    amount_pence=3_000_01,
                    reason="evidence found invalid",
                ),
            )
            await eventually(lambda: _found(reader, RecoveryRecorded))
            await eventually(lambda: spend_records(consumer, found))

            async def feed_has_recovery() -> list[dict[str, Any]]:
                response = await gateway.get(
                    "/api/v1/departments/DWP/spend", headers=bearer(auditor)
                )
                items = [item["spend"] for item in response.json()["spend"]]
                return [item for item in items if item.get("kind") == "recovery"]

            [feed_recovery] = await eventually(feed_has_recovery)
    finally:
        await consumer.stop()

    [recovered] = [record for record in found if record["event_type"] == "SpendRecovered"]
    payload = recovered["payload"]
    assert payload["amount_pence"] == -3_000_01
    shares = {share["department_code"]: share["amount_pence"] for share in payload["attribution"]}
    assert sum(shares.values()) == -3_000_01
    assert all(pence < 0 for pence in shares.values())
    assert shares == {"DWP": -2_000_01, "DHSC": -1_000_00}
    # The same record as the gateway's feed shows a department, field for field.
    assert {name: payload[name] for name in FEED_FIELDS} == {
        name: feed_recovery[name] for name in FEED_FIELDS
    }
    assert feed_recovery["attribution"] == [
        share for share in payload["attribution"] if share["department_code"] == "DWP"
    ]


async def _found(reader: TopicReader, event_type: type) -> list:
    return reader.events(event_type)
