"""Balances as at a past date, by effective and by recorded date, from figures written by hand;
each answer names a chain position, and the audit export up to that position re-derives it and
passes the shipped verifier (tools/verify_audit.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from contracts import FinancialYearAmount, RecordSettlement
from contracts.envelope import wrap
from services.ledger import db, domain, handlers
from services.ledger.reports import add_report_routes
from services.ledger.settings import LedgerReportSettings
from services.runtime.db import create_pool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
AUTHORISED = {"Authorization": "Bearer report-token"}

# (recorded at, effective on or None for a row older than effective dates, legs)
BOOK: list[tuple[datetime, date | None, list[tuple[str, str, int]]]] = [
    (  # 1: DWP pays in £1,000 on 1 April, recorded the next day
        datetime(2026, 4, 2, 10, tzinfo=UTC),
        date(2026, 4, 1),
        [("received:DWP:WORK", "debit", 1_000_00), ("pot:DWP:WORK", "credit", 1_000_00)],
    ),
    (  # 2: £300 reserved for allocation A-1
        datetime(2026, 4, 10, 9, tzinfo=UTC),
        date(2026, 4, 10),
        [("pot:DWP:WORK", "debit", 300_00), ("commitment:A-1:DWP:WORK", "credit", 300_00)],
    ),
    (  # 3: £100 paid on 28 April, recorded on 3 May (back-dated)
        datetime(2026, 5, 3, 8, tzinfo=UTC),
        date(2026, 4, 28),
        [("commitment:A-1:DWP:WORK", "debit", 100_00), ("provider:PROV-1", "credit", 100_00)],
    ),
    (  # 4: DHSC pays in £500; a row without an effective date takes its recorded day
        datetime(2026, 5, 20, 23, 59, tzinfo=UTC),
        None,
        [("received:DHSC:CARE", "debit", 500_00), ("pot:DHSC:CARE", "credit", 500_00)],
    ),
    (  # 5: £50 paid on 1 June
        datetime(2026, 6, 1, 12, tzinfo=UTC),
        date(2026, 6, 1),
        [("commitment:A-1:DWP:WORK", "debit", 50_00), ("provider:PROV-1", "credit", 50_00)],
    ),
    (  # 6: recorded on 2 June, effective 1 July (DHSC's next receipt, entered early)
        datetime(2026, 6, 2, 9, tzinfo=UTC),
        date(2026, 7, 1),
        [("received:DHSC:CARE", "debit", 200_00), ("pot:DHSC:CARE", "credit", 200_00)],
    ),
]


def verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "verify_audit", ROOT / "tools" / "verify_audit.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chained() -> list[domain.Transfer]:
    transfers, previous = [], domain.GENESIS_HASH
    for sequence, (_, _, legs) in enumerate(BOOK, start=1):
        unhashed = domain.Transfer(
            place_id="GM",
            sequence=sequence,
            transfer_id=f"T-{sequence}",
            request_event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"request/{sequence}"),
            financial_year="2026-27",
            iati_transaction_type=1,
            department_code=None,
            funding_stream_code=None,
            allocation_id=None,
            contract_id=None,
            claim_id=None,
            description=f"transfer {sequence}",
            legs=tuple(domain.Leg(*leg) for leg in legs),  # type: ignore[arg-type]
            previous_hash=previous,
            chain_hash="",
        )
        transfer = replace(unhashed, chain_hash=domain.chain_hash(domain.transfer_body(unhashed)))
        transfers.append(transfer)
        previous = transfer.chain_hash
    return transfers


async def ask(database_url: str, *paths: str) -> list[httpx.Response]:
    """Store the book, then ask the ledger's report routes, in order."""
    transfers = chained()
    pool = await create_pool(database_url, "ledger", 2)
    try:
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                "transfers",
                records=[
                    (*db._transfer_record(transfer), recorded_at, effective_on)
                    for transfer, (recorded_at, effective_on, _) in zip(
                        transfers, BOOK, strict=True
                    )
                ],
                columns=(*db.TRANSFER_COLUMNS, "posted_at", "effective_on"),
            )
    finally:
        await pool.close()
    return await ask_again(database_url, *paths)


def figures(answer: dict[str, Any]) -> dict[str, int]:
    return {row["account"]: row["balance_pence"] for row in answer["balances"]}


def derived(lines: list[str], answer: dict[str, Any]) -> dict[str, int]:
    """What an auditor sums from the export's lines, as the answer says: the transfers recorded
    through its prefix less those left out, plus those added."""
    balances: dict[str, int] = {}
    for text in lines[1:]:
        transfer = json.loads(text)
        sequence = transfer["sequence"]
        in_prefix = sequence <= answer["recorded_through_sequence"]
        if not (in_prefix and sequence not in answer["left_out_sequences"]) and (
            sequence not in answer["added_sequences"]
        ):
            continue
        for leg in transfer["legs"]:
            sign = 1 if leg["direction"] == "credit" else -1
            balances[leg["account"]] = balances.get(leg["account"], 0) + sign * leg["amount_pence"]
    return {account: pence for account, pence in balances.items() if pence}


async def test_balances_as_at_a_recorded_date_are_the_chain_prefix_the_verifier_accepts(
    database_url: str,
) -> None:
    (answer_response,) = await ask(
        database_url, "/ledger/v1/places/GM/balances-as-at?date=2026-04-30&by=recorded"
    )
    answer = answer_response.json()
    position = answer["chain_position"]
    assert position["sequence"] == 2  # the back-dated payment was recorded in May
    assert figures(answer) == {
        "received:DWP:WORK": -1_000_00,
        "pot:DWP:WORK": 700_00,
        "commitment:A-1:DWP:WORK": 300_00,
    }

    (export,) = await ask_again(database_url, "/ledger/v1/places/GM/audit-export?up_to_sequence=2")
    lines = export.text.split("\n")[:-1]
    assert verifier().verify(lines) == (2, position["chain_hash"])
    header_balances = {
        row["account"]: row["balance_pence"] for row in json.loads(lines[0])["balances"]
    }
    assert header_balances == figures(answer) == derived(lines, answer)
    assert (answer["left_out_sequences"], answer["added_sequences"]) == ([], [])


async def test_balances_as_at_an_effective_date_leave_out_later_events_and_re_derive(
    database_url: str,
) -> None:
    april, may, june, filtered = await ask(
        database_url,
        "/ledger/v1/places/GM/balances-as-at?date=2026-04-30",
        "/ledger/v1/places/GM/balances-as-at?date=2026-05-20&by=effective",
        "/ledger/v1/places/GM/balances-as-at?date=2026-06-15",
        "/ledger/v1/places/GM/balances-as-at?date=2026-04-30&allocation_id=A-1",
    )
    april_answer, may_answer = april.json(), may.json()
    # Asked after all five were recorded: the back-dated payment (3) counts in April.
    assert april_answer["chain_position"]["sequence"] == 6
    assert april_answer["recorded_through_sequence"] == 2
    assert april_answer["added_sequences"] == [3]  # recorded in May, effective in April
    assert april_answer["left_out_sequences"] == []
    assert figures(april_answer) == {
        "received:DWP:WORK": -1_000_00,
        "pot:DWP:WORK": 700_00,
        "commitment:A-1:DWP:WORK": 200_00,
        "provider:PROV-1": 100_00,
    }
    # 4 has no effective date: its recorded day, 20 May, counts.
    assert may_answer["recorded_through_sequence"] == 4
    assert (may_answer["left_out_sequences"], may_answer["added_sequences"]) == ([], [])
    assert figures(may_answer)["pot:DHSC:CARE"] == 500_00
    june_answer = june.json()
    assert june_answer["recorded_through_sequence"] == 6
    assert (june_answer["left_out_sequences"], june_answer["added_sequences"]) == ([6], [])
    assert figures(june_answer)["pot:DHSC:CARE"] == 500_00  # not yet the July receipt
    assert figures(filtered.json()) == {"commitment:A-1:DWP:WORK": 200_00}
    assert filtered.json()["total_pence"] == 200_00

    (export,) = await ask_again(database_url, "/ledger/v1/places/GM/audit-export?up_to_sequence=6")
    lines = export.text.split("\n")[:-1]
    assert verifier().verify(lines) == (6, april_answer["chain_position"]["chain_hash"])
    assert derived(lines, april_answer) == figures(april_answer)
    assert derived(lines, may_answer) == figures(may_answer)
    assert derived(lines, june_answer) == figures(june_answer)


async def test_a_bad_basis_or_date_is_refused_naming_the_field(database_url: str) -> None:
    bad_basis, bad_date = await ask(
        database_url,
        "/ledger/v1/places/GM/balances-as-at?date=2026-04-30&by=posted",
        "/ledger/v1/places/GM/balances-as-at?date=30-04-2026",
    )
    assert bad_basis.status_code == 422 and "by" in bad_basis.text
    assert bad_date.status_code == 422 and "date" in bad_date.text


async def ask_again(database_url: str, *paths: str) -> list[httpx.Response]:
    """Ask routes of a ledger whose book is already stored."""
    pool = await create_pool(database_url, "ledger", 2)
    app = FastAPI()
    credential = LedgerReportSettings(ledger_report_token="report-token")
    add_report_routes(app, SimpleNamespace(pool=pool), credential)  # type: ignore[arg-type]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as client:
            return [await client.get(path, headers=AUTHORISED) for path in paths]
    finally:
        await pool.close()


async def test_the_cli_prints_balances_as_at_a_date_with_the_chain_position(
    database_url: str,
) -> None:
    (answer,) = await ask(
        database_url, "/ledger/v1/places/GM/balances-as-at?date=2026-04-30&department_code=DWP"
    )
    status, text = await run(
        str(Path(sys.executable).parent / "singlepot"),
        *("ledger", "balances", "GM", "--as-at", "2026-04-30", "--by", "effective"),
        *("--department", "DWP"),
        database_url=database_url,
    )

    assert status == 0, text
    position = answer.json()["chain_position"]
    assert f"chain position 6, hash {position['chain_hash']}" in text
    assert "added (recorded later, effective by 2026-04-30): 3" in text
    assert "commitment:A-1:DWP:WORK" in text and "£200.00" in text
    assert "pot:DWP:WORK" in text and "£700.00" in text
    assert "PROV-1" not in text  # a provider's account belongs to no department


async def test_a_posted_transfer_keeps_its_requests_date_as_its_effective_date(
    database_url: str,
) -> None:
    request = RecordSettlement(
        place_id="GM",
        settlement_id="S-1",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=1_000_00),),
    )
    envelope = wrap(request, producer="test", occurred_at=datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    pool = await create_pool(database_url, "ledger", 2)
    try:
        async with pool.acquire() as connection:
            async with connection.transaction():
                await handlers.handle_batch(connection, [(envelope, request)])
            rows = await connection.fetch("SELECT effective_on, posted_at FROM transfers")
    finally:
        await pool.close()

    assert rows and {row["effective_on"] for row in rows} == {date(2026, 3, 31)}
    assert all(row["posted_at"].date() > date(2026, 3, 31) for row in rows)  # recorded later


async def test_the_shipped_verifier_accepts_the_cli_export_up_to_a_recorded_balances_position(
    database_url: str, tmp_path: Path
) -> None:
    (answer,) = await ask(
        database_url, "/ledger/v1/places/GM/balances-as-at?date=2026-05-03&by=recorded"
    )
    position = answer.json()["chain_position"]
    out = tmp_path / "GM-to-3.jsonl"

    exported = await run(
        str(Path(sys.executable).parent / "singlepot"),
        *("export", "audit", "--place", "GM", "--out", str(out)),
        *("--up-to-sequence", str(position["sequence"])),
        database_url=database_url,
    )
    verified = await run(sys.executable, "-I", str(ROOT / "tools" / "verify_audit.py"), str(out))

    assert position["sequence"] == 3
    assert exported[0] == 0, exported[1]
    assert verified == (0, f"verified 3 transfers, head {position['chain_hash']}\n")
    header = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert {row["account"]: row["balance_pence"] for row in header["balances"]} == figures(
        answer.json()
    )


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
