"""Scrutiny triggers over HTTP on the real gateway and PostgreSQL: a trigger whose supporters
pass the place's threshold inside its window is referred to the audit committee at once, with
the place's deadline for a response; each resident counts once however often they ask; a
trigger that does not pass inside its window expires and takes no more support."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.insights.insights_support import connect

pytestmark = pytest.mark.integration

CITIZENS = "/api/v1/places/GM/citizens"
RULES = {
    "answer_days": 20,
    "trigger_threshold": 3,
    "trigger_window_days": 30,
    "committee_response_days": 28,
}


async def test_a_trigger_past_its_threshold_is_referred_and_one_out_of_time_expires(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin-gm", "finance@GM")
    residents = [await token_for(database_url, f"res-{n}", "public@GM") for n in range(4)]
    board_member = await token_for(database_url, "member-gm", "board_member@GM")
    async with client_for(settings, gateway_settings()) as client:
        assert (
            await client.put(f"{CITIZENS}/rules", json=RULES, headers=bearer(finance))
        ).is_success

        async def open_trigger(token: str, key: str, subject: str) -> str:
            opened = await client.post(
                f"{CITIZENS}/triggers",
                json={"subject_kind": "provider", "subject": subject, "concern": "Slow starts"},
                headers=bearer(token, key),
            )
            assert opened.status_code == 201, opened.text
            return str(opened.json()["trigger_id"])

        async def support(token: str, key: str, trigger_id: str) -> int:
            answer = await client.post(
                f"{CITIZENS}/triggers/{trigger_id}/support", headers=bearer(token, key)
            )
            return answer.status_code

        passing = await open_trigger(residents[0], "t1", "PROV-A")
        expiring = await open_trigger(residents[0], "t2", "PROV-B")
        # The opener has supported already; asking again under a new key is refused, and the
        # same key replays the one support it made.
        opener_again = await support(residents[0], "s0", passing)
        second = await support(residents[1], "s1", passing)
        second_replayed = await support(residents[1], "s1", passing)
        board_may_not = await support(board_member, "s9", passing)
        after_two = (await client.get(f"{CITIZENS}/triggers")).json()["triggers"]
        third = await support(residents[2], "s2", passing)
        after_threshold = await support(residents[3], "s3", passing)

        # The second trigger's window is moved into the past: opened 1 March, closing 31 March.
        connection = await connect(database_url)
        try:
            await connection.execute(
                "UPDATE citizens_triggers SET opened_at = $2, closes_at = $3 WHERE trigger_id = $1",
                uuid.UUID(expiring),
                dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                dt.datetime(2026, 3, 31, tzinfo=dt.UTC),
            )
        finally:
            await connection.close()
        too_late = await support(residents[1], "s4", expiring)
        listed = {
            t["trigger_id"]: t
            for t in (await client.get(f"{CITIZENS}/triggers")).json()["triggers"]
        }
        page = await client.get("/places/GM/citizens")

    assert opener_again == 409
    assert (second, second_replayed, board_may_not) == (201, 201, 403)
    assert {t["trigger_id"]: (t["supporters"], t["state"]) for t in after_two} == {
        passing: (2, "open"),
        expiring: (1, "open"),
    }
    assert third == 201
    assert after_threshold == 409, "a referred trigger takes no more support"
    referred = listed[passing]
    assert (referred["supporters"], referred["state"], referred["threshold"]) == (3, "referred", 3)
    assert referred["referral_id"] is not None
    assert (listed[expiring]["supporters"], listed[expiring]["state"]) == (1, "expired")
    assert too_late == 409
    # The referral waits for the committee, due 28 days after the day it was referred.
    connection = await connect(database_url)
    try:
        referral = await connection.fetchrow(
            "SELECT source, subject, referred_on, respond_by, status FROM citizens_referrals"
        )
    finally:
        await connection.close()
    assert referral["source"] == "trigger" and referral["subject"] == "provider PROV-A"
    assert referral["respond_by"] - referral["referred_on"] == dt.timedelta(days=28)
    assert referral["status"] == "received"
    assert page.status_code == 200
    assert "provider PROV-A" in page.text and "Referred to the audit committee" in page.text
