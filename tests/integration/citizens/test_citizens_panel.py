"""The Citizens' Panel over HTTP on the real gateway and PostgreSQL: members, a meeting, the
panel's questions to the board with the place's answer deadline, an answer published in time,
one published late and one still overdue, each flagged on the API and the public page; who may
do what; and a question put twice under one Idempotency-Key made once."""

from __future__ import annotations

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)

pytestmark = pytest.mark.integration

CITIZENS = "/api/v1/places/GM/citizens"


async def test_questions_are_answered_and_a_late_answer_is_flagged(settings, database_url) -> None:
    finance = await token_for(database_url, "fin-gm", "finance@GM")
    chair = await token_for(database_url, "chair-gm", "chair@GM")
    member = await token_for(database_url, "member-gm", "board_member@GM")
    async with client_for(settings, gateway_settings()) as client:
        rules = await client.put(
            f"{CITIZENS}/rules",
            json={"answer_days": 20, "trigger_threshold": 3, "trigger_window_days": 30,
                  "committee_response_days": 28},
            headers=bearer(finance),
        )  # fmt: skip
        assert rules.status_code == 200, rules.text
        for key, pseudonym in (("m1", "Oak"), ("m2", "Birch")):
            added = await client.post(
                f"{CITIZENS}/panel/members",
                json={"pseudonym": pseudonym, "joined_on": "2019-12-01"},
                headers=bearer(finance, key),
            )
            assert added.status_code == 201, added.text
        twice = await client.post(
            f"{CITIZENS}/panel/members",
            json={"pseudonym": "Oak", "joined_on": "2019-12-01"},
            headers=bearer(finance, "m3"),
        )
        # A meeting long past and one far ahead, so the due days are fixed whatever today is.
        for key, meeting_id, held_on in (("g1", "M-2020-01", "2020-01-10"),
                                         ("g2", "M-2099-01", "2099-01-01")):  # fmt: skip
            made = await client.post(
                f"{CITIZENS}/panel/meetings",
                json={"meeting_id": meeting_id, "held_on": held_on, "agenda": "Employment"},
                headers=bearer(finance, key),
            )
            assert made.status_code == 201, made.text

        async def ask(key: str, meeting_id: str, asked_by: str, text: str) -> dict:
            response = await client.post(
                f"{CITIZENS}/panel/questions",
                json={"meeting_id": meeting_id, "asked_by": asked_by, "question": text},
                headers=bearer(finance, key),
            )
            assert response.status_code == 201, response.text
            return response.json()

        late = await ask("q1", "M-2020-01", "Oak", "Why did job starts fall in Wigan?")
        again = await ask("q1", "M-2020-01", "Oak", "Why did job starts fall in Wigan?")
        overdue = await ask("q2", "M-2020-01", "Birch", "Who checks the evidence?")
        in_time = await ask("q3", "M-2099-01", "Birch", "What will the pot fund next?")
        stranger = await client.post(
            f"{CITIZENS}/panel/questions",
            json={"meeting_id": "M-2020-01", "asked_by": "Elm", "question": "?"},
            headers=bearer(finance, "q4"),
        )
        member_may_not_ask = await client.post(
            f"{CITIZENS}/panel/questions",
            json={"meeting_id": "M-2020-01", "asked_by": "Oak", "question": "?"},
            headers=bearer(member, "q5"),
        )

        async def answer(question: dict, key: str, token: str) -> object:
            return await client.post(
                f"{CITIZENS}/panel/questions/{question['question_id']}/answer",
                json={"answer": "Fewer referrals from the jobcentre."},
                headers=bearer(token, key),
            )

        answered_late = await answer(late, "a1", chair)
        answered_in_time = await answer(in_time, "a2", chair)
        answered_twice = await answer(late, "a3", chair)
        finance_may_not_answer = await answer(overdue, "a4", finance)
        status = await client.get(answered_late.headers["location"], headers=bearer(chair))
        panel = await client.get(f"{CITIZENS}/panel")
        page = await client.get("/places/GM/citizens")

    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "pseudonym"
    assert again == late, "the same key makes the question once"
    # Asked at the meeting of 10 January 2020, with 20 days to answer.
    assert late["due_on"] == "2020-01-30" and in_time["due_on"] == "2099-01-21"
    assert stranger.status_code == 422 and stranger.json()["errors"][0]["field"] == "asked_by"
    assert member_may_not_ask.status_code == 403
    assert answered_late.status_code == 201 and answered_late.json()["lateness"] == "late"
    assert answered_in_time.json()["lateness"] == "answered"
    assert answered_twice.status_code == 409
    assert finance_may_not_answer.status_code == 403
    assert status.json()["status"] == "done"
    by_id = {q["question_id"]: q for q in panel.json()["questions"]}
    assert len(by_id) == 3
    assert by_id[late["question_id"]]["lateness"] == "late"
    assert by_id[late["question_id"]]["answer"] == "Fewer referrals from the jobcentre."
    assert by_id[overdue["question_id"]]["lateness"] == "overdue"
    assert by_id[in_time["question_id"]]["lateness"] == "answered"
    assert [m["pseudonym"] for m in panel.json()["members"]] == ["Birch", "Oak"]
    assert page.status_code == 200
    assert "2 questions answered late or still overdue" in page.text
    assert "Why did job starts fall in Wigan?" in page.text
