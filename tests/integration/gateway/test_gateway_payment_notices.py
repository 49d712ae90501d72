"""The payments notices' approval over HTTP, from read-model rows written by hand: the draft's
figures and digest, the finance director's approval recorded (who, when, the figures) with a
command status, the approved notice published as open data, and the refusals (a period not yet
ended, figures changed since they were read, a second approval, the wrong role)."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.gateway.test_gateway_prompt_payment import on, write_read_models

pytestmark = pytest.mark.integration

NOTICE = "/api/v1/places/GM/returns/notices/payments-compliance/2026-27/H1"
LARGE = "/api/v1/places/GM/returns/notices/payments-over-30000/2026-27/Q1"
PUBLISHED = "/open-data/places/GM/payment-notices/payments-compliance/2026-27/H1/notice.json"


async def add_late_payment(database_url: str) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.execute(
            "INSERT INTO payments (place_id, payment_id, allocation_id, provider_id, contract_id,"
            " claim_batch_id, amount_pence, status, paid_at)"
            " VALUES ('GM', 'P-9', 'A-1', 'PROV-JS', 'OC-1', 'B-1', 100000, 'made', $1)",
            on(7, 1),
        )
    finally:
        await connection.close()


async def test_the_finance_director_approves_the_drafted_figures_and_they_are_published(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-director", "finance@GM"))
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    async with client_for(settings, gateway_settings()) as client:
        draft = await client.get(NOTICE, headers=auditor)
        assert draft.status_code == 200, draft.text
        unpublished = await client.get(PUBLISHED)
        by_auditor = await client.post(
            f"{NOTICE}/approval",
            json={"figures_digest": draft.json()["figures_digest"]},
            headers={**auditor, "Idempotency-Key": "a-1"},
        )
        stale = draft.json()["figures_digest"]
        await add_late_payment(database_url)  # P-9: claim 1 April, paid 1 July, 91 days
        refused_stale = await client.post(
            f"{NOTICE}/approval",
            json={"figures_digest": stale},
            headers={**finance, "Idempotency-Key": "k-1"},
        )
        fresh = (await client.get(NOTICE, headers=finance)).json()
        approved = await client.post(
            f"{NOTICE}/approval",
            json={"figures_digest": fresh["figures_digest"]},
            headers={**finance, "Idempotency-Key": "k-2"},
        )
        replayed = await client.post(
            f"{NOTICE}/approval",
            json={"figures_digest": fresh["figures_digest"]},
            headers={**finance, "Idempotency-Key": "k-2"},
        )
        again = await client.post(
            f"{NOTICE}/approval",
            json={"figures_digest": fresh["figures_digest"]},
            headers={**finance, "Idempotency-Key": "k-3"},
        )
        status = await client.get(approved.headers["location"], headers=finance)
        read_back = await client.get(NOTICE, headers=auditor)
        public = await client.get(PUBLISHED)

    assert draft.status_code == 200, draft.text
    assert draft.json()["status"] == "draft"
    assert draft.json()["due_on"] == "2026-10-30"  # 30 days after 30 September
    assert draft.json()["figures"]["average_days_to_pay"] == "25.0"  # (20 + 10 + 45) / 3
    assert unpublished.status_code == 404
    assert by_auditor.status_code == 403
    assert refused_stale.status_code == 409, refused_stale.text
    assert refused_stale.json()["errors"][0]["rule"] == "figures_as_drafted"
    # With P-9: (20 + 10 + 45 + 91) / 4 = 41.5 days; one in each band of 31-60 and 61+.
    assert fresh["figures"]["average_days_to_pay"] == "41.5"
    assert fresh["figures"]["paid_within_days"] == {"1_to_30": 2, "31_to_60": 1, "61_or_more": 1}
    assert approved.status_code == 201, approved.text
    assert approved.json()["status"] == "done"
    assert replayed.status_code == 201 and replayed.headers["idempotency-replayed"] == "true"
    assert again.status_code == 409 and again.json()["errors"][0]["rule"] == "approved_once"
    assert status.status_code == 200 and status.json()["status"] == "done"
    assert status.json()["command_type"] == "PaymentsNoticeApproved"
    assert status.json()["made"] == {"notice": "payments-compliance", "period": "2026-27-H1"}
    notice = read_back.json()
    assert notice["status"] == "approved"
    assert notice["approved_by"] == "fin-director"
    assert notice["figures"] == fresh["figures"]
    assert notice["figures_digest"] == fresh["figures_digest"]
    assert notice["command_id"] == approved.json()["command_id"]
    assert public.status_code == 200, public.text
    assert public.json()["figures"]["average_days_to_pay"] == "41.5"
    assert [p["payment_id"] for p in public.json()["figures"]["later_than_30_days"]] == [
        "P-2",
        "P-9",
    ]
    assert public.json()["approved_by"] == "fin-director"


async def test_the_over_30000_notice_is_drafted_and_a_running_period_cannot_be_approved(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-director", "finance@GM"))
    async with client_for(settings, gateway_settings()) as client:
        large = await client.get(LARGE, headers=finance)
        running = "/api/v1/places/GM/returns/notices/payments-over-30000/2099-01/Q1"
        bad_year = await client.get(running, headers=finance)
        future = LARGE.replace("2026-27", "2098-99")
        draft = (await client.get(future, headers=finance)).json()
        too_early = await client.post(
            f"{future}/approval",
            json={"figures_digest": draft["figures_digest"]},
            headers={**finance, "Idempotency-Key": "k-early"},
        )
        wrong_half = await client.get(NOTICE.replace("H1", "Q1"), headers=finance)

    assert large.status_code == 200, large.text
    assert large.json()["due_on"] == "2026-07-30"  # 30 days after 30 June
    assert [
        (p["payment_id"], p["amount_pence"], p["supplier_name"])
        for p in large.json()["figures"]["payments"]
    ] == [("P-1", 4_000_000, "Workwell CIC")]  # P-2 is exactly £30,000: not over
    assert bad_year.status_code == 422  # 2099-01 is not a financial year's shape
    assert too_early.status_code == 409
    assert too_early.json()["errors"][0]["rule"] == "period_ended"
    assert wrong_half.status_code == 422
