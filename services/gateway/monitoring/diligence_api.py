"""Due diligence over HTTP, beside the organisations register: staff record what they checked
(through the manual-entry port, services/gateway/monitoring/checks.py), anyone who reads
monitoring sees the record with its rating and reasons on a day, the accounting officer may
override a red rating with a recorded reason, and finance sets the place's validity period.
Recording or overriding tells the allocations service at once whether the organisation's
grants may be paid."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.monitoring import db, diligence, service
from services.gateway.monitoring.checks import DiligenceChecks, ManualEntry
from services.gateway.monitoring.diligence import Conflict, DiligenceRefused, DueDiligence, Override
from services.gateway.monitoring.requests import body_of

PATH = "/api/v1/places/{place_id}/organisations/{organisation_ref}/due-diligence"


class RegistrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    register_name: Literal["charity", "company", "mutual", "other"] = Field(
        description="Which register was checked."
    )
    number: str = Field(min_length=1, max_length=40)
    status: Literal[
        "active", "removed", "dissolved", "in_liquidation", "in_administration", "not_found"
    ]
    checked_on: date | None = Field(default=None, description="Default: today.")


class BankBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["verified", "unverified", "failed"]
    checked_on: date | None = None


class ConflictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=200)
    interest: str = Field(min_length=1, max_length=500)
    mitigation: str = Field(default="", max_length=1000)


class DueDiligenceBody(BaseModel):
    """What staff checked by hand (the manual-entry implementation of the checks port)."""

    model_config = ConfigDict(extra="forbid")

    registration: RegistrationBody | None = None
    bank: BankBody | None = None
    conflicts: list[ConflictBody] = Field(default=[], max_length=diligence.CONFLICTS_MAX)


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_days: int = Field(ge=1, le=3660, description="Days a check stays current.")


def refused(refusal: DiligenceRefused) -> problems.ProblemError:
    return problems.invalid(refusal.field, refusal.rule, str(refusal), refusal.status)


async def record(
    connection: asyncpg.Connection,
    place_id: str,
    organisation_ref: str,
    body: DueDiligenceBody,
    checks: DiligenceChecks,
    recorded_by: str,
) -> None:
    """Record the checks for a registered organisation and tell the allocations service."""
    today = service.today()
    async with connection.transaction():
        if await db.organisation_registered(connection, place_id, organisation_ref) is None:
            raise DiligenceRefused(
                "organisation_ref",
                "registered",
                f"{organisation_ref} is not in {place_id}'s organisations register",
                404,
            )
        registration = None
        if body.registration is not None:
            registration = await checks.registration(
                organisation_ref,
                body.registration.register_name,
                body.registration.number,
                recorded_by,
                today,
            )
        entry = DueDiligence(
            organisation_ref=organisation_ref,
            registration=registration,
            bank=await checks.bank_details(organisation_ref, recorded_by, today),
            conflicts=tuple(Conflict(**c.model_dump()) for c in body.conflicts),
            source=checks.source,
        )
        diligence.check_record(entry, today)
        await db.save_due_diligence(connection, place_id, entry, recorded_by)
        await _tell(connection, place_id, organisation_ref)


async def override(
    connection: asyncpg.Connection, place_id: str, organisation_ref: str, reason: str, by: str
) -> None:
    today = service.today()
    async with connection.transaction():
        found = await db.due_diligence_of(connection, place_id, organisation_ref, lock=True)
        if found is None:
            raise DiligenceRefused(
                "organisation_ref", "recorded", f"no due diligence for {organisation_ref}", 404
            )
        rating = diligence.rate(found[0], today, diligence.VALIDITY_IRRELEVANT_DAYS)
        diligence.check_override(rating, reason)
        await db.override_due_diligence(
            connection, place_id, organisation_ref, Override(by, reason, today)
        )
        await _tell(connection, place_id, organisation_ref)


async def _tell(connection: asyncpg.Connection, place_id: str, organisation_ref: str) -> None:
    for allocation_id in await db.grant_ids_of_recipient(connection, place_id, organisation_ref):
        await service.tell_allocations(connection, place_id, allocation_id)


async def view(
    gateway: Gateway, connection: asyncpg.Connection, place_id: str, ref: str, day: date
) -> dict[str, Any]:
    found = await db.due_diligence_of(connection, place_id, ref)
    if found is None:
        raise DiligenceRefused("organisation_ref", "recorded", f"no due diligence for {ref}", 404)
    entry, overridden, row = found
    default_days = gateway.settings.gateway_due_diligence_valid_days
    valid_days = await db.due_diligence_valid_days(connection, place_id, default_days)
    rating = diligence.rate(entry, day, valid_days)
    return {
        "place_id": place_id,
        "organisation_ref": ref,
        "as_of": day,
        "valid_days": valid_days,
        "rating": rating.colour,
        "reasons": list(rating.reasons),
        "blocks_sign_off_and_payment": diligence.block(ref, rating, overridden) is not None,
        "override": None if overridden is None else overridden.__dict__,
        "record": _public(entry),
        "recorded_by": row["recorded_by"],
        "recorded_at": row["recorded_at"],
    }


def _public(entry: DueDiligence) -> dict[str, Any]:
    return {
        "registration": entry.registration.__dict__ if entry.registration else None,
        "bank": entry.bank.__dict__ if entry.bank else None,
        "conflicts": [c.__dict__ for c in entry.conflicts],
        "source": entry.source,
    }


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["due diligence"],
        responses=problems.openapi_responses(400, 401, 403, 404, 409, 413, 422, 429),
        route_class=GuardedRoute,
    )

    @router.put(PATH)
    async def record_due_diligence(
        request: Request,
        place_id: str = identifier_path(),
        organisation_ref: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Record the checks made of a registered organisation; answers its rating."""
        require(principal, Permission.RECORD_DUE_DILIGENCE, place_id)
        body = await body_of(gateway, request, DueDiligenceBody)
        checks = ManualEntry(
            body.registration.status if body.registration else None,
            body.registration.checked_on if body.registration else None,
            body.bank.status if body.bank else None,
            body.bank.checked_on if body.bank else None,
        )
        try:
            async with gateway.pool.acquire() as connection:
                await record(
                    connection, place_id, organisation_ref, body, checks, principal.principal_id
                )
                return await view(gateway, connection, place_id, organisation_ref, service.today())
        except DiligenceRefused as refusal:
            raise refused(refusal) from None

    @router.get(PATH)
    async def due_diligence(
        place_id: str = identifier_path(),
        organisation_ref: str = identifier_path(),
        as_of: date | None = Query(None, description="Rate as on this day (default today)."),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """An organisation's due diligence record, its rating with reasons, and any override."""
        require(principal, Permission.READ_MONITORING, place_id)
        try:
            async with gateway.pool.acquire() as connection:
                day = as_of or service.today()
                return await view(gateway, connection, place_id, organisation_ref, day)
        except DiligenceRefused as refusal:
            raise refused(refusal) from None

    @router.post(f"{PATH}/override")
    async def override_red_rating(
        request: Request,
        place_id: str = identifier_path(),
        organisation_ref: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """The accounting officer lets sign-off and payment go ahead despite a red rating,
        with the reason recorded (and published with the record)."""
        require(principal, Permission.OVERRIDE_RED_RATING, place_id)
        body = await body_of(gateway, request, OverrideBody)
        try:
            async with gateway.pool.acquire() as connection:
                await override(
                    connection, place_id, organisation_ref, body.reason, principal.principal_id
                )
                return await view(gateway, connection, place_id, organisation_ref, service.today())
        except DiligenceRefused as refusal:
            raise refused(refusal) from None

    @router.put("/api/v1/places/{place_id}/due-diligence/rules")
    async def set_rules(
        request: Request, place_id: str = identifier_path(), principal: Principal = CALLER
    ) -> dict[str, Any]:
        """The place's validity period: a check older than this turns the rating amber."""
        require(principal, Permission.RECORD_DUE_DILIGENCE, place_id)
        body = await body_of(gateway, request, RulesBody)
        async with gateway.pool.acquire() as connection:
            await db.set_due_diligence_rules(
                connection, place_id, body.valid_days, principal.principal_id
            )
        return {"place_id": place_id, "valid_days": body.valid_days}

    return router
