"""The Local Public Audit Committee over HTTP on the real gateway and PostgreSQL: a referral
from the public (kept by pseudonymous key) and one from a councillor, taken up for
investigation, answered by an adopted (so published) report whose recommendations carry
timescales: one completed in time, one overdue, one not yet due, the overdue one listed on the
API and the public page; and the committee's members read what the place's auditor reads."""

from __future__ import annotations

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.insights.insights_support import connect

pytestmark = pytest.mark.integration

COMMITTEE = "/api/v1/places/GM/citizens/committee"
RETURNS = "/api/v1/places/GM/returns/prompt-payment/2026-27/H1"


async def test_a_referral_through_to_a_published_report_with_a_recommendation_overdue(
    settings, database_url
) -> None:
    committee = await token_for(database_url, "lpac-gm", "audit_committee@GM")
    elsewhere = await token_for(database_url, "lpac-lpl", "audit_committee@LPL")
    resident = await token_for(database_url, "res-1", "public@GM")
    councillor = await token_for(database_url, "cllr-1", "board_member@GM")
    async with client_for(settings, gateway_settings()) as client:
        member = await client.post(
            f"{COMMITTEE}/members",
            json={"name": "A. Resident", "membership": "public", "joined_on": "2026-01-05"},
            headers=bearer(committee, "c1"),
        )
        from_public = await client.post(
            f"{COMMITTEE}/referrals",
            json={"subject": "Wigan employment support", "concern": "Starts fell by half"},
            headers=bearer(resident, "r1"),
        )
        from_councillor = await client.post(
            f"{COMMITTEE}/referrals",
            json={"subject": "Evidence checks", "concern": "Samples too small"},
            headers=bearer(councillor, "r2"),
        )
        referral_id = from_public.json()["referral_id"]
        status_url = f"{COMMITTEE}/referrals/{referral_id}/status"
        skipped = await client.post(
            status_url, json={"status": "reported", "note": "?"}, headers=bearer(committee, "s0")
        )
        resident_may_not = await client.post(
            status_url,
            json={"status": "investigating", "note": "?"},
            headers=bearer(resident, "s1"),
        )
        taken_up = await client.post(
            status_url,
            json={"status": "investigating", "note": "Within our remit."},
            headers=bearer(committee, "s2"),
        )
        report = {
            "report_id": "LPAC-2026-01",
            "referral_id": referral_id,
            "title": "Employment support in Wigan",
            "summary": "Referrals from the jobcentre fell; the provider was not told.",
            "adopted_on": "2020-01-15",
            "recommendations": [
                {"recommendation": "Share referral data monthly", "addressed_to": "DWP",
                 "due_on": "2020-03-31"},
                {"recommendation": "Review the contract's targets", "addressed_to": "The board",
                 "due_on": "2020-06-30"},
                {"recommendation": "Publish starts by ward", "addressed_to": "Finance",
                 "due_on": "2099-12-31"},
            ],
        }  # fmt: skip
        adopted = await client.post(
            f"{COMMITTEE}/reports", json=report, headers=bearer(committee, "p1")
        )
        adopted_again = await client.post(
            f"{COMMITTEE}/reports", json=report, headers=bearer(committee, "p2")
        )
        completed = await client.post(
            f"{COMMITTEE}/reports/LPAC-2026-01/recommendations/1/completion",
            json={"completed_on": "2020-03-15", "note": "Monthly file agreed"},
            headers=bearer(committee, "k1"),
        )
        public_view = await client.get(COMMITTEE)
        page = await client.get("/places/GM/citizens")
        reads = [
            (await client.get(RETURNS, headers=bearer(token))).status_code
            for token in (committee, elsewhere, resident)
        ]

    assert member.status_code == 201, member.text
    assert from_public.status_code == 201 and from_public.json()["source"] == "public"
    assert from_councillor.json()["source"] == "councillor"
    assert skipped.status_code == 409 and skipped.json()["errors"][0]["field"] == "status"
    assert resident_may_not.status_code == 403
    assert taken_up.status_code == 201, taken_up.text
    assert adopted.status_code == 201, adopted.text
    assert adopted_again.status_code == 409
    assert completed.status_code == 201, completed.text

    view = public_view.json()
    referrals = {r["referral_id"]: r for r in view["referrals"]}
    assert referrals[referral_id]["status"] == "reported"
    assert referrals[from_councillor.json()["referral_id"]]["status"] == "received"
    (published,) = view["reports"]
    assert [
        (r["number"], r["completed_on"], r["overdue"]) for r in published["recommendations"]
    ] == [
        (1, "2020-03-15", False),
        (2, None, True),
        (3, None, False),
    ]
    assert [(r["report_id"], r["number"]) for r in view["overdue_recommendations"]] == [
        ("LPAC-2026-01", 2)
    ]
    assert [m["name"] for m in view["members"]] == ["A. Resident"]
    assert "Review the contract&#39;s targets" in page.text
    assert "1 recommendation overdue" in page.text
    # The committee reads what the place's auditor reads; not another place's, not the public.
    assert reads == [200, 403, 403]
    # The public's referral is kept by a pseudonymous key; the councillor's names them.
    connection = await connect(database_url)
    try:
        by = dict(await connection.fetch("SELECT source, referred_by FROM citizens_referrals"))
    finally:
        await connection.close()
    assert by["councillor"] == "cllr-1"
    assert "res-1" not in by["public"] and len(by["public"]) == 64
