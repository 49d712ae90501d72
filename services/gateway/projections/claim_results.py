"""Per-claim results of evidence batches for providers: the read model kept from the outcomes
service's events (each claim accepted or rejected with why, then sampled, verified or failed,
paid, clawed back), and the API that reads it in pages, as a summary by reason, and as CSV.

Claims are listed in the order submitted (chunk, then position in the chunk); a page's
`next_after` is the cursor for the next, so a batch of a million claims reads page by page.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from contracts import Event
from contracts.outcomes import (
    ClaimResultsRecorded,
    ClawbackRaised,
    EvidenceSampled,
    RemittanceAdvised,
)
from services.gateway import intake, problems
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.projections import db
from services.runtime.consumer import Handler, HandlerContext

JsonObject = dict[str, Any]
ClaimStatusFilter = Literal[
    "accepted", "rejected", "sampled", "verified", "failed_verification", "paid", "clawed_back"
]
CURSOR = re.compile(r"^(\d{1,9})\.(\d{1,9})$")
CSV_COLUMNS = (
    "row_number",
    "participant_hash",
    "metric_id",
    "achieved_on",
    "status",
    "rule",
    "reason",
    "amount_pence",
)
# Rows fetched per query while a CSV streams.
CSV_PAGE_ROWS = 5000


# --- Keeping the read model ---------------------------------------------------------------------


async def on_claim_results(context: HandlerContext, event: ClaimResultsRecorded) -> None:
    at = context.envelope.occurred_at
    results = [result.model_dump() for result in event.results]
    if event.chunk_index is not None and event.first_position is not None:
        batch = (event.place_id, event.contract_id, event.batch_id, event.chunk_index)
        await db.insert_claim_results(context.connection, batch, event.first_position, results, at)
        return
    # Later news of claims already listed: one status per part (verified or failed).
    for status in sorted({result["status"] for result in results}):
        claims = [result for result in results if result["status"] == status]
        batch_key = (event.place_id, event.contract_id, event.batch_id)
        await db.set_claims_status(context.connection, batch_key, status, claims, at)


async def on_evidence_sampled(context: HandlerContext, event: EvidenceSampled) -> None:
    claims = [claim.model_dump() for claim in event.claims]
    batch = (event.place_id, event.contract_id, event.batch_id)
    await db.set_claims_status(
        context.connection, batch, "sampled", claims, context.envelope.occurred_at
    )


async def on_remittance_advised(context: HandlerContext, event: RemittanceAdvised) -> None:
    # Remittance follows the payment on the contract's own partition, after its claims' results.
    batch = (event.place_id, event.contract_id, event.batch_id)
    await db.set_batch_claims_paid(context.connection, batch, context.envelope.occurred_at)


async def on_clawback_raised(context: HandlerContext, event: ClawbackRaised) -> None:
    claim = (event.place_id, event.contract_id, event.participant_hash, event.metric_id)
    await db.set_claim_clawed_back(
        context.connection, claim, event.reason, context.envelope.occurred_at
    )


CLAIM_HANDLERS: dict[type[Event], Handler] = {
    ClaimResultsRecorded: on_claim_results,
    EvidenceSampled: on_evidence_sampled,
    RemittanceAdvised: on_remittance_advised,
    ClawbackRaised: on_clawback_raised,
}


def alongside(handlers: dict[type[Event], Handler]) -> dict[type[Event], Handler]:
    """The read models' handlers, each event's claim-results handler run after its own."""

    def both(first: Handler | None, second: Handler) -> Handler:
        async def handle(context: HandlerContext, event: Event) -> None:
            if first is not None:
                await first(context, event)
            await second(context, event)

        handle.__name__ = getattr(first, "__name__", getattr(second, "__name__", "handle"))
        return handle

    combined = dict(handlers)
    for kind, handler in CLAIM_HANDLERS.items():
        combined[kind] = both(handlers.get(kind), handler)
    return combined


# --- Reading them over HTTP -----------------------------------------------------------------


def parse_cursor(after: str | None) -> tuple[int, int]:
    """A page cursor "chunk.position" (from `next_after`); the start when absent."""
    if after is None:
        return (-1, -1)
    match = CURSOR.match(after)
    if match is None:
        raise problems.invalid("after", "cursor", 'use the "next_after" of the previous page')
    return int(match[1]), int(match[2])


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/outcomes-contracts/{contract_id}/evidence/{batch_id}",
        tags=["outcomes"],
        responses=problems.openapi_responses(401, 403, 404, 422, 429),
        route_class=GuardedRoute,
    )
    page_max = gateway.settings.gateway_page_size_max

    async def readable(principal: Principal, place_id: str, contract_id: str) -> None:
        for name, value in (("place_id", place_id), ("contract_id", contract_id)):
            intake.check_storable(value, name)
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
        require(principal, Permission.READ_EVIDENCE, place_id, provider, what=contract_id)

    @router.get("/claims")
    async def claims(
        place_id: str = identifier_path(),
        contract_id: str = identifier_path(),
        batch_id: str = identifier_path(),
        status: ClaimStatusFilter | None = Query(None, description="Only claims in this state."),
        after: str | None = Query(None, max_length=20, description="The previous next_after."),
        limit: int = Query(100, ge=1, le=page_max),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """Each claim of a batch with its row, participant (pseudonymous), metric, date, status
        and reason, in the order submitted, a page at a time; a provider's own only."""
        await readable(principal, place_id, contract_id)
        cursor = parse_cursor(after)
        async with gateway.pool.acquire() as connection:
            rows = await db.claim_results_page(
                connection, (place_id, contract_id, batch_id), status, cursor, limit
            )
        last = rows[-1] if len(rows) == limit else None
        return {
            "place_id": place_id,
            "contract_id": contract_id,
            "batch_id": batch_id,
            "claims": [_claim(row) for row in rows],
            "next_after": f"{last['chunk_index']}.{last['position']}" if last else None,
        }

    @router.get("/claims/summary")
    async def summary(
        place_id: str = identifier_path(),
        contract_id: str = identifier_path(),
        batch_id: str = identifier_path(),
        principal: Principal = CALLER,
    ) -> JsonObject:
        """A batch's claims counted by status and rule, each with an example reason."""
        await readable(principal, place_id, contract_id)
        async with gateway.pool.acquire() as connection:
            rows = await db.claim_results_summary(connection, (place_id, contract_id, batch_id))
        return {"place_id": place_id, "contract_id": contract_id, "batch_id": batch_id, "by": rows}

    @router.get("/claims.csv", response_class=StreamingResponse)
    async def claims_csv(
        place_id: str = identifier_path(),
        contract_id: str = identifier_path(),
        batch_id: str = identifier_path(),
        status: ClaimStatusFilter | None = Query(None, description="Only claims in this state."),
        principal: Principal = CALLER,
    ) -> StreamingResponse:
        """Every claim of the batch as CSV, streamed, however many there are."""
        await readable(principal, place_id, contract_id)
        return csv_response(gateway, (place_id, contract_id, batch_id), status)

    return router


def csv_response(
    gateway: Gateway, batch: tuple[str, str, str], status: str | None
) -> StreamingResponse:
    """Every claim of a batch (place, contract, batch) as a streamed CSV download."""
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", f"{batch[1]}-{batch[2]}-claims.csv")
    return StreamingResponse(
        _csv_lines(gateway, batch, status),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _claim(row: JsonObject) -> JsonObject:
    return {column: row[column] for column in CSV_COLUMNS}


async def _csv_lines(
    gateway: Gateway, batch: tuple[str, str, str], status: str | None
) -> AsyncIterator[str]:
    yield _csv_row(CSV_COLUMNS)
    cursor = (-1, -1)
    while True:
        async with gateway.pool.acquire() as connection:
            rows = await db.claim_results_page(connection, batch, status, cursor, CSV_PAGE_ROWS)
        for row in rows:
            yield _csv_row(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        if len(rows) < CSV_PAGE_ROWS:
            return
        cursor = (rows[-1]["chunk_index"], rows[-1]["position"])


def _csv_row(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
