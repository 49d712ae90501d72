"""The audit export and the standalone verifier (tools/verify_audit.py): a true export is
verified; an edited amount, a deleted line or reordered lines are named by line; the verifier
hashes exactly as the ledger does and imports nothing but the standard library."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from hypothesis import given
from hypothesis import strategies as st

from services.ledger import audit, domain

ROOT = Path(__file__).resolve().parents[3]
VERIFIER = ROOT / "tools" / "verify_audit.py"
EXPORTED_AT = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)


def verifier_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_audit", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chain(*moves: tuple[str, str, int, str]) -> list[domain.Transfer]:
    """Transfers linked from the genesis hash: each move is (debit, credit, pence, description)."""
    transfers, previous = [], domain.GENESIS_HASH
    for sequence, (debit, credit, pence, description) in enumerate(moves, start=1):
        unhashed = domain.Transfer(
            place_id="GM",
            sequence=sequence,
            transfer_id=f"T-{sequence}",
            request_event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"request/{sequence}"),
            financial_year="2026-27",
            iati_transaction_type=11,
            department_code="DWP",
            funding_stream_code="WORK",
            allocation_id=None,
            contract_id=None,
            claim_id=None,
            description=description,
            legs=(domain.Leg(debit, "debit", pence), domain.Leg(credit, "credit", pence)),
            previous_hash=previous,
            chain_hash="",
        )
        transfer = replace(unhashed, chain_hash=domain.chain_hash(domain.transfer_body(unhashed)))
        transfers.append(transfer)
        previous = transfer.chain_hash
    return transfers


TRANSFERS = chain(
    ("settlement:DWP:WORK", "pot:DWP:WORK", 100_000_00, "settlement S-1 — Salford & Wigan"),
    ("pot:DWP:WORK", "commitment:A-1:DWP:WORK", 10_000_00, "reservation for A-1"),
    ("commitment:A-1:DWP:WORK", "provider:PROV-1", 5_000_00, "payment PAY-1"),
)


def balances(transfers: list[domain.Transfer]) -> list[dict[str, object]]:
    derived = domain.derive_balances(transfers)
    return [
        {"financial_year": year, "account": account, "balance_pence": balance}
        for (year, account), balance in sorted(derived.items())
    ]


def export(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "GM-audit.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def true_lines() -> list[str]:
    log = audit.AuditLog("GM", TRANSFERS, balances(TRANSFERS))
    return list(audit.lines(log, EXPORTED_AT))


def run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", str(VERIFIER), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_true_export_is_verified_with_its_count_and_head(tmp_path: Path) -> None:
    result = run(export(tmp_path, true_lines()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"verified 3 transfers, head {TRANSFERS[-1].chain_hash}"


def test_an_edited_amount_is_named_by_its_line(tmp_path: Path) -> None:
    lines = true_lines()
    lines[3] = lines[3].replace('"amount_pence":500000', '"amount_pence":50000')
    result = run(export(tmp_path, lines))
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "NOT verified: line 4: content does not match its chain_hash (the line was changed)"
    )


def test_an_edited_amount_rehashed_to_match_still_fails_at_the_next_line(tmp_path: Path) -> None:
    lines = true_lines()
    edited = json.loads(lines[2])
    edited["legs"][0]["amount_pence"] = 1
    edited["legs"][1]["amount_pence"] = 1
    body = {key: value for key, value in edited.items() if key != "chain_hash"}
    edited["chain_hash"] = domain.chain_hash(body)
    lines[2] = json.dumps(edited, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    result = run(export(tmp_path, lines))
    assert result.returncode == 1
    assert "line 4: previous_hash is not the chain_hash of the line before" in result.stdout


def test_a_deleted_line_is_named(tmp_path: Path) -> None:
    lines = true_lines()
    del lines[2]
    result = run(export(tmp_path, lines))
    assert result.returncode == 1
    assert "line 3: sequence 3 where 2 was expected" in result.stdout


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    lines = true_lines()
    lines[2], lines[3] = lines[3], lines[2]
    result = run(export(tmp_path, lines))
    assert result.returncode == 1
    assert "line 3: sequence 3 where 2 was expected" in result.stdout


def test_a_header_balance_that_the_transfers_do_not_give_is_named(tmp_path: Path) -> None:
    lines = true_lines()
    header = json.loads(lines[0])
    header["balances"][0]["balance_pence"] += 1
    lines[0] = json.dumps(header)
    result = run(export(tmp_path, lines))
    assert result.returncode == 1
    assert "line 5: balance of" in result.stdout


def test_the_header_describes_the_export() -> None:
    header = json.loads(true_lines()[0])
    assert header["format"] == "singlepot-audit-export"
    assert header["transfer_count"] == 3
    assert header["head_hash"] == TRANSFERS[-1].chain_hash
    assert header["hash_algorithm"] == "sha256"


def test_each_transfer_line_holds_exactly_the_hashed_fields_and_the_stored_hash() -> None:
    line = json.loads(true_lines()[1])
    stored = line.pop("chain_hash")
    assert line == json.loads(json.dumps(domain.transfer_body(TRANSFERS[0])))
    assert stored == TRANSFERS[0].chain_hash


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(description=texts, account=texts, pence=st.integers(min_value=1, max_value=10**15))
def test_the_verifier_hashes_exactly_as_the_ledger_does(
    description: str, account: str, pence: int
) -> None:
    body = domain.transfer_body(chain(("a", account or "b", pence, description))[0])
    assert verifier_module().canonical_hash(json.loads(json.dumps(body))) == domain.chain_hash(body)


def test_the_verifier_imports_only_the_standard_library() -> None:
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_the_verifier_runs_on_its_own_away_from_the_repository(tmp_path: Path) -> None:
    alone = tmp_path / "verify_audit.py"
    shutil.copy(VERIFIER, alone)
    path = export(tmp_path, true_lines())
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(alone), str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
