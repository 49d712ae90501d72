"""The evidence parser's fast path checks each row's rules in plain Python and builds its claim
without pydantic: it must give, row for row, what validating every claim gave (the claims,
the row errors and the encoded commands' bytes), on rows built to break each rule."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

import contracts.evidence_file as evidence_file
from contracts.envelope import encode, wrap
from contracts.evidence_file import (
    FileReport,
    RowError,
    file_commands,
    parse_rows,
    participant_hash,
)
from contracts.outcomes import EvidenceClaim

KEY = b"test-key"
FIELDS = evidence_file.REQUIRED_FIELDS
GOOD = {
    "participant_reference": "NI-000000001",
    "metric_id": "JOB-START",
    "achieved_on": "2026-05-01",
    "evidence_reference": "payroll/1",
    "referral_date": "2026-01-10",
    "difficulty_segment": "hard",
}
# Values that break, or come close to breaking, each rule the fast path checks itself.
TRICKY_TEXT = ["", " ", " padded ", "x" * 128, "x" * 129, "é" * 128, "é" * 129, "名前", "\t"]
TRICKY_DATES = [
    "2026-05-01",
    " 2026-05-01 ",
    "2026-02-29",
    "2024-02-29",
    "2026-13-01",
    "2026-00-10",
    "2026-04-31",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "2026-5-01",
    "20260501",
    "2026/05/01",
    "2026-05-1a",
    "２０２６-０５-０１",
    "2026-05-01T00:00",
    "01/05/2026",
    "",
]
TRICKY_EVIDENCE = ["", " ", "e", "e" * 4000, "e" * 4001, " é/1 "]
SURROGATE = "\ud800"


def validated_claim(
    row_number: int, record: dict[str, Any], pseudonym_key: bytes
) -> EvidenceClaim | None:
    """The fast path as it was (one pydantic validation per row): the reference to match."""
    if len(record) != len(FIELDS) or "__columns__" in record:
        return None
    try:
        reference = record["participant_reference"].strip()
        achieved_on = record["achieved_on"].strip()
        referral_date = record["referral_date"].strip()
        if not 0 < len(reference) <= 128 or not (
            evidence_file._looks_like_a_date(achieved_on)
            and evidence_file._looks_like_a_date(referral_date)
        ):
            return None
        claim = EvidenceClaim.model_validate(
            {
                "participant_hash": participant_hash(reference, pseudonym_key),
                "metric_id": record["metric_id"].strip(),
                "achieved_on": achieved_on,
                "evidence_reference": record["evidence_reference"].strip(),
                "referral_date": referral_date,
                "difficulty_segment": record["difficulty_segment"].strip(),
                "row_number": row_number,
            }
        )
    except (KeyError, AttributeError, ValidationError):
        return None
    assert claim.referral_date is not None
    return claim if claim.referral_date <= claim.achieved_on else None


def tricky_records() -> list[dict[str, Any]]:
    """A good row, then the good row with one field changed to each tricky value."""
    records: list[dict[str, Any]] = [dict(GOOD)]
    for name in FIELDS:
        if name in ("achieved_on", "referral_date"):
            values: list[Any] = TRICKY_DATES
        elif name == "evidence_reference":
            values = TRICKY_EVIDENCE
        else:
            values = TRICKY_TEXT
        records += [GOOD | {name: value} for value in values]
    # The referral date after, on and before the day achieved.
    records += [GOOD | {"referral_date": day} for day in ("2026-05-02", "2026-05-01")]
    return records


def json_only_records() -> list[dict[str, Any]]:
    """What only a JSON file can hold: values that are not text, a missing or an extra field,
    lone surrogates (pydantic refuses them as text)."""
    records: list[dict[str, Any]] = []
    for name in FIELDS:
        records += [GOOD | {name: value} for value in (7, None, True, [], {"a": 1})]
        records.append({key: value for key, value in GOOD.items() if key != name})
    records.append(GOOD | {"name": "Ann"})
    records += [
        GOOD | {name: f"a{SURROGATE}b"}
        for name in ("metric_id", "evidence_reference", "difficulty_segment")
    ]
    return records


def csv_file(records: list[dict[str, Any]]) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(FIELDS)
    writer.writerows([record[name] for name in FIELDS] for record in records)
    return io.BytesIO(text.getvalue().encode())


def jsonl_file(records: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(record) for record in records).encode())


def both_ways(
    stream: io.BytesIO, file_format: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Any], list[Any]]:
    """The file parsed by today's fast path, then by the validated one."""
    fast = list(parse_rows(io.BytesIO(stream.getvalue()), file_format, KEY))  # type: ignore[arg-type]
    with monkeypatch.context() as patched:
        patched.setattr(evidence_file, "_good_claim", validated_claim)
        slow = list(parse_rows(io.BytesIO(stream.getvalue()), file_format, KEY))  # type: ignore[arg-type]
    return fast, slow


def test_every_tricky_csv_row_gets_the_claim_or_errors_validation_gave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast, slow = both_ways(csv_file(tricky_records()), "csv", monkeypatch)
    assert fast == slow
    # The comparison is worth something: some rows are claims, some break rules.
    claims = [item for item in fast if isinstance(item, EvidenceClaim)]
    assert 10 < len(claims) < len(tricky_records()) - 10
    assert any(not isinstance(item, EvidenceClaim) for item in fast)


def test_every_tricky_json_lines_record_gets_what_validation_gave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = tricky_records() + json_only_records()
    fast, slow = both_ways(jsonl_file(records), "jsonl", monkeypatch)
    assert fast == slow
    assert [type(item).__name__ for item in fast] == [type(item).__name__ for item in slow]


def test_a_fast_path_claim_is_one_validation_accepts_unchanged() -> None:
    claims = [
        item
        for item in parse_rows(csv_file(tricky_records()), "csv", KEY)
        if isinstance(item, EvidenceClaim)
    ]
    for claim in claims:
        validated = EvidenceClaim.model_validate(claim.model_dump())
        assert validated == claim
        assert validated.model_dump_json() == claim.model_dump_json()
        assert validated.model_fields_set == claim.model_fields_set


def test_a_reference_utf8_cannot_encode_is_a_row_error_naming_the_field() -> None:
    # It used to raise UnicodeEncodeError out of the parser (the upload failed as a whole).
    record = GOOD | {"participant_reference": f"NI{SURROGATE}"}
    rows = list(parse_rows(jsonl_file([record, GOOD]), "jsonl", KEY))
    errors = [row for row in rows if isinstance(row, RowError)]
    assert [(error.field, error.rule) for error in errors] == [
        ("participant_reference", evidence_file.LONE_SURROGATE_RULE)
    ]
    assert sum(isinstance(row, EvidenceClaim) for row in rows) == 1


def test_the_hash_is_the_keyed_sha256_hmac_hex() -> None:
    import hashlib
    import hmac

    for reference in ("NI-000000001", "名前", ""):
        expected = hmac.new(KEY, reference.encode(), hashlib.sha256).hexdigest()
        assert participant_hash(reference, KEY) == expected


def encoded_commands(stream: io.BytesIO) -> tuple[list[bytes], FileReport]:
    """The file's commands as the broker carries them, with fixed ids and times."""
    report = FileReport()
    commands = file_commands(
        stream,
        "evidence.csv",
        place_id="GM",
        contract_id="C-1",
        provider_id="P-1",
        pseudonym_key=KEY,
        report=report,
        claims_per_command_max=20,
    )
    when = datetime(2026, 12, 7, tzinfo=UTC)
    encoded = [
        encode(wrap(command, producer="gateway", event_id=uuid.UUID(int=n), occurred_at=when))
        for n, command in enumerate(commands, start=1)
    ]
    return encoded, report


def test_a_file_encodes_to_the_same_commands_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = tricky_records() * 3
    fast, fast_report = encoded_commands(csv_file(records))
    with monkeypatch.context() as patched:
        patched.setattr(evidence_file, "_good_claim", validated_claim)
        slow, slow_report = encoded_commands(csv_file(records))
    assert len(fast) > 2
    assert fast == slow
    assert fast_report == slow_report
