"""The organisations register's API: finance staff register each department, provider,
investor and the combined authority once, with its org-id, and every open-data export names it
by that id. PUT is idempotent (the same body twice leaves one row)."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, identifier_path, parse_json_object, read_body
from services.gateway.opendata import db
from services.gateway.opendata.organisations import (
    Organisation,
    RegistrationRefused,
    check_registration,
)

PATH = "/api/v1/places/{place_id}/organisations"


class OrganisationRegistration(BaseModel):
    """What the register holds of one organisation (its reference is in the path)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="department, provider, investor or combined_authority")
    name: str = Field(max_length=300, description="Its registered name, not a code.")
    legal_form: str = Field(description="charity, social_enterprise, mutual, co_operative, ...")
    org_id_scheme: str = Field(max_length=20, description="An org-id.guide scheme: GB-CHC, ...")
    org_id_identifier: str = Field(max_length=40, description="The number that scheme issued.")
    postcode: str | None = Field(default=None, max_length=10)
    is_sme: bool | None = Field(default=None, description="Providers only.")
    is_vcse: bool | None = Field(default=None, description="Providers only.")


REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": OrganisationRegistration.model_json_schema()}},
    }
}


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["open data"],
        responses=problems.openapi_responses(400, 401, 403, 409, 413, 422, 429),
        route_class=GuardedRoute,
    )

    @router.put(f"{PATH}/{{organisation_ref}}", openapi_extra=REQUEST_BODY)
    async def register_organisation(
        request: Request,
        place_id: str = identifier_path(),
        organisation_ref: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> dict[str, Any]:
        """Register an organisation of the place (or correct its entry); finance staff only."""
        for name, value in (("place_id", place_id), ("organisation_ref", organisation_ref)):
            check_storable(value, name)
        require(principal, Permission.REGISTER_ORGANISATION, place_id)
        # Read within the gateway's body limit, as every command is.
        raw = await read_body(request, gateway.settings.gateway_request_bytes_max)
        fields = parse_json_object(raw, gateway.settings.gateway_json_depth_max)
        check_storable(fields, "body")
        organisation = await register(gateway, principal, place_id, organisation_ref, fields)
        return {"place_id": place_id, **_public(organisation)}

    @router.get(PATH)
    async def organisations(
        place_id: str = identifier_path(), principal: Principal = CALLER
    ) -> dict[str, Any]:
        """The place's organisations register, as the exports publish it."""
        check_storable(place_id, "place_id")
        require(principal, Permission.READ_ALLOCATIONS, place_id)
        async with gateway.pool.acquire() as connection:
            found = await db.organisations(connection, place_id)
        return {"place_id": place_id, "organisations": [_public(o) for o in found.values()]}

    return router


async def register(
    gateway: Gateway,
    principal: Principal,
    place_id: str,
    organisation_ref: str,
    fields: dict[str, Any],
) -> Organisation:
    """Register (or correct) an organisation from its fields, checked by the register's rules;
    the API and the finance pages both register through here. A ProblemError names the field
    and the rule (409 when another reference of the place holds the org-id)."""
    require(principal, Permission.REGISTER_ORGANISATION, place_id)
    try:
        body = OrganisationRegistration.model_validate(fields)
    except ValidationError as error:
        raise problems.from_pydantic(error) from None
    try:
        organisation = check_registration(Organisation(organisation_ref, **body.model_dump()))
    except RegistrationRefused as refusal:
        raise problems.invalid(refusal.field, refusal.rule, str(refusal)) from None
    try:
        async with gateway.pool.acquire() as connection:
            await db.register_organisation(
                connection, place_id, organisation, principal.principal_id
            )
    except asyncpg.UniqueViolationError:
        raise problems.invalid(
            "org_id_identifier",
            "one_organisation_one_id",
            f"{organisation.org_id} is already registered in {place_id} under another reference",
            409,
        ) from None
    return organisation


def _public(organisation: Organisation) -> dict[str, Any]:
    return {**organisation.__dict__, "org_id": organisation.org_id}
