"""Evidence file uploads: a provider posts a CSV, JSON Lines or JSON file (multipart, field
`file`); the shared streaming parser checks every row, hashes participant references at the
edge, and chunks the good rows into SubmitEvidence commands sharing one batch id. All the
commands go to the outbox in one transaction, once per Idempotency-Key; bad rows come back
named by row, field and rule."""

from __future__ import annotations

import asyncio
import uuid
from typing import IO, Any

import asyncpg
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from contracts.evidence_file import (
    EvidenceFileError,
    FileReport,
    detect_format,
    evidence_commands,
    file_batch_id,
    parse_rows,
    refuse_unknown_metrics,
)
from contracts.outcomes import SubmitEvidence
from services.gateway import domain, intake, problems
from services.gateway.command_log import status as command_status
from services.gateway.command_log.idempotency import idempotent
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import identifier_path
from services.gateway.problems import ProblemError, field_problem
from services.gateway.projections import db
from services.runtime.outbox import Outbox

JsonObject = dict[str, Any]
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    },
}


def limited(request: Request, bytes_max: int) -> Request:
    """The request with a body that stops with a 413 once more than `bytes_max` arrived."""
    received = 0

    async def receive() -> Any:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > bytes_max:
            raise intake.too_large(bytes_max)
        return message

    return Request(request.scope, receive)


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["outcomes"], route_class=GuardedRoute)
    settings = gateway.settings

    @router.post(
        "/places/{place_id}/outcomes-contracts/{contract_id}/evidence-files",
        status_code=202,
        responses=problems.openapi_responses(400, 401, 403, 409, 413, 422, 429),
        openapi_extra={"requestBody": UPLOAD_BODY},
    )
    async def upload_evidence_file(
        request: Request,
        place_id: str = identifier_path(),
        contract_id: str = identifier_path(),
        idempotency_key: str = Header(
            ..., min_length=1, max_length=settings.gateway_idempotency_key_length_max
        ),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Upload a provider's evidence file; every good row is submitted, every bad row named."""
        intake.check_storable(place_id, "place_id")
        intake.check_storable(contract_id, "contract_id")
        async with gateway.pool.acquire() as connection:
            provider = await db.contract_provider(connection, place_id, contract_id)
            metric_ids = await db.contract_metric_ids(connection, place_id, contract_id)
        require(
            principal,
            Permission.SUBMIT_EVIDENCE,
            place_id,
            provider,
            what=f"contract {contract_id}",
        )
        assert provider is not None
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > settings.gateway_upload_bytes_max:
            raise intake.too_large(settings.gateway_upload_bytes_max)
        form = await limited(request, settings.gateway_upload_bytes_max).form(
            max_files=1, max_fields=10
        )
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise problems.invalid(
                "file", "required", "send the evidence file as form field 'file'"
            )
        key = settings.gateway_pseudonym_key.get_secret_value().encode()
        report = FileReport()
        commands, batch_id = await asyncio.to_thread(
            commands_from_file,
            upload.file,
            upload.filename,
            place_id,
            contract_id,
            provider,
            key,
            report,
            metric_ids,
        )
        errors = [str(error) for error in report.errors[: settings.gateway_upload_errors_max]]
        if not commands:
            raise ProblemError(
                422,
                "invalid-file",
                f"no row of {upload.filename} can be submitted ({report.rows_read} rows read)",
                errors=[
                    field_problem(f"row {e.row_number}.{e.field}", e.rule, str(e))
                    for e in report.errors[: settings.gateway_upload_errors_max]
                ],
            )
        base_id = domain.command_event_id(principal.principal_id, idempotency_key)

        async def write(connection: asyncpg.Connection) -> tuple[int, JsonObject]:
            outbox = Outbox(connection, producer="gateway")
            for command in commands:
                await outbox.add(command, event_id=chunk_event_id(base_id, command.chunk_index))
            return 202, {
                "status": "accepted",
                "command_id": str(base_id),
                "batch_id": batch_id,
                "event_type": "SubmitEvidence",
                "commands": len(commands),
                "rows_read": report.rows_read,
                "rows_accepted": report.rows_accepted,
                "rows_rejected": report.rows_rejected,
                "errors": errors,
            }

        response = await idempotent(
            gateway,
            principal,
            key=idempotency_key,
            method_path=f"POST {request.url.path}",
            body={"file": batch_id, "filename": upload.filename},
            place_id=place_id,
            event_type="SubmitEvidence",
            event_id=base_id,
            action=write,
        )
        if response.status_code == 202:
            response.headers["Location"] = command_status.location(base_id)
        return response

    return router


def chunk_event_id(base_id: uuid.UUID, chunk_index: int) -> uuid.UUID:
    """A file's chunk command's event id. The first chunk's is the upload's command id, so the
    outcomes service's answer to it (the batch's first EvidenceSubmitted) is correlated to the
    command whose status the upload's `Location` names."""
    return base_id if chunk_index == 0 else uuid.uuid5(base_id, str(chunk_index))


def commands_from_file(
    stream: IO[bytes],
    filename: str,
    place_id: str,
    contract_id: str,
    provider_id: str,
    pseudonym_key: bytes,
    report: FileReport,
    metric_ids: frozenset[str] | None = None,
) -> tuple[list[SubmitEvidence], str]:
    """Parse a whole evidence file into its SubmitEvidence commands (one per chunk) and the
    file's batch id, noting rejected rows in `report`; a file that cannot be read is a 422
    problem naming the field "file". CPU work: callers run it in a worker thread. Both the
    upload API and the web upload page use it."""
    try:
        file_format = detect_format(filename)
        batch_id = file_batch_id(stream)
        rows = parse_rows(stream, file_format, pseudonym_key)
        if metric_ids is not None:
            rows = refuse_unknown_metrics(rows, metric_ids, contract_id)
        commands = list(
            evidence_commands(
                rows,
                place_id=place_id,
                contract_id=contract_id,
                provider_id=provider_id,
                batch_id=batch_id,
                report=report,
            )
        )
    except EvidenceFileError as error:
        raise problems.invalid("file", error.rule, str(error)) from None
    except UnicodeDecodeError as error:
        raise problems.invalid("file", "format", str(error)) from None
    return commands, batch_id
