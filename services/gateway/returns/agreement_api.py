"""Agreement of balances over HTTP: a department's token reads its statement (per stream of a
year: committed, received, reserved, paid, recovered, outstanding) and confirms or disputes
each line (`returns.agree_balances`); finance staff and auditors read the disputes, finance
staff answer them with notes until one resolves it (`returns.approve`); and the counterparty
export for the annual accounts. Each answer and note is a command with a status resource."""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, forbid, require
from services.gateway.intake import (
    INTEGER_MAX,
    check_storable,
    financial_year_path,
    identifier_path,
)
from services.gateway.opendata.api import CSV_RESPONSE
from services.gateway.returns import agreement, db, local_commands
from services.gateway.spreadsheet import SafeWriter

STATEMENT = (
    "/api/v1/places/{place_id}/departments/{department_code}/balance-statements/{financial_year}"
)
DISPUTES = "/api/v1/places/{place_id}/balance-disputes"
EXPORT = "/api/v1/places/{place_id}/returns/agreement-of-balances/{financial_year}"
DISPUTE_ID = Path(description="The dispute's id: the disputing answer's `answer_id`.")
NOTE_LENGTH_MAX = 4000


class DepartmentFigures(BaseModel):
    """What the department's own books say, where they differ."""

    model_config = ConfigDict(extra="forbid")

    committed_pence: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    received_pence: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    reserved_pence: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    paid_pence: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    recovered_pence: int | None = Field(default=None, ge=0, le=INTEGER_MAX)
    outstanding_pence: int | None = Field(default=None, ge=-INTEGER_MAX, le=INTEGER_MAX)


class LineAnswer(BaseModel):
    """A department's answer to one line of its statement."""

    model_config = ConfigDict(extra="forbid")

    answer: Literal["confirmed", "disputed"]
    figures_digest: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The line's `figures_digest` as read."
    )
    note: str = Field(default="", max_length=NOTE_LENGTH_MAX, description="Needed to dispute.")
    department_figures: DepartmentFigures | None = None


class DisputeNote(BaseModel):
    """Finance staff's note on a dispute; `resolves` closes it."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=NOTE_LENGTH_MAX)
    resolves: bool = False


def _request_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["returns"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422),
    )
    place = identifier_path()
    year = financial_year_path()

    @router.get(STATEMENT)
    async def statement(
        place_id: str = place,
        department_code: str = identifier_path(),
        financial_year: str = year,
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """A department's agreement-of-balances statement for a year: per stream the figures,
        their digest (what an answer names), and the line's agreement; its own department's,
        or any for finance staff and auditors."""
        _may_read_statement(principal, place_id, department_code)
        async with gateway.pool.acquire() as connection:
            lines = await db.balance_lines(connection, place_id, department_code, financial_year)
            answers = await db.balance_answers(
                connection, place_id, department_code, financial_year
            )
        shown = [_line(line, answers) for line in lines.get(department_code, [])]
        return {
            "place_id": place_id,
            "department_code": department_code,
            "financial_year": financial_year,
            "agreement": agreement.department_agreement([line["agreement"] for line in shown]),
            "lines": shown,
        }

    @router.post(
        f"{STATEMENT}/{{funding_stream_code}}/answer",
        status_code=201,
        openapi_extra=_request_body(LineAnswer),
        responses=problems.openapi_responses(400, 404, 409, 413),
    )
    async def answer_line(
        request: Request,
        place_id: str = place,
        department_code: str = identifier_path(),
        financial_year: str = year,
        funding_stream_code: str = identifier_path(),
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """The department confirms or disputes one line of its statement, naming the figures
        it read; a dispute says what its own books show."""
        for name, value in (("place_id", place_id), ("department_code", department_code)):
            check_storable(value, name)
        require(principal, Permission.AGREE_BALANCES, place_id, department_code,
                what=department_code)  # fmt: skip
        body, answer = await local_commands.body_of(request, gateway, LineAnswer)
        now = datetime.now(UTC)
        async with gateway.pool.acquire() as connection:
            lines = await db.balance_lines(connection, place_id, department_code, financial_year)
            answers = await db.balance_answers(
                connection, place_id, department_code, financial_year
            )
        line = next(
            (
                x
                for x in lines.get(department_code, [])
                if x.funding_stream_code == funding_stream_code
            ),
            None,
        )
        earlier = [a for a in answers if a["funding_stream_code"] == funding_stream_code]
        command_id = local_commands.command_id(principal, idempotency_key)
        if not await local_commands.already_sent(gateway, principal, idempotency_key):
            _refuse_unless(
                agreement.check_answer,
                line, funding_stream_code, answer.answer, answer.figures_digest, answer.note,
                earlier,
            )  # fmt: skip
        answer_id = uuid.uuid5(command_id, "answer")
        record = {
            "answer_id": answer_id,
            "place_id": place_id,
            "department_code": department_code,
            "financial_year": financial_year,
            "funding_stream_code": funding_stream_code,
            "answer": answer.answer,
            "figures": line.figures() if line else {},
            "figures_digest": answer.figures_digest,
            "department_figures": (
                answer.department_figures.model_dump(exclude_none=True)
                if answer.department_figures
                else None
            ),
            "note": answer.note,
            "answered_by": principal.principal_id,
            "answered_at": now,
        }

        async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            await db.insert_balance_answer(connection, record | {"command_id": command_id})

        made = {"answer_id": str(answer_id), "funding_stream_code": funding_stream_code}
        return await local_commands.decide_here(
            gateway,
            principal,
            request,
            key=idempotency_key,
            body=body,
            place_id=place_id,
            command_type="AnswerBalanceLine",
            decided_at=now,
            made=made,
            answer={"answer": answer.answer, "figures": record["figures"]},
            effect=save,
        )

    @router.get(DISPUTES)
    async def disputes(place_id: str = place, principal: Principal = CALLER) -> dict[str, Any]:
        """The place's agreement-of-balances disputes, newest first, each with its notes and
        whether it is resolved."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        async with gateway.pool.acquire() as connection:
            found = await db.balance_disputes(connection, place_id)
            notes = await db.balance_dispute_notes(connection, [d["answer_id"] for d in found])
        return {
            "place_id": place_id,
            "disputes": [_dispute(d, notes.get(d["answer_id"], [])) for d in found],
        }

    @router.post(
        f"{DISPUTES}/{{dispute_id}}/notes",
        status_code=201,
        openapi_extra=_request_body(DisputeNote),
        responses=problems.openapi_responses(400, 404, 409, 413),
    )
    async def note_dispute(
        request: Request,
        place_id: str = place,
        dispute_id: uuid.UUID = DISPUTE_ID,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Finance staff answer a dispute with a note; `resolves: true` closes it."""
        check_storable(place_id, "place_id")
        require(principal, Permission.APPROVE_RETURNS, place_id, what="the place's returns")
        body, note = await local_commands.body_of(request, gateway, DisputeNote)
        now = datetime.now(UTC)
        async with gateway.pool.acquire() as connection:
            dispute = await db.balance_dispute(connection, place_id, dispute_id)
        if not await local_commands.already_sent(gateway, principal, idempotency_key):
            _refuse_unless(agreement.check_note, dispute, str(dispute_id))

        async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            await db.add_balance_dispute_note(
                connection, dispute_id, note.note, note.resolves, principal.principal_id, now,
                command_id,
            )  # fmt: skip

        status = agreement.RESOLVED if note.resolves else agreement.DISPUTED
        return await local_commands.decide_here(
            gateway,
            principal,
            request,
            key=idempotency_key,
            body=body,
            place_id=place_id,
            command_type="NoteBalanceDispute",
            decided_at=now,
            made={"dispute_id": str(dispute_id)},
            answer={"dispute_id": str(dispute_id), "dispute_status": status},
            effect=save,
        )

    @router.get(EXPORT, response_class=Response, responses=CSV_RESPONSE)
    async def counterparty_export(
        place_id: str = place, financial_year: str = year, principal: Principal = CALLER
    ) -> Response:
        """The year's balances in a counterparty layout for the annual accounts (body,
        counterparty, category, amount, whether the department agreed), as CSV."""
        require(principal, Permission.READ_RETURNS, place_id, what="the place's returns")
        async with gateway.pool.acquire() as connection:
            lines = await db.balance_lines(connection, place_id, None, financial_year)
            answers = await db.balance_answers(connection, place_id, None, financial_year)
            names = await db.registered_names(connection, place_id)
        agreed = {
            department: agreement.department_agreement(
                [_line(line, [a for a in answers if a["department_code"] == department])[
                    "agreement"] for line in department_lines]
            )
            for department, department_lines in lines.items()
        }  # fmt: skip
        text = io.StringIO()
        writer = SafeWriter(text)
        writer.writerow(agreement.COUNTERPARTY_HEADER)
        body = names.get(place_id, place_id)
        writer.writerows(agreement.counterparty_rows(body, lines, agreed, names))
        safe_name = re.sub(r"[^A-Za-z0-9_-]", "_", place_id)
        filename = f"{safe_name}-agreement-of-balances-{financial_year}.csv"
        return Response(
            text.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router


def _may_read_statement(principal: Principal, place_id: str, department_code: str) -> None:
    if principal.may(Permission.READ_RETURNS, place_id, None) or principal.may(
        Permission.AGREE_BALANCES, place_id, department_code
    ):
        return
    forbid(principal, Permission.AGREE_BALANCES, place_id, department_code)


def _line(line: agreement.BalanceLine, answers: list[dict[str, Any]]) -> dict[str, Any]:
    own = [a for a in answers if a["funding_stream_code"] == line.funding_stream_code]
    return {
        "funding_stream_code": line.funding_stream_code,
        **line.figures(),
        "figures_digest": line.digest(),
        "agreement": agreement.line_state(line, own),
    }


def _dispute(dispute: dict[str, Any], notes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "dispute_id": str(dispute["answer_id"]),
        "department_code": dispute["department_code"],
        "financial_year": dispute["financial_year"],
        "funding_stream_code": dispute["funding_stream_code"],
        "status": agreement.RESOLVED if dispute["resolved"] else agreement.DISPUTED,
        "figures": dispute["figures"],
        "department_figures": dispute["department_figures"],
        "note": dispute["note"],
        "disputed_by": dispute["answered_by"],
        "disputed_at": dispute["answered_at"].isoformat(),
        "notes": [
            {
                "note": note["note"],
                "resolves": note["resolves"],
                "written_by": note["written_by"],
                "written_at": note["written_at"].isoformat(),
            }
            for note in notes
        ],
    }


def _refuse_unless(check: Any, *arguments: Any) -> None:
    try:
        check(*arguments)
    except agreement.AnswerRefused as refusal:
        raise problems.invalid(refusal.field, refusal.rule, str(refusal), refusal.status) from None
