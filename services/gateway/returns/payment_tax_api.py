"""VAT and merchant category on payments over HTTP: finance staff record, where they apply, a
payment's irrecoverable VAT and its merchant category (`returns.approve`, a command with a status
resource); the Transparency Code return publishes them in its columns of the same names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.money import PENCE_MAX
from services.gateway import problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.opendata.transparency import PaymentTax
from services.gateway.returns import db, local_commands

PATH = "/api/v1/places/{place_id}/payments/{payment_id}/tax-details"


class TaxDetails(BaseModel):
    """A payment's irrecoverable VAT (0 where none applies) and merchant category."""

    model_config = ConfigDict(extra="forbid")

    irrecoverable_vat_pence: int = Field(ge=0, le=PENCE_MAX)
    merchant_category: str | None = Field(default=None, min_length=1, max_length=100)


REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": TaxDetails.model_json_schema()}},
    }
}


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        tags=["returns"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(401, 403, 422),
    )

    @router.post(
        PATH,
        status_code=201,
        openapi_extra=REQUEST_BODY,
        responses=problems.openapi_responses(400, 404, 409, 413),
    )
    async def record_tax_details(
        request: Request,
        place_id: str = identifier_path(),
        payment_id: str = identifier_path(),
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Record a payment's irrecoverable VAT and merchant category (the latest recorded is
        the one the Transparency Code return publishes)."""
        for name, value in (("place_id", place_id), ("payment_id", payment_id)):
            check_storable(value, name)
        require(principal, Permission.APPROVE_RETURNS, place_id, what="the place's returns")
        body, details = await local_commands.body_of(request, gateway, TaxDetails)
        if not await local_commands.already_sent(gateway, principal, idempotency_key):
            async with gateway.pool.acquire() as connection:
                amount = await db.payment_amount(connection, place_id, payment_id)
            _check(payment_id, amount, details.irrecoverable_vat_pence)
        tax = PaymentTax(details.irrecoverable_vat_pence, details.merchant_category)
        now = datetime.now(UTC)

        async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            await db.record_payment_tax(
                connection, place_id, payment_id, tax, principal.principal_id, now, command_id
            )

        answer: dict[str, Any] = {"payment_id": payment_id, **details.model_dump()}
        return await local_commands.decide_here(
            gateway,
            principal,
            request,
            key=idempotency_key,
            body=body,
            place_id=place_id,
            command_type="RecordPaymentTaxDetails",
            decided_at=now,
            made={"payment_id": payment_id},
            answer=answer,
            effect=save,
        )

    return router


def _check(payment_id: str, amount_pence: int | None, vat_pence: int) -> None:
    if amount_pence is None:
        detail = f"no payment {payment_id} in this place"
        raise problems.invalid("payment_id", "payment_exists", detail, 404)
    if vat_pence > amount_pence:
        detail = f"VAT of {vat_pence} pence is more than the payment's {amount_pence} pence"
        raise problems.invalid("irrecoverable_vat_pence", "vat_within_payment", detail, 409)
