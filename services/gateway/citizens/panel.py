"""The panel's two steps as the web pages take them, in one transaction each: putting a
member's question to the board and publishing the board's answer. The API takes the same steps
through the command log (citizens/api.py); both check the same rules and write the same rows."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from services.gateway.citizens import db, domain, events
from services.gateway.errors import GatewayError

TEXT_MAX = 4_000


class PanelRefused(GatewayError):
    """A step the panel's rules refuse, naming the field and the rule."""

    def __init__(self, field: str, rule: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = rule
        self.message = message
        self.status = status


def _checked_text(field: str, value: str) -> str:
    if not 1 <= len(value) <= TEXT_MAX:
        raise PanelRefused(field, "length", f"write between 1 and {TEXT_MAX} characters")
    return value


async def question_due(
    connection: asyncpg.Connection, place_id: str, meeting_id: str, asked_by: str
) -> tuple[date, date]:
    """The day a member's question counts as asked (its meeting's) and the day its answer is
    due; refused unless the meeting and the member are the panel's. The one place these rules
    are checked, for the API and the pages."""
    meeting = await db.panel_meeting(connection, place_id, meeting_id)
    if meeting is None:
        raise PanelRefused("meeting_id", "exists", "names no meeting of the panel")
    if not await db.panel_member_exists(connection, place_id, asked_by):
        raise PanelRefused("asked_by", "member", "is not a member of the panel")
    rules = await db.place_rules(connection, place_id)
    asked_on: date = meeting["held_on"]
    return asked_on, domain.answer_due(asked_on, rules)


def check_answerable(question: dict[str, Any] | None) -> dict[str, Any]:
    """A question the board may answer: one of the panel's, not answered yet."""
    if question is None:
        raise PanelRefused("question_id", "exists", "names no question of the panel", 404)
    if question["answered_on"] is not None:
        raise PanelRefused("question_id", "unanswered", "is answered already", 409)
    return question


async def put_question(
    connection: asyncpg.Connection,
    place_id: str,
    question_id: uuid.UUID,
    meeting_id: str,
    asked_by: str,
    question: str,
) -> date:
    """Put a member's question asked at a meeting; answers its due day. The same question id
    (from the form's idempotency key) twice makes one question."""
    _checked_text("question", question)
    async with connection.transaction():
        asked_on, due_on = await question_due(connection, place_id, meeting_id, asked_by)
        existing = await db.panel_question_for_answer(connection, place_id, question_id)
        if existing is not None:
            return existing["due_on"]  # type: ignore[no-any-return]
        await db.ask_panel_question(
            connection, place_id, question_id, meeting_id, asked_by, question, asked_on, due_on
        )
        await events.question_asked(
            connection, place_id, question_id, meeting_id, asked_by, question, asked_on, due_on
        )
    return due_on


async def publish_answer(
    connection: asyncpg.Connection,
    place_id: str,
    question_id: uuid.UUID,
    answer: str,
    answered_on: date,
    answered_by: str,
) -> str:
    """Publish the board's answer, dated `answered_on`; answers its lateness."""
    _checked_text("answer", answer)
    async with connection.transaction():
        question = check_answerable(
            await db.panel_question_for_answer(connection, place_id, question_id)
        )
        await db.answer_panel_question(
            connection, place_id, question_id, answer, answered_on, answered_by
        )
        await events.question_answered(
            connection, place_id, question_id, answer, answered_on, question["due_on"]
        )
    return domain.answer_lateness(question["due_on"], answered_on, answered_on)
