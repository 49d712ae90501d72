"""A provider's pages: its contracts, remittances and statement; each contract's outcomes
against targets and caps and its referral funnel; uploading an evidence file (the upload API's
own parser and idempotent outbox write) with a per-row error report; and a batch status page
with a link to check its progress again (not a meta refresh: a page that reloads itself under
a screen reader fails WCAG 2.2.1), no JavaScript needed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
from fastapi import APIRouter
from starlette.datastructures import UploadFile
from starlette.responses import Response

from contracts.evidence_file import FileReport
from services.gateway import domain, intake
from services.gateway.command_log.idempotency import idempotent
from services.gateway.commands import uploads
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import require
from services.gateway.intake import identifier_path
from services.gateway.problems import ProblemError
from services.gateway.projections import claim_results, db, views
from services.gateway.web import charts, csrf
from services.gateway.web import outcomes as command_outcomes
from services.gateway.web.rendering import Page, render
from services.gateway.web.routes import PAGE, WebRoute, signed_in
from services.runtime.outbox import Outbox

# Batch states after which nothing more happens without a person: the status page stops
# offering to check the batch's progress again.
# Claims listed on a batch's page; all of them are in its CSV download.
CLAIMS_SHOWN = 100
FINAL_BATCH_STATES = frozenset({"paid", "rejected", "held", "failed", "refused", "closed"})


async def contract_provider(page: Page, place_id: str, contract_id: str) -> str:
    """The contract's provider; a 404 page when the place has no such contract."""
    async with page.gateway.pool.acquire() as connection:
        provider = await db.contract_provider(connection, place_id, contract_id)
    if provider is None:
        raise ProblemError(404, "not-found", f"{place_id} has no contract {contract_id}")
    return provider


def outcome_chart(metrics: list[dict[str, Any]]) -> Any:
    data = [
        (
            str(row["metric_id"]),
            int(row.get("paid_pence") or 0),
            _maybe_int(row.get("target_pence")),
            _maybe_int(row.get("cap_pence")),
        )
        for row in metrics
    ]
    return charts.bars_against_targets(
        "outcomes-against-targets",
        "Outcome payments against targets and caps",
        data,
        caption="Paid per metric; the solid line is the target and the dashed line the cap.",
        row_heading="Metric",
    )


FUNNEL_STAGES = ("referred", "engaged", "paid")


def funnel_chart(rows: list[dict[str, Any]]) -> Any:
    segments = [
        (str(row["segment"]), [int(row.get(stage) or 0) for stage in FUNNEL_STAGES]) for row in rows
    ]
    return charts.funnel(
        "referral-funnel",
        "Referred, engaged and paid by difficulty segment",
        [stage.capitalize() for stage in FUNNEL_STAGES],
        segments,
        caption="People at each stage; creaming shows as hard segments converting far less.",
        segment_heading="Difficulty segment",
    )


def _maybe_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _may_upload(principal: Principal, place_id: str, provider: str) -> bool:
    return principal.may(Permission.SUBMIT_EVIDENCE, place_id, provider)


async def _upload(
    page: Page, principal: Principal, place_id: str, contract_id: str, provider: str
) -> tuple[int, dict[str, Any]]:
    """Parse the posted file as the upload API does and put its commands in the outbox once per
    idempotency key; the report (rows read, accepted, rejected, per-row errors)."""
    settings = page.gateway.settings
    request = uploads.limited(page.request, settings.gateway_upload_bytes_max)
    form = await request.form(max_files=1, max_fields=10)
    csrf.check(form.get(csrf.FIELD), page.csrf_secret)
    require(principal, Permission.SUBMIT_EVIDENCE, place_id, provider, what=contract_id)
    key = form.get("idempotency_key")
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return 422, {"problem": "Choose an evidence file to upload", "errors": []}
    if not isinstance(key, str) or not 1 <= len(key) <= settings.gateway_idempotency_key_length_max:
        return 422, {"problem": "The form lost its idempotency key; reload the page", "errors": []}
    pseudonym_key = settings.gateway_pseudonym_key.get_secret_value().encode()
    report = FileReport()
    async with page.gateway.pool.acquire() as connection:
        metric_ids = await db.contract_metric_ids(connection, place_id, contract_id)
    try:
        commands, batch_id = await asyncio.to_thread(
            uploads.commands_from_file,
            upload.file,
            upload.filename,
            place_id,
            contract_id,
            provider,
            pseudonym_key,
            report,
            metric_ids,
        )
    except ProblemError as problem:
        return 422, {"problem": problem.detail, "errors": []}
    errors = [
        {"row": error.row_number, "field": error.field, "rule": error.rule, "message": str(error)}
        for error in report.errors[: settings.gateway_upload_errors_max]
    ]
    counts = {
        "filename": upload.filename,
        "rows_read": report.rows_read,
        "rows_accepted": report.rows_accepted,
        "rows_rejected": report.rows_rejected,
        "errors": errors,
    }
    if not commands:
        return 422, {**counts, "problem": f"No row of {upload.filename} can be submitted"}
    base_id = domain.command_event_id(principal.principal_id, key)

    async def write(connection: asyncpg.Connection) -> tuple[int, dict[str, Any]]:
        outbox = Outbox(connection, producer="gateway")
        for command in commands:
            await outbox.add(command, event_id=uploads.chunk_event_id(base_id, command.chunk_index))
        return 202, {
            **counts,
            "batch_id": batch_id,
            "commands": len(commands),
            "command_id": str(base_id),
        }

    response = await idempotent(
        page.gateway,
        principal,
        key=key,
        method_path=f"POST {page.request.url.path}",
        body={"file": batch_id, "filename": upload.filename},
        place_id=place_id,
        event_type="SubmitEvidence",
        event_id=base_id,
        action=write,
    )
    return response.status_code, json.loads(bytes(response.body))


def router() -> APIRouter:
    routes = APIRouter(route_class=WebRoute, include_in_schema=False)
    place = identifier_path()

    @routes.get("/places/{place_id}/providers/{provider_id}")
    async def provider_page(
        place_id: str = place, provider_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        require(principal, Permission.READ_CONTRACTS, place_id, provider_id, what=provider_id)
        async with page.gateway.pool.acquire() as connection:
            overview = await views.provider_overview(connection, place_id, provider_id)
            statement = await views.statement_by_year(connection, place_id, provider_id=provider_id)
        return render(
            page,
            "provider.html",
            statement_by_year=statement,
            title=f"{provider_id}: contracts, evidence and payments in {place_id}",
            place_id=place_id,
            provider_id=provider_id,
            overview=overview,
        )

    @routes.get("/places/{place_id}/contracts/{contract_id}")
    async def contract_page(
        place_id: str = place, contract_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        provider = await contract_provider(page, place_id, contract_id)
        require(principal, Permission.READ_EVIDENCE, place_id, provider, what=contract_id)
        async with page.gateway.pool.acquire() as connection:
            outcomes = await views.outcomes_against_targets(connection, place_id, contract_id)
            funnel = await views.funnel_by_segment(connection, place_id, contract_id)
            batches = await db.evidence_for_contract(connection, place_id, contract_id, 100)
        return render(
            page,
            "contract.html",
            title=f"Contract {contract_id}",
            place_id=place_id,
            contract_id=contract_id,
            provider_id=provider,
            outcome_chart=outcome_chart(outcomes),
            funnel_chart=funnel_chart(funnel),
            batches=batches,
            may_upload=_may_upload(principal, place_id, provider),
        )

    @routes.post("/places/{place_id}/contracts/{contract_id}/evidence-files")
    async def upload_evidence(
        place_id: str = place, contract_id: str = identifier_path(), page: Page = PAGE
    ) -> Response:
        principal = signed_in(page)
        intake.check_storable(contract_id, "contract_id")
        provider = await contract_provider(page, place_id, contract_id)
        status, report = await _upload(page, principal, place_id, contract_id, provider)
        outcome = None
        if status == 202:
            outcome = await command_outcomes.command_notice(page, command=report["command_id"])
        return render(
            page,
            "upload_report.html",
            status,
            title="Evidence file received" if status < 400 else "The evidence file was refused",
            place_id=place_id,
            contract_id=contract_id,
            report=report,
            errors=[{"text": report["problem"], "href": "#file"}] if "problem" in report else [],
            command_outcome=outcome,
        )

    @routes.get("/places/{place_id}/contracts/{contract_id}/batches/{batch_id}")
    async def batch_page(
        place_id: str = place,
        contract_id: str = identifier_path(),
        batch_id: str = identifier_path(),
        page: Page = PAGE,
    ) -> Response:
        principal = signed_in(page)
        provider = await contract_provider(page, place_id, contract_id)
        require(principal, Permission.READ_EVIDENCE, place_id, provider, what=contract_id)
        key = (place_id, contract_id, batch_id)
        async with page.gateway.pool.acquire() as connection:
            batches = await db.evidence_for_contract(connection, place_id, contract_id, 1000)
            summary = await db.claim_results_summary(connection, key)
            claims = await db.claim_results_page(connection, key, None, (-1, -1), CLAIMS_SHOWN)
        batch = next((row for row in batches if row["batch_id"] == batch_id), None)
        final = batch is not None and str(batch.get("status")) in FINAL_BATCH_STATES
        priced_pence = sum(row["amount_pence"] for row in summary if row["status"] != "rejected")
        return render(
            page,
            "batch.html",
            title=f"Evidence batch {batch_id}",
            place_id=place_id,
            contract_id=contract_id,
            batch_id=batch_id,
            batch=batch,
            in_progress=not final,
            summary=summary,
            claims=claims,
            claims_shown=CLAIMS_SHOWN,
            priced_pence=priced_pence,
        )

    @routes.get("/places/{place_id}/contracts/{contract_id}/batches/{batch_id}/claims.csv")
    async def batch_claims_csv(
        place_id: str = place,
        contract_id: str = identifier_path(),
        batch_id: str = identifier_path(),
        page: Page = PAGE,
    ) -> Response:
        principal = signed_in(page)
        provider = await contract_provider(page, place_id, contract_id)
        require(principal, Permission.READ_EVIDENCE, place_id, provider, what=contract_id)
        return claim_results.csv_response(page.gateway, (place_id, contract_id, batch_id), None)

    return routes
