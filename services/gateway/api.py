"""The gateway's HTTP API (`/api/v1`): commands become events through the outbox; queries read
the gateway's own read models. Identity, permissions and full idempotency come later (issue 6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, FastAPI, Header, HTTPException, Query, Request
from pydantic import ValidationError

from contracts import (
    DecideAllocation,
    Event,
    ProposeAllocation,
    RecordSettlement,
    RegisterOutcomesContract,
    SubmitEvidence,
)
from services.gateway import db, domain
from services.runtime.host import ServiceHost
from services.runtime.outbox import Outbox

JsonObject = dict[str, Any]


def build_command(command_type: type[Event], body: JsonObject, **path_fields: str) -> Event:
    """Validate a command from the request body plus the ids in the path (the path wins)."""
    for name, value in path_fields.items():
        if name in body and body[name] != value:
            raise HTTPException(
                422, f"{name} in the body ({body[name]!r}) differs from the path ({value!r})"
            )
    try:
        return command_type.model_validate({**body, **path_fields})
    except ValidationError as error:
        raise HTTPException(422, error.errors(include_url=False, include_context=False)) from None


async def accept(host: ServiceHost, command: Event, idempotency_key: str | None) -> JsonObject:
    """Write the command to the outbox; the relay publishes it to the owning service."""
    assert host.pool is not None
    event_id = domain.command_event_id(idempotency_key)
    async with host.pool.acquire() as connection, connection.transaction():
        envelope = await Outbox(connection, producer="gateway").add(command, event_id=event_id)
    return {
        "status": "accepted",
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
    }


def routes(host: ServiceHost) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    async def submit(
        command_type: type[Event], body: JsonObject, key: str | None, **path_fields: str
    ) -> JsonObject:
        return await accept(host, build_command(command_type, body, **path_fields), key)

    @router.post("/places/{place_id}/settlements", status_code=202, tags=["ledger"])
    async def record_settlement(
        place_id: str, body: JsonObject = Body(...), idempotency_key: str | None = Header(None)
    ) -> JsonObject:
        return await submit(RecordSettlement, body, idempotency_key, place_id=place_id)

    @router.post("/places/{place_id}/allocations", status_code=202, tags=["allocations"])
    async def propose_allocation(
        place_id: str, body: JsonObject = Body(...), idempotency_key: str | None = Header(None)
    ) -> JsonObject:
        return await submit(ProposeAllocation, body, idempotency_key, place_id=place_id)

    @router.post(
        "/places/{place_id}/allocations/{allocation_id}/decision",
        status_code=202,
        tags=["allocations"],
    )
    async def decide_allocation(
        place_id: str,
        allocation_id: str,
        body: JsonObject = Body(...),
        idempotency_key: str | None = Header(None),
    ) -> JsonObject:
        return await submit(
            DecideAllocation, body, idempotency_key, place_id=place_id, allocation_id=allocation_id
        )

    @router.post("/places/{place_id}/outcomes-contracts", status_code=202, tags=["outcomes"])
    async def register_contract(
        place_id: str, body: JsonObject = Body(...), idempotency_key: str | None = Header(None)
    ) -> JsonObject:
        return await submit(RegisterOutcomesContract, body, idempotency_key, place_id=place_id)

    @router.post(
        "/places/{place_id}/outcomes-contracts/{contract_id}/evidence",
        status_code=202,
        tags=["outcomes"],
    )
    async def submit_evidence(
        place_id: str,
        contract_id: str,
        body: JsonObject = Body(...),
        idempotency_key: str | None = Header(None),
    ) -> JsonObject:
        return await submit(
            SubmitEvidence, body, idempotency_key, place_id=place_id, contract_id=contract_id
        )

    @router.get("/places/{place_id}/pot", tags=["ledger"])
    async def pot(place_id: str) -> JsonObject:
        assert host.pool is not None
        async with host.pool.acquire() as connection:
            rows = await db.pot_for_place(connection, place_id)
        return {"place_id": place_id, **domain.pot_overview(rows)}

    @router.get("/places/{place_id}/spend", tags=["ledger"])
    async def spend(place_id: str, limit: int = Query(100, ge=1, le=1000)) -> JsonObject:
        assert host.pool is not None
        async with host.pool.acquire() as connection:
            records = await db.spend_for_place(connection, place_id, limit)
        return {"place_id": place_id, "spend": records}

    return router


def extend_http(app: FastAPI, host: ServiceHost) -> None:
    """Mount the API on the gateway's HTTP app."""
    app.include_router(routes(host))

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> JsonObject:
        return {"service": "singlepot gateway", "api": "/api/v1", "docs": str(request.url) + "docs"}
