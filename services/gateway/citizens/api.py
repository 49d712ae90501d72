"""The citizens room's API: the place's settings for its panel, triggers and committee, and the
Citizens' Panel (members, meetings, questions to the board and the board's answers). Reads are
public; every change is a command the gateway decides itself, once per Idempotency-Key, with a
command status like the services' commands (services/gateway/returns/local_commands.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import problems
from services.gateway.citizens import db, domain, events
from services.gateway.citizens import panel as panel_steps
from services.gateway.citizens.commands import (
    Command,
    Named,
    Sent,
    Taken,
    add_routes,
    request_body,
    room_router,
)
from services.gateway.domain import Permission, Principal, Role
from services.gateway.identity.auth import CALLER, Gateway, require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.problems import ProblemError
from services.gateway.returns import local_commands

TEXT_MAX = 4_000
PSEUDONYM = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")
QUESTION_ID = Path(..., description="A panel question's id.")
TRIGGER_ID = Path(..., description="A scrutiny trigger's id.")
REFERRAL_ID = Path(..., description="A referral's id.")
REPORT_ID = Path(..., min_length=1, max_length=64, description="An adopted report's id.")
RECOMMENDATION_NUMBER = Path(..., ge=1, le=100, description="A recommendation's number.")
COUNCILLORS = frozenset({Role.BOARD_MEMBER, Role.CHAIR})


class RulesBody(BaseModel):
    """The place's settings for its panel, triggers and committee."""

    model_config = ConfigDict(extra="forbid")

    answer_days: int = Field(ge=1, le=365, description="Days the board has to answer.")
    trigger_threshold: int = Field(ge=1, le=1_000_000, description="Supporters a trigger needs.")
    trigger_window_days: int = Field(ge=1, le=730, description="Days a trigger has to pass.")
    committee_response_days: int = Field(
        ge=1, le=365, description="Days the committee has to respond to a referral."
    )


class PanelMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pseudonym: str = PSEUDONYM
    joined_on: date


class PanelMeeting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meeting_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    held_on: date
    agenda: str = Field(min_length=1, max_length=TEXT_MAX)


class PanelQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meeting_id: str = Field(min_length=1, max_length=64)
    asked_by: str = PSEUDONYM
    question: str = Field(min_length=1, max_length=TEXT_MAX)


class TriggerOpening(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_kind: Literal["service", "provider"]
    subject: str = Field(min_length=1, max_length=200, description="The service or provider.")
    concern: str = Field(min_length=1, max_length=TEXT_MAX)


class CommitteeMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    membership: Literal["councillor", "mp", "public", "independent"]
    joined_on: date


class Referral(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200, description="The service or body.")
    concern: str = Field(min_length=1, max_length=TEXT_MAX)


class ReferralStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["investigating", "reported", "declined"]
    note: str = Field(min_length=1, max_length=TEXT_MAX, description="Why, in public.")


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recommendation: str = Field(min_length=1, max_length=TEXT_MAX)
    addressed_to: str = Field(min_length=1, max_length=200)
    due_on: date = Field(description="The timescale: the day it must be completed by.")


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    referral_id: uuid.UUID | None = None
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=TEXT_MAX * 4)
    adopted_on: date
    recommendations: list[Recommendation] = Field(max_length=100)


class Completion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    completed_on: date
    note: str = Field(min_length=1, max_length=TEXT_MAX)


class PanelAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=TEXT_MAX)


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, "not-found", detail)


def today() -> date:
    return datetime.now(UTC).date()


def routes(gateway: Gateway) -> APIRouter:
    router = room_router("/api/v1/places/{place_id}/citizens")
    place = identifier_path()

    @router.get("/rules")
    async def rules(place_id: str = place) -> dict[str, Any]:
        """The place's settings (the defaults until it sets its own)."""
        async with gateway.pool.acquire() as connection:
            chosen = await db.place_rules(connection, place_id)
        return {"place_id": place_id, **vars(chosen)}

    @router.put("/rules", openapi_extra=request_body(RulesBody))
    async def set_rules(
        request: Request, place_id: str = place, principal: Principal = CALLER
    ) -> dict[str, Any]:
        """Set the place's settings (idempotent: the same body twice leaves one row). A
        trigger keeps the threshold and window it opened under."""
        check_storable(place_id, "place_id")
        require(principal, Permission.MANAGE_BOARD, place_id, what="the place's rules")
        _, body = await local_commands.body_of(request, gateway, RulesBody)
        chosen = domain.PlaceRules(**body.model_dump())
        async with gateway.pool.acquire() as connection:
            await db.set_place_rules(connection, place_id, chosen, principal.principal_id)
        return {"place_id": place_id, **vars(chosen)}

    @router.get("/panel")
    async def panel(place_id: str = place) -> dict[str, Any]:
        """The panel, for anyone: members' pseudonyms, meetings, and every question with its
        due day, the board's answer and `lateness` (awaiting, answered, late or overdue)."""
        async with gateway.pool.acquire() as connection:
            found = await db.panel(connection, place_id, today())
        return {"place_id": place_id, **found}

    @router.get("/triggers")
    async def triggers(place_id: str = place) -> dict[str, Any]:
        """Every trigger, for anyone: what it is about, its threshold, window, supporters
        counted (never who), `state` (open, referred or expired) and its referral."""
        async with gateway.pool.acquire() as connection:
            found = await db.triggers(connection, place_id, datetime.now(UTC))
        return {"place_id": place_id, "triggers": found}

    @router.get("/committee")
    async def committee(place_id: str = place) -> dict[str, Any]:
        """The committee, for anyone: members, referrals with their status and response day
        (`response_overdue` when none came in time), every adopted report with its
        recommendations, and `overdue_recommendations`."""
        async with gateway.pool.acquire() as connection:
            found = await db.committee(connection, place_id, today())
        return {"place_id": place_id, **found}

    add_routes(router, gateway, COMMANDS)
    return router


def referral_for(trigger_id: uuid.UUID) -> uuid.UUID:
    """The referral a trigger becomes has an id of its own, fixed by the trigger's."""
    return uuid.uuid5(trigger_id, "referral")


async def support_trigger(
    connection: asyncpg.Connection,
    place_id: str,
    trigger_id: uuid.UUID,
    resident: str,
    now: datetime,
    rules: domain.PlaceRules,
) -> None:
    """Count a resident's support; the support that refers the trigger to the committee also
    publishes the referral (the trigger's and the committee's events), in the same transaction."""
    referral_id = referral_for(trigger_id)
    supporters, referred = await db.support_trigger(
        connection, place_id, trigger_id, resident, now, referral_id, rules
    )
    if not referred:
        return
    trigger = await db.trigger(connection, place_id, trigger_id)
    assert trigger is not None  # locked and referred in this transaction
    referral = {
        "referral_id": referral_id,
        "source": "trigger",
        "subject": f"{trigger['subject_kind']} {trigger['subject']}",
        "concern": trigger["concern"],
        "referred_on": now.date(),
        "respond_by": domain.response_due(now.date(), rules),
    }
    await events.trigger_referred(connection, place_id, trigger, supporters, referral)


async def add_member(sent: Sent, member: PanelMember) -> Taken:
    """Add a member to the panel under a pseudonym (nothing else about them is kept)."""
    if await sent.first_time():
        async with sent.gateway.pool.acquire() as connection:
            if await db.panel_member_exists(connection, sent.place_id, member.pseudonym):
                raise problems.invalid(
                    "pseudonym", "unique", "is already a member of the panel", 409
                )

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.add_panel_member(
            connection, sent.place_id, member.pseudonym, member.joined_on,
            sent.principal.principal_id,
        )  # fmt: skip

    return {"pseudonym": member.pseudonym}, save


async def add_meeting(sent: Sent, meeting: PanelMeeting) -> Taken:
    """Record a meeting of the panel, with its agenda."""
    if await sent.first_time():
        async with sent.gateway.pool.acquire() as connection:
            if await db.panel_meeting(connection, sent.place_id, meeting.meeting_id):
                raise problems.invalid("meeting_id", "unique", "names a meeting already", 409)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.add_panel_meeting(
            connection, sent.place_id, meeting.meeting_id, meeting.held_on, meeting.agenda
        )

    return {"meeting_id": meeting.meeting_id}, save


async def ask_question(sent: Sent, asked: PanelQuestion) -> Taken:
    """Put a member's question to the board, as asked at a meeting: it is asked on the
    meeting's day and due the place's `answer_days` later."""
    async with sent.gateway.pool.acquire() as connection:
        asked_on, due_on = await panel_steps.question_due(
            connection, sent.place_id, asked.meeting_id, asked.asked_by
        )
    question_id = sent.command_id

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.ask_panel_question(
            connection, sent.place_id, question_id, asked.meeting_id, asked.asked_by,
            asked.question, asked_on, due_on,
        )  # fmt: skip
        await events.question_asked(
            connection, sent.place_id, question_id, asked.meeting_id, asked.asked_by,
            asked.question, asked_on, due_on,
        )  # fmt: skip

    return {"question_id": str(question_id), "due_on": due_on.isoformat()}, save


async def open_trigger(sent: Sent, opening: TriggerOpening) -> Taken:
    """A resident starts a petition for early scrutiny of a service or provider, under
    the place's threshold and window today; they are its first supporter."""
    place_id, trigger_id = sent.place_id, sent.command_id
    resident = domain.resident_key(place_id, sent.principal.principal_id)
    now = datetime.now(UTC)
    async with sent.gateway.pool.acquire() as connection:
        rules = await db.place_rules(connection, place_id)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.open_trigger(
            connection, place_id, trigger_id, opening.subject_kind, opening.subject,
            opening.concern, now, rules,
        )  # fmt: skip
        opened = await db.trigger(connection, place_id, trigger_id)
        assert opened is not None  # written just now, in this transaction
        await events.trigger_opened(connection, place_id, opened)
        await support_trigger(connection, place_id, trigger_id, resident, now, rules)

    return {"trigger_id": str(trigger_id)}, save


async def add_committee_member(sent: Sent, member: CommitteeMember) -> Taken:
    """List a member of the committee (its grants are given with `singlepot users`)."""
    if await sent.first_time():
        async with sent.gateway.pool.acquire() as connection:
            if await db.committee_member_exists(connection, sent.place_id, member.name):
                raise problems.invalid("name", "unique", "is a member already", 409)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.add_committee_member(
            connection, sent.place_id, member.name, member.membership, member.joined_on
        )

    return {"name": member.name}, save


async def refer(sent: Sent, referral: Referral) -> Taken:
    """Refer a matter of concern to the committee: from a councillor (a board member or
    chair of the place, named) or from the public (kept by pseudonymous key). It is due a
    response the place's `committee_response_days` later."""
    place_id, principal = sent.place_id, sent.principal
    councillor = any(
        grant.role in COUNCILLORS and grant.reaches(place_id) for grant in principal.grants
    )
    source = domain.referral_source(councillor)
    by = (
        principal.principal_id
        if councillor
        else domain.resident_key(place_id, principal.principal_id)
    )
    referral_id = sent.command_id
    referred_on = today()
    async with sent.gateway.pool.acquire() as connection:
        rules = await db.place_rules(connection, place_id)
    respond_by = domain.response_due(referred_on, rules)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.add_referral(
            connection, place_id, referral_id, source=source, subject=referral.subject,
            concern=referral.concern, referred_by=by, referred_on=referred_on, rules=rules,
        )  # fmt: skip
        await events.referral_received(
            connection, place_id,
            {"referral_id": referral_id, "source": source, "subject": referral.subject,
             "concern": referral.concern, "referred_on": referred_on, "respond_by": respond_by},
        )  # fmt: skip

    made = {"referral_id": str(referral_id), "source": source, "respond_by": respond_by.isoformat()}
    return made, save


async def adopt_report(sent: Sent, report: Report) -> Taken:
    """The committee adopts a report, which is published as it is adopted, with its
    recommendations numbered in order, each with the day it must be completed by. A report
    answering a referral under investigation makes it `reported`."""
    place_id = sent.place_id
    if await sent.first_time():
        async with sent.gateway.pool.acquire() as connection:
            exists = await db.report_exists(connection, place_id, report.report_id)
            status = (
                await db.referral_status(connection, place_id, report.referral_id)
                if report.referral_id
                else None
            )
        if exists:
            raise problems.invalid("report_id", "unique", "names a report already", 409)
        if report.referral_id is not None and status is None:
            raise problems.invalid("referral_id", "exists", "names no referral")
        if status is not None and not domain.may_move(status, "reported"):
            raise problems.invalid("referral_id", "investigating", f"the referral is {status}", 409)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        adopted = report.model_dump(exclude={"recommendations"})
        recommendations = [item.model_dump() for item in report.recommendations]
        await db.adopt_report(
            connection, place_id, adopted, recommendations, sent.principal.principal_id
        )
        await events.report_adopted(connection, place_id, adopted, recommendations)

    return {"report_id": report.report_id}, save


async def answer_question(sent: Sent, answer: PanelAnswer) -> Taken:
    """The board publishes its answer to a question, dated today; answered after its due
    day, it is flagged late for good."""
    place_id, question_id = sent.place_id, sent.named["question_id"]
    answered_on = today()
    async with sent.gateway.pool.acquire() as connection:
        question = await db.panel_question_for_answer(connection, place_id, question_id)
    if question is None:
        raise not_found(f"{place_id}'s panel has no question {question_id}")
    if await sent.first_time():
        panel_steps.check_answerable(question)
    lateness = domain.answer_lateness(question["due_on"], answered_on, answered_on)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.answer_panel_question(
            connection, place_id, question_id, answer.answer, answered_on,
            sent.principal.principal_id,
        )  # fmt: skip
        await events.question_answered(
            connection, place_id, question_id, answer.answer, answered_on, question["due_on"]
        )

    return {"question_id": str(question_id), "lateness": lateness}, save


async def support(sent: Sent, _: None) -> Taken:
    """A resident supports a trigger (once: their pseudonymous key is counted once). The
    support that reaches the threshold inside the window refers the trigger to the audit
    committee, with the place's deadline for a response. An expired or referred trigger
    takes no more support."""
    place_id, trigger_id = sent.place_id, sent.named["trigger_id"]
    resident = domain.resident_key(place_id, sent.principal.principal_id)
    now = datetime.now(UTC)
    async with sent.gateway.pool.acquire() as connection:
        found = await db.trigger(connection, place_id, trigger_id)
        supported = await db.supports(connection, place_id, trigger_id, resident)
        rules = await db.place_rules(connection, place_id)
    if found is None:
        raise not_found(f"{place_id} has no scrutiny trigger {trigger_id}")
    if await sent.first_time():
        state = domain.trigger_state(found["referred_at"] is not None, found["closes_at"], now)
        if state != domain.OPEN:
            raise problems.invalid("trigger_id", "open", f"the trigger is {state}", 409)
        if supported:
            raise problems.invalid("trigger_id", "once", "you support it already", 409)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await support_trigger(connection, place_id, trigger_id, resident, now, rules)

    return {"trigger_id": str(trigger_id)}, save


async def move_referral(sent: Sent, moving: ReferralStatus) -> Taken:
    """The committee takes a referral up (investigating) or declines it, with a public
    note; a referral is `reported` when a report answering it is adopted."""
    place_id, referral_id = sent.place_id, sent.named["referral_id"]
    async with sent.gateway.pool.acquire() as connection:
        current = await db.referral_status(connection, place_id, referral_id)
    if current is None:
        raise not_found(f"{place_id}'s committee has no referral {referral_id}")
    if await sent.first_time():
        if moving.status == "reported" or not domain.may_move(current, moving.status):
            raise problems.invalid(
                "status", "next", f"a {current} referral cannot become {moving.status}", 409
            )

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.set_referral_status(connection, place_id, referral_id, moving.status, moving.note)
        await events.referral_moved(
            connection, place_id, referral_id, moving.status, moving.note, today()
        )

    return {"referral_id": str(referral_id), "referral_status": moving.status}, save


async def complete(sent: Sent, completion: Completion) -> Taken:
    """The committee records a recommendation as completed, on the day it was, with how."""
    place_id = sent.place_id
    report_id, number = sent.named["report_id"], sent.named["recommendation_number"]
    async with sent.gateway.pool.acquire() as connection:
        found = await db.recommendation(connection, place_id, report_id, number)
    if found is None:
        raise not_found(f"report {report_id} has no recommendation {number}")
    if found["completed_on"] is not None and await sent.first_time():
        raise problems.invalid("recommendation_number", "open", "is completed already", 409)

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        completed = await db.complete_recommendation(
            connection, place_id, report_id, number, completion.completed_on, completion.note
        )
        if completed:
            await events.recommendation_completed(
                connection, place_id, report_id, number, completion.completed_on,
                found["due_on"], completion.note,
            )  # fmt: skip

    return {"report_id": report_id, "recommendation_number": str(number)}, save


P = Permission
PANEL, TRIGGERS, COMMITTEE = "the place's panel", "the place's triggers", "the audit committee"
QUESTION = Named("question_id", uuid.UUID, QUESTION_ID)
TRIGGER = Named("trigger_id", uuid.UUID, TRIGGER_ID)
REFERRAL = Named("referral_id", uuid.UUID, REFERRAL_ID)
RECOMMENDATION = (
    Named("report_id", str, REPORT_ID),
    Named("recommendation_number", int, RECOMMENDATION_NUMBER),
)
COMMANDS = (
    Command(
        "/panel/questions/{question_id}/answer", "AnswerPanelQuestion", P.ANSWER_PANEL,
        "the panel's questions", PanelAnswer, answer_question, (QUESTION,),
    ),
    Command(
        "/triggers/{trigger_id}/support", "SupportScrutinyTrigger", P.PETITION, TRIGGERS,
        None, support, (TRIGGER,),
    ),
    Command(
        "/committee/referrals/{referral_id}/status", "MoveReferral", P.ACT_AS_COMMITTEE,
        COMMITTEE, ReferralStatus, move_referral, (REFERRAL,),
    ),
    Command(
        "/committee/reports/{report_id}/recommendations/{recommendation_number}/completion",
        "CompleteRecommendation", P.ACT_AS_COMMITTEE, COMMITTEE, Completion, complete,
        RECOMMENDATION,
    ),
    Command("/panel/members", "AddPanelMember", P.MANAGE_PANEL, PANEL, PanelMember, add_member),
    Command("/panel/meetings", "AddPanelMeeting", P.MANAGE_PANEL, PANEL, PanelMeeting, add_meeting),
    Command(
        "/panel/questions", "AskPanelQuestion", P.MANAGE_PANEL, PANEL, PanelQuestion, ask_question
    ),
    Command("/triggers", "OpenScrutinyTrigger", P.PETITION, TRIGGERS, TriggerOpening, open_trigger),
    Command(
        "/committee/members", "AddCommitteeMember", P.ACT_AS_COMMITTEE, COMMITTEE,
        CommitteeMember, add_committee_member,
    ),
    Command(
        "/committee/referrals", "ReferToCommittee", P.REFER_TO_COMMITTEE, COMMITTEE, Referral,
        refer,
    ),
    Command(
        "/committee/reports", "AdoptCommitteeReport", P.ACT_AS_COMMITTEE, COMMITTEE, Report,
        adopt_report,
    ),
)  # fmt: skip
"""The room's commands: `POST /api/v1/places/{place_id}/citizens<path>`, each with its door's
permission (`identity/permissions.py` lists the same doors) and the step that takes it."""
