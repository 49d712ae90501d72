"""The audit export streams the transfer log through a database cursor: a log longer than one
prefetch page exports whole, byte for byte what the in-memory builder writes, and the
standalone verifier accepts it, from the library and from `singlepot export audit`."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from services.ledger import audit, db, domain
from services.ledger.reports import add_report_routes
from services.ledger.settings import LedgerReportSettings
from services.runtime.db import create_pool

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
SINGLEPOT = str(Path(sys.executable).parent / "singlepot")
EXPORTED_AT = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
TRANSFER_COUNT = audit.PREFETCH_ROWS + 37  # more than one page at the default prefetch


def verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "verify_audit", ROOT / "tools" / "verify_audit.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chain(count: int) -> list[domain.Transfer]:
    """`count` transfers linked from the genesis hash, each moving money pot → commitment."""
    transfers, previous = [], domain.GENESIS_HASH
    for sequence in range(1, count + 1):
        unhashed = domain.Transfer(
            place_id="GM",
            sequence=sequence,
            transfer_id=f"T-{sequence}",
            request_event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"request/{sequence}"),
            financial_year="2026-27",
            iati_transaction_type=11,
            department_code="DWP",
            funding_stream_code="WORK",
            allocation_id=f"A-{sequence}",
            contract_id=None,
            claim_id=None,
            description=f"reservation for A-{sequence} — Salford",
            legs=(
                domain.Leg("pot:DWP:WORK", "debit", sequence),
                domain.Leg(f"commitment:A-{sequence}:DWP:WORK", "credit", sequence),
            ),
            previous_hash=previous,
            chain_hash="",
        )
        transfer = replace(unhashed, chain_hash=domain.chain_hash(domain.transfer_body(unhashed)))
        transfers.append(transfer)
        previous = transfer.chain_hash
    return transfers


async def store(database_url: str, transfers: list[domain.Transfer]) -> list[dict[str, object]]:
    """Write the transfers and the balances they give into the ledger's schema."""
    balances = [
        {"financial_year": year, "account": account, "balance_pence": balance}
        for (year, account), balance in sorted(domain.derive_balances(transfers).items())
    ]
    pool = await create_pool(database_url, "ledger", 2)
    try:
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                "transfers",
                records=[db._transfer_record(t) for t in transfers],
                columns=db.TRANSFER_COLUMNS,
            )
            await connection.executemany(
                "INSERT INTO balances (place_id, financial_year, account, must_not_go_negative,"
                " balance_pence) VALUES ('GM', $1, $2, false, $3)",
                [(b["financial_year"], b["account"], b["balance_pence"]) for b in balances],
            )
    finally:
        await pool.close()
    return balances


async def streamed(database_url: str, prefetch: int) -> list[str]:
    pool = await create_pool(database_url, "ledger", 2)
    try:
        async with pool.acquire() as connection:
            return [
                text async for text in audit.stream_lines(connection, "GM", EXPORTED_AT, prefetch)
            ]
    finally:
        await pool.close()


async def test_a_log_longer_than_a_prefetch_page_streams_whole_and_verifies(
    database_url: str,
) -> None:
    transfers = chain(25)
    balances = await store(database_url, transfers)

    lines = await streamed(database_url, prefetch=4)

    in_memory = list(audit.lines(audit.AuditLog("GM", transfers, balances), EXPORTED_AT))
    assert lines == in_memory  # byte for byte what the in-memory builder writes
    assert len(lines) == 1 + 25
    assert verifier().verify(lines) == (25, transfers[-1].chain_hash)


async def test_a_place_without_transfers_streams_a_header_alone(database_url: str) -> None:
    lines = await streamed(database_url, prefetch=4)

    header = json.loads(lines[0])
    assert len(lines) == 1
    assert (header["transfer_count"], header["head_hash"]) == (0, domain.GENESIS_HASH)


async def test_the_ledger_route_streams_the_export_and_it_verifies(database_url: str) -> None:
    transfers = chain(40)
    await store(database_url, transfers)
    pool = await create_pool(database_url, "ledger", 2)
    app = FastAPI()
    # The routes read only the host's pool: a real pool on the test's own database.
    credential = LedgerReportSettings(ledger_report_token="report-token")
    add_report_routes(app, SimpleNamespace(pool=pool), credential)  # type: ignore[arg-type]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as client:
            response = await client.get(
                "/ledger/v1/places/GM/audit-export",
                headers={"Authorization": "Bearer report-token"},
            )
    finally:
        await pool.close()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.split("\n")
    assert lines[-1] == ""  # every line ends with a newline
    assert verifier().verify(lines[:-1]) == (40, transfers[-1].chain_hash)


async def test_the_cli_writes_a_log_longer_than_its_prefetch_line_by_line_and_it_verifies(
    database_url: str, tmp_path: Path
) -> None:
    transfers = chain(TRANSFER_COUNT)
    await store(database_url, transfers)
    out = tmp_path / "GM-audit.jsonl"

    status, output = await run(
        SINGLEPOT, "export", "audit", "--place", "GM", "--out", str(out), database_url=database_url
    )
    assert status == 0, output
    assert f"wrote {TRANSFER_COUNT} transfers" in output

    status, output = await run(
        sys.executable, "-I", str(ROOT / "tools" / "verify_audit.py"), str(out)
    )
    assert status == 0, output
    assert output.strip() == f"verified {TRANSFER_COUNT} transfers, head {transfers[-1].chain_hash}"


async def run(*arguments: str, database_url: str | None = None) -> tuple[int, str]:
    environment = {**os.environ, "COLUMNS": "200"}
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        *arguments,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()
