"""The citizens' processes as open data, per place, for anyone: the panel's questions and the
board's answers (late and overdue flagged), the scrutiny triggers (threshold, supporters counted,
state, referral) and the audit committee's referrals, adopted reports and recommendations
(overdue flagged). Each document lists its fields by name, so nothing private reaches it by
accident: never a resident's key, who supported or referred, or who answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from services.gateway import problems
from services.gateway.citizens import db
from services.gateway.identity.auth import Gateway, GuardedRoute
from services.gateway.intake import check_storable, identifier_path
from services.gateway.opendata.catalogue import Listed
from services.gateway.opendata.publishing import LICENCE_NAME, LICENCE_URL

CACHE_CONTROL = "public, max-age=300"
QUESTION_FIELDS = (
    "question_id", "meeting_id", "asked_by", "question", "asked_on", "due_on", "answer",
    "answered_on", "lateness",
)  # fmt: skip
MEETING_FIELDS = ("meeting_id", "held_on", "agenda")
TRIGGER_FIELDS = (
    "trigger_id", "subject_kind", "subject", "concern", "opened_at", "closes_at", "threshold",
    "supporters", "state", "referred_at", "referral_id",
)  # fmt: skip
REFERRAL_FIELDS = (
    "referral_id", "source", "subject", "concern", "referred_on", "respond_by", "status",
    "status_note", "response_overdue",
)  # fmt: skip
REPORT_FIELDS = ("report_id", "referral_id", "title", "summary", "adopted_on")
RECOMMENDATION_FIELDS = (
    "report_id", "number", "recommendation", "addressed_to", "due_on", "completed_on",
    "completion_note", "overdue",
)  # fmt: skip


def only(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a row, and nothing else."""
    return {field: row[field] for field in fields}


def document(place_id: str, dataset: str, today: date, body: dict[str, Any]) -> JSONResponse:
    """An open-data document: what and whose it is, its licence, the day it describes (late
    and overdue flags are as of that day) and the data; cacheable, readable from any site."""
    content = {
        "place_id": place_id,
        "dataset": dataset,
        "licence": {"name": LICENCE_NAME, "url": LICENCE_URL},
        "as_of": today.isoformat(),
        **body,
    }
    return JSONResponse(
        jsonable_encoder(content),
        headers={
            "Cache-Control": CACHE_CONTROL,
            "Access-Control-Allow-Origin": "*",
            "Link": f'<{LICENCE_URL}>; rel="license"',
        },
    )


def panel_data(found: dict[str, Any]) -> dict[str, Any]:
    questions = [
        {
            **only(question, QUESTION_FIELDS),
            "late": question["lateness"] == "late",
            "overdue": question["lateness"] == "overdue",
        }
        for question in found["questions"]
    ]
    return {
        "meetings": [only(meeting, MEETING_FIELDS) for meeting in found["meetings"]],
        "questions": questions,
        "answered_late": sum(1 for q in questions if q["late"]),
        "overdue": sum(1 for q in questions if q["overdue"]),
    }


def committee_data(found: dict[str, Any]) -> dict[str, Any]:
    reports = [
        {
            **only(report, REPORT_FIELDS),
            "recommendations": [
                only(item, RECOMMENDATION_FIELDS) for item in report["recommendations"]
            ],
        }
        for report in found["reports"]
    ]
    return {
        "referrals": [only(referral, REFERRAL_FIELDS) for referral in found["referrals"]],
        "reports": reports,
        "overdue_recommendations": [
            only(item, RECOMMENDATION_FIELDS) for item in found["overdue_recommendations"]
        ],
    }


def triggers_data(found: list[dict[str, Any]], referrals: list[dict[str, Any]]) -> dict[str, Any]:
    """Each trigger with, once referred, its referral's status and response day."""
    by_id = {referral["referral_id"]: referral for referral in referrals}
    triggers = []
    for trigger in found:
        referral = by_id.get(trigger["referral_id"]) if trigger["referral_id"] else None
        triggers.append(
            {
                **only(trigger, TRIGGER_FIELDS),
                "referral": (
                    only(referral, ("status", "respond_by", "response_overdue"))
                    if referral
                    else None
                ),
            }
        )
    return {"triggers": triggers}


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/citizens",
        tags=["citizens"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(422),
    )
    place = identifier_path()

    @router.get("/panel/open-data")
    async def panel_open_data(place_id: str = place) -> JSONResponse:
        """The panel's meetings and every question with the board's answer, its due day and
        `late` (answered after it) or `overdue` (still unanswered after it), as open data."""
        check_storable(place_id, "place_id")
        today = datetime.now(UTC).date()
        async with gateway.pool.acquire() as connection:
            found = await db.panel(connection, place_id, today)
        return document(place_id, "citizens-panel", today, panel_data(found))

    @router.get("/triggers/open-data")
    async def triggers_open_data(place_id: str = place) -> JSONResponse:
        """Every scrutiny trigger: what it is about, its threshold and window, supporters
        counted (never who), its state and, once referred, the referral's status and response
        day, as open data."""
        check_storable(place_id, "place_id")
        now = datetime.now(UTC)
        async with gateway.pool.acquire() as connection:
            found = await db.triggers(connection, place_id, now)
            committee = await db.committee(connection, place_id, now.date())
        data = triggers_data(found, committee["referrals"])
        return document(place_id, "citizens-triggers", now.date(), data)

    @router.get("/committee/open-data")
    async def committee_open_data(place_id: str = place) -> JSONResponse:
        """The audit committee's referrals (status, response day, `response_overdue`), every
        adopted report with its recommendations and timescales, and the overdue ones, as open
        data. Who referred a matter is never published."""
        check_storable(place_id, "place_id")
        today = datetime.now(UTC).date()
        async with gateway.pool.acquire() as connection:
            found = await db.committee(connection, place_id, today)
        return document(place_id, "citizens-committee", today, committee_data(found))

    return router


# --- In the place's open-data catalogue (services/gateway/opendata/catalogue.py) --------------

JSON = "application/json"
NO_RESIDENT = "Never a resident's key, who supported, referred, proposed or voted."
PROCESSES = (
    (
        "panel",
        "Citizens' Panel: meetings, questions to the board and its answers, late and overdue "
        "flagged",
        "Panel members by pseudonym only.",
    ),
    (
        "triggers",
        "Scrutiny triggers: thresholds, supporters counted, state and referral",
        "Supporters are counted, never named.",
    ),
    (
        "committee",
        "Local Public Audit Committee: referrals, adopted reports and recommendations, overdue "
        "flagged",
        "Who referred a matter is never published.",
    ),
)


def catalogued(gateway: Gateway) -> Callable[[str, str], Awaitable[list[Listed]]]:
    """The datasets of this room the place's open-data catalogue lists: the panel, triggers and
    committee documents, and each participatory budgeting round's."""

    async def listed(place_id: str, root: str) -> list[Listed]:
        async with gateway.pool.acquire() as connection:
            found = await db.pb_rounds(connection, place_id)
        prefix = f"{root}/api/v1/places/{quote(place_id, safe='')}/citizens"
        processes = [
            Listed(
                f"citizens/{name}/open-data", JSON, title, f"{prefix}/{name}/open-data",
                f"{title}. {privacy} {NO_RESIDENT}",
            )
            for name, title, privacy in PROCESSES
        ]  # fmt: skip
        rounds = [round_listed(prefix, found_round) for found_round in found]
        return processes + rounds

    return listed


def round_listed(prefix: str, found_round: dict[str, Any]) -> Listed:
    """A round's open data as the catalogue lists it."""
    round_id = found_round["round_id"]
    title = (
        f"Participatory budgeting round {found_round['title']}: proposals, vote totals after "
        "voting closes, the result and a recount"
    )
    return Listed(
        f"citizens/rounds/{round_id}/open-data",
        JSON,
        title,
        f"{prefix}/rounds/{quote(round_id, safe='')}/open-data",
        f"{title}. Totals only: ballots are counted, never stored. {NO_RESIDENT}",
    )
