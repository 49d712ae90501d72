"""The citizens' public events and open data on the real gateway, PostgreSQL and broker: a
panel question asked and answered late reaches `citizens.lifecycle.v1` once each (replayed
Idempotency-Keys publish nothing more), a trigger that passes its threshold publishes its
referral, a referral answered by a report publishes each step, and the open-data documents of
the panel, triggers and committee flag what is late or overdue and hold no resident key or
principal."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from contracts import topics
from contracts.citizens import (
    AuditReferralReceived,
    AuditReportAdopted,
    PanelQuestionAnswered,
    PanelQuestionAsked,
    RecommendationCompleted,
    ScrutinyTriggerOpened,
    ScrutinyTriggerReferred,
)
from services.gateway.citizens.domain import resident_key
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.support.kafka import TopicReader, eventually

pytestmark = pytest.mark.integration

CITIZENS = "/api/v1/places/GM/citizens"
RESIDENTS = ("resident-ann-7f3", "resident-bob-9c1", "resident-cy-2d8")
RULES = {
    "answer_days": 20,
    "trigger_threshold": 2,
    "trigger_window_days": 30,
    "committee_response_days": 28,
}


async def set_up_the_panel(client: httpx.AsyncClient, finance: str) -> None:
    """The place's rules, two members, a meeting long past (answers due 2020-01-30) and one
    far ahead, so the due days are fixed whatever today is."""
    rules = await client.put(f"{CITIZENS}/rules", json=RULES, headers=bearer(finance))
    assert rules.status_code == 200, rules.text
    for key, pseudonym in (("m1", "Oak"), ("m2", "Birch")):
        added = await client.post(
            f"{CITIZENS}/panel/members",
            json={"pseudonym": pseudonym, "joined_on": "2019-12-01"},
            headers=bearer(finance, key),
        )
        assert added.status_code == 201, added.text
    for key, meeting_id, held_on in (("g1", "M-2020-01", "2020-01-10"),
                                     ("g2", "M-2099-01", "2099-01-01")):  # fmt: skip
        made = await client.post(
            f"{CITIZENS}/panel/meetings",
            json={"meeting_id": meeting_id, "held_on": held_on, "agenda": "Employment"},
            headers=bearer(finance, key),
        )
        assert made.status_code == 201, made.text


async def ask(
    client: httpx.AsyncClient, finance: str, key: str, meeting_id: str, text: str
) -> httpx.Response:
    return await client.post(
        f"{CITIZENS}/panel/questions",
        json={"meeting_id": meeting_id, "asked_by": "Oak", "question": text},
        headers=bearer(finance, key),
    )


async def answer(
    client: httpx.AsyncClient, chair: str, key: str, question_id: str
) -> httpx.Response:
    return await client.post(
        f"{CITIZENS}/panel/questions/{question_id}/answer",
        json={"answer": "Fewer referrals from the jobcentre."},
        headers=bearer(chair, key),
    )


async def refer_a_trigger(client: httpx.AsyncClient, residents: list[str]) -> str:
    """The first resident opens a trigger and the second's support passes the threshold (2)."""
    opened = await client.post(
        f"{CITIZENS}/triggers",
        json={"subject_kind": "provider", "subject": "Acme Employment",
              "concern": "Participants report missed appointments"},
        headers=bearer(residents[0], "t1"),
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    trigger_id: str = opened.json()["trigger_id"]
    supported = await client.post(
        f"{CITIZENS}/triggers/{trigger_id}/support", headers=bearer(residents[1], "s1")
    )
    assert supported.status_code == 201, supported.text
    return trigger_id


def private_words(place_id: str = "GM") -> list[str]:
    """What must never be published: the residents' keys and every principal's id."""
    return [resident_key(place_id, principal) for principal in RESIDENTS] + [
        *RESIDENTS,
        "finance-gm-4e2",
        "chair-gm-8a6",
        "lpac-gm-5b9",
    ]


async def tokens(database_url: str) -> tuple[str, str, str, list[str]]:
    finance = await token_for(database_url, "finance-gm-4e2", "finance@GM")
    chair = await token_for(database_url, "chair-gm-8a6", "chair@GM")
    committee = await token_for(database_url, "lpac-gm-5b9", "audit_committee@GM")
    residents = [await token_for(database_url, rid, "public@GM") for rid in RESIDENTS]
    return finance, chair, committee, residents


async def test_a_question_and_its_late_answer_are_published_once_each(
    settings, database_url
) -> None:
    finance, chair, _, residents = await tokens(database_url)
    async with (
        TopicReader(settings, topics.CITIZENS_LIFECYCLE) as reader,
        client_for(settings, gateway_settings()) as client,
    ):
        await set_up_the_panel(client, finance)
        asked = await ask(client, finance, "q1", "M-2020-01", "Why did job starts fall?")
        asked_again = await ask(client, finance, "q1", "M-2020-01", "Why did job starts fall?")
        question_id = asked.json()["question_id"]
        answered = await answer(client, chair, "a1", question_id)
        answered_again = await answer(client, chair, "a1", question_id)
        # A later fact of the same place, on the same partition: once it is read, everything
        # the gateway published before it has been read too.
        trigger_id = await refer_a_trigger(client, residents)
        await eventually(lambda: _events(reader, AuditReferralReceived))
        records = list(reader.records)
        asked_events = reader.events(PanelQuestionAsked)
        answered_events = reader.events(PanelQuestionAnswered)
        opened_events = reader.events(ScrutinyTriggerOpened)
        referred_events = reader.events(ScrutinyTriggerReferred)
        received_events = reader.events(AuditReferralReceived)

    assert asked.status_code == answered.status_code == 201, (asked.text, answered.text)
    assert asked_again.json() == asked.json() and answered_again.json() == answered.json()
    assert len(asked_events) == 1, "a replayed key publishes nothing more"
    assert asked_events[0].model_dump() == {
        "place_id": "GM",
        "question_id": question_id,
        "meeting_id": "M-2020-01",
        "asked_by": "Oak",
        "question": "Why did job starts fall?",
        "asked_on": date(2020, 1, 10),
        "due_on": date(2020, 1, 30),
    }
    assert len(answered_events) == 1, "a replayed key publishes nothing more"
    (published_answer,) = answered_events
    assert published_answer.question_id == question_id
    assert published_answer.due_on == date(2020, 1, 30) and published_answer.late is True
    assert published_answer.answer == "Fewer referrals from the jobcentre."
    assert [event.trigger_id for event in opened_events] == [trigger_id]
    assert opened_events[0].threshold == 2
    (referred,) = referred_events
    assert (referred.trigger_id, referred.threshold, referred.supporters) == (trigger_id, 2, 2)
    (received,) = received_events
    assert received.referral_id == referred.referral_id and received.source == "trigger"
    assert received.respond_by == referred.respond_by
    assert (received.respond_by - received.referred_on).days == RULES["committee_response_days"]
    assert all(record.key == b"GM" for record in records)
    published = b"".join(record.value for record in records).decode()
    assert not [word for word in private_words() if word in published]


async def _events(reader: TopicReader, kind: type) -> list[Any]:
    return reader.events(kind)


async def test_the_open_data_flags_late_and_overdue_and_holds_nothing_private(
    settings, database_url
) -> None:
    finance, chair, committee, residents = await tokens(database_url)
    async with client_for(settings, gateway_settings()) as client:
        await set_up_the_panel(client, finance)
        late = (await ask(client, finance, "q1", "M-2020-01", "Why did starts fall?")).json()
        overdue = (await ask(client, finance, "q2", "M-2020-01", "Who checks evidence?")).json()
        awaiting = (await ask(client, finance, "q3", "M-2099-01", "What next?")).json()
        assert (await answer(client, chair, "a1", late["question_id"])).status_code == 201
        trigger_id = await refer_a_trigger(client, residents)
        still_open = await client.post(
            f"{CITIZENS}/triggers",
            json={"subject_kind": "service", "subject": "Bus passes", "concern": "Delays"},
            headers=bearer(residents[2], "t2"),
        )
        from_public = await client.post(
            f"{CITIZENS}/committee/referrals",
            json={"subject": "Wigan employment support", "concern": "Starts fell by half"},
            headers=bearer(residents[2], "r1"),
        )
        report = await client.post(
            f"{CITIZENS}/committee/reports",
            json={
                "report_id": "LPAC-2020-01",
                "title": "Employment support",
                "summary": "Referrals fell; the provider was not told.",
                "adopted_on": "2020-01-15",
                "recommendations": [
                    {"recommendation": "Share referral data monthly", "addressed_to": "DWP",
                     "due_on": "2020-03-31"},
                    {"recommendation": "Publish starts by ward", "addressed_to": "Finance",
                     "due_on": "2099-12-31"},
                ],
            },
            headers=bearer(committee, "p1"),
        )  # fmt: skip
        panel = await client.get(f"{CITIZENS}/panel/open-data")
        triggers = await client.get(f"{CITIZENS}/triggers/open-data")
        committee_data = await client.get(f"{CITIZENS}/committee/open-data")

    assert still_open.status_code == from_public.status_code == report.status_code == 201
    for document in (panel, triggers, committee_data):
        assert document.status_code == 200, document.text
        assert document.headers["access-control-allow-origin"] == "*"
        assert 'rel="license"' in document.headers["link"]
        assert document.json()["licence"]["name"] == "Open Government Licence v3.0"
        assert not [word for word in private_words() if word in document.text]

    questions = {q["question_id"]: q for q in panel.json()["questions"]}
    assert (questions[late["question_id"]]["late"], questions[late["question_id"]]["overdue"]) == (
        True,
        False,
    )
    assert questions[late["question_id"]]["answer"] == "Fewer referrals from the jobcentre."
    assert questions[overdue["question_id"]]["overdue"] is True
    assert questions[overdue["question_id"]]["answer"] is None
    assert questions[awaiting["question_id"]]["lateness"] == "awaiting"
    assert (panel.json()["answered_late"], panel.json()["overdue"]) == (1, 1)

    by_id = {t["trigger_id"]: t for t in triggers.json()["triggers"]}
    referred = by_id[trigger_id]
    assert (referred["state"], referred["supporters"], referred["threshold"]) == ("referred", 2, 2)
    assert referred["referral"]["status"] == "received"
    assert referred["referral"]["response_overdue"] is False
    opened = by_id[still_open.json()["trigger_id"]]
    assert (opened["state"], opened["supporters"], opened["referral"]) == ("open", 1, None)

    published = committee_data.json()
    sources = sorted(r["source"] for r in published["referrals"])
    assert sources == ["public", "trigger"]
    assert all("referred_by" not in r for r in published["referrals"])
    assert "members" not in published
    (adopted,) = published["reports"]
    assert [(r["number"], r["overdue"]) for r in adopted["recommendations"]] == [
        (1, True),
        (2, False),
    ]
    assert [(r["report_id"], r["number"]) for r in published["overdue_recommendations"]] == [
        ("LPAC-2020-01", 1)
    ]


async def test_a_referral_taken_up_and_answered_by_a_report_is_published_without_who_referred(
    settings, database_url
) -> None:
    _, _, committee, residents = await tokens(database_url)
    async with (
        TopicReader(settings, topics.CITIZENS_LIFECYCLE) as reader,
        client_for(settings, gateway_settings()) as client,
    ):
        referred = await client.post(
            f"{CITIZENS}/committee/referrals",
            json={"subject": "Wigan employment support", "concern": "Starts fell by half"},
            headers=bearer(residents[0], "r1"),
        )
        referral_id = referred.json()["referral_id"]
        taken_up = await client.post(
            f"{CITIZENS}/committee/referrals/{referral_id}/status",
            json={"status": "investigating", "note": "Within our remit."},
            headers=bearer(committee, "s1"),
        )
        adopted = await client.post(
            f"{CITIZENS}/committee/reports",
            json={"report_id": "LPAC-2020-01", "referral_id": referral_id,
                  "title": "Employment support", "summary": "Referrals fell.",
                  "adopted_on": "2020-01-15",
                  "recommendations": [{"recommendation": "Share referral data monthly",
                                       "addressed_to": "DWP", "due_on": "2020-03-31"}]},
            headers=bearer(committee, "p1"),
        )  # fmt: skip
        completed = await client.post(
            f"{CITIZENS}/committee/reports/LPAC-2020-01/recommendations/1/completion",
            json={"completed_on": "2020-04-02", "note": "Shared from April."},
            headers=bearer(committee, "c1"),
        )
        await eventually(lambda: _events(reader, RecommendationCompleted))
        kinds = [envelope.event_type for envelope in reader.envelopes()]
        (report,) = reader.events(AuditReportAdopted)
        (done,) = reader.events(RecommendationCompleted)
        published = b"".join(record.value for record in reader.records).decode()

    assert [r.status_code for r in (referred, taken_up, adopted, completed)] == [201] * 4
    assert kinds == [
        "AuditReferralReceived",
        "AuditReferralMoved",
        "AuditReportAdopted",
        "RecommendationCompleted",
    ]
    assert report.referral_id == referral_id
    assert [(r.number, r.due_on) for r in report.recommendations] == [(1, date(2020, 3, 31))]
    assert (done.report_id, done.number, done.late) == ("LPAC-2020-01", 1, True)
    assert not [word for word in private_words() if word in published]
