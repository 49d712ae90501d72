"""The citizens room's API: the place's settings for its panel, triggers and committee, and the
Citizens' Panel (members, meetings, questions to the board and the board's answers). Reads are
public; every change is a command the gateway decides itself, once per Idempotency-Key, with a
command status like the services' commands (services/gateway/returns/local_commands.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import problems
from services.gateway.citizens import db, domain
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.problems import ProblemError
from services.gateway.returns import local_commands

TEXT_MAX = 4_000
PSEUDONYM = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")
QUESTION_ID = Path(..., description="A panel question's id.")


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


class PanelAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str = Field(min_length=1, max_length=TEXT_MAX)


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def not_found(detail: str) -> ProblemError:
    return ProblemError(404, "not-found", detail)


def today() -> date:
    return datetime.now(UTC).date()


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/citizens",
        tags=["citizens"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(400, 401, 403, 404, 409, 413, 422),
    )
    place = identifier_path()

    async def decide(
        request: Request,
        principal: Principal,
        key: str,
        body: dict[str, Any],
        place_id: str,
        command_type: str,
        made: dict[str, str],
        effect: local_commands.Effect,
    ) -> JSONResponse:
        return await local_commands.decide_here(
            gateway,
            principal,
            request,
            key=key,
            body=body,
            place_id=place_id,
            command_type=command_type,
            decided_at=datetime.now(UTC),
            made=made,
            answer=dict(made),
            effect=effect,
        )

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

    # --- The Citizens' Panel ------------------------------------------------------------------

    @router.get("/panel")
    async def panel(place_id: str = place) -> dict[str, Any]:
        """The panel, for anyone: members' pseudonyms, meetings, and every question with its
        due day, the board's answer and `lateness` (awaiting, answered, late or overdue)."""
        async with gateway.pool.acquire() as connection:
            found = await db.panel(connection, place_id, today())
        return {"place_id": place_id, **found}

    @router.post("/panel/members", status_code=201, openapi_extra=request_body(PanelMember))
    async def add_member(
        request: Request,
        place_id: str = place,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Add a member to the panel under a pseudonym (nothing else about them is kept)."""
        check_storable(place_id, "place_id")
        require(principal, Permission.MANAGE_PANEL, place_id, what="the place's panel")
        body, member = await local_commands.body_of(request, gateway, PanelMember)
        if not await local_commands.already_sent(gateway, principal, idempotency_key):
            async with gateway.pool.acquire() as connection:
                if await db.panel_member_exists(connection, place_id, member.pseudonym):
                    raise problems.invalid(
                        "pseudonym", "unique", "is already a member of the panel", 409
                    )

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await db.add_panel_member(
                connection, place_id, member.pseudonym, member.joined_on, principal.principal_id
            )

        made = {"pseudonym": member.pseudonym}
        return await decide(
            request, principal, idempotency_key, body, place_id, "AddPanelMember", made, save
        )

    @router.post("/panel/meetings", status_code=201, openapi_extra=request_body(PanelMeeting))
    async def add_meeting(
        request: Request,
        place_id: str = place,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Record a meeting of the panel, with its agenda."""
        check_storable(place_id, "place_id")
        require(principal, Permission.MANAGE_PANEL, place_id, what="the place's panel")
        body, meeting = await local_commands.body_of(request, gateway, PanelMeeting)
        if not await local_commands.already_sent(gateway, principal, idempotency_key):
            async with gateway.pool.acquire() as connection:
                if await db.panel_meeting(connection, place_id, meeting.meeting_id):
                    raise problems.invalid("meeting_id", "unique", "names a meeting already", 409)

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await db.add_panel_meeting(
                connection, place_id, meeting.meeting_id, meeting.held_on, meeting.agenda
            )

        made = {"meeting_id": meeting.meeting_id}
        return await decide(
            request, principal, idempotency_key, body, place_id, "AddPanelMeeting", made, save
        )

    @router.post("/panel/questions", status_code=201, openapi_extra=request_body(PanelQuestion))
    async def ask_question(
        request: Request,
        place_id: str = place,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Put a member's question to the board, as asked at a meeting: it is asked on the
        meeting's day and due the place's `answer_days` later."""
        check_storable(place_id, "place_id")
        require(principal, Permission.MANAGE_PANEL, place_id, what="the place's panel")
        body, asked = await local_commands.body_of(request, gateway, PanelQuestion)
        async with gateway.pool.acquire() as connection:
            meeting = await db.panel_meeting(connection, place_id, asked.meeting_id)
            member = await db.panel_member_exists(connection, place_id, asked.asked_by)
            rules = await db.place_rules(connection, place_id)
        if meeting is None:
            raise problems.invalid("meeting_id", "exists", "names no meeting of the panel")
        if not member:
            raise problems.invalid("asked_by", "member", "is not a member of the panel")
        asked_on: date = meeting["held_on"]
        due_on = domain.answer_due(asked_on, rules)
        question_id = local_commands.command_id(principal, idempotency_key)

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await db.ask_panel_question(
                connection, place_id, question_id, asked.meeting_id, asked.asked_by,
                asked.question, asked_on, due_on,
            )  # fmt: skip

        made = {"question_id": str(question_id), "due_on": due_on.isoformat()}
        return await decide(
            request, principal, idempotency_key, body, place_id, "AskPanelQuestion", made, save
        )

    @router.post(
        "/panel/questions/{question_id}/answer",
        status_code=201,
        openapi_extra=request_body(PanelAnswer),
    )
    async def answer_question(
        request: Request,
        place_id: str = place,
        question_id: uuid.UUID = QUESTION_ID,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """The board publishes its answer to a question, dated today; answered after its due
        day, it is flagged late for good."""
        check_storable(place_id, "place_id")
        require(principal, Permission.ANSWER_PANEL, place_id, what="the panel's questions")
        body, answer = await local_commands.body_of(request, gateway, PanelAnswer)
        answered_on = today()
        async with gateway.pool.acquire() as connection:
            question = await db.panel_question_for_answer(connection, place_id, question_id)
        if question is None:
            raise not_found(f"{place_id}'s panel has no question {question_id}")
        if question["answered_on"] is not None and not await local_commands.already_sent(
            gateway, principal, idempotency_key
        ):
            raise problems.invalid("question_id", "unanswered", "is answered already", 409)
        lateness = domain.answer_lateness(question["due_on"], answered_on, answered_on)

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await db.answer_panel_question(
                connection, place_id, question_id, answer.answer, answered_on,
                principal.principal_id,
            )  # fmt: skip

        made = {"question_id": str(question_id), "lateness": lateness}
        return await decide(
            request, principal, idempotency_key, body, place_id, "AnswerPanelQuestion", made, save
        )

    return router
