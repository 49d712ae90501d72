"""Unit tests of the streaming evidence-file parser: CSV, JSON Lines and JSON arrays, per-row
errors naming row, field and rule, keyed hashing, and chunking into SubmitEvidence commands."""

import io
import json

import pytest

from contracts.envelope import encode, wrap
from contracts.evidence_file import (
    EvidenceFileError,
    FileReport,
    RowError,
    detect_format,
    evidence_commands,
    file_batch_id,
    file_commands,
    parse_rows,
    participant_hash,
)
from contracts.outcomes import EvidenceClaim, SubmitEvidence

KEY = b"test-key"
HEADER = (
    "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
    "difficulty_segment"
)


def a_row(number: int, metric: str = "JOB", achieved: str = "2026-05-01") -> dict[str, str]:
    return {
        "participant_reference": f"person-{number}",
        "metric_id": metric,
        "achieved_on": achieved,
        "evidence_reference": f"payroll/{number}",
        "referral_date": "2026-01-10",
        "difficulty_segment": "hard" if number % 2 else "easy",
    }


def csv_bytes(*lines: str) -> io.BytesIO:
    return io.BytesIO(("\n".join([HEADER, *lines]) + "\n").encode())


def parsed(stream: io.BytesIO, file_format: str = "csv") -> list:
    return list(parse_rows(stream, file_format, KEY))  # type: ignore[arg-type]


def test_a_good_csv_row_becomes_a_claim_with_a_keyed_hash_and_its_row_number() -> None:
    (claim,) = parsed(csv_bytes("person-1,JOB,2026-05-01,payroll/1,2026-01-10,hard"))
    assert isinstance(claim, EvidenceClaim)
    assert claim.participant_hash == participant_hash("person-1", KEY)
    assert "person-1" not in claim.model_dump_json()
    assert (claim.metric_id, str(claim.achieved_on), claim.row_number) == ("JOB", "2026-05-01", 1)
    assert claim.difficulty_segment == "hard"
    # A claim built without validation must still be one that validation accepts.
    assert EvidenceClaim.model_validate(claim.model_dump()) == claim


def test_bad_rows_are_reported_with_row_field_and_rule_while_good_rows_are_kept() -> None:
    items = parsed(
        csv_bytes(
            "person-1,JOB,2026-05-01,payroll/1,2026-01-10,hard",
            "person-2,JOB,01/05/2026,payroll/2,2026-01-10,easy",
            ",JOB,2026-05-01,,2026-01-10,easy",
            "person-4,JOB,2026-05-01,payroll/4,2026-06-01,easy",
            "person-5,JOB,2026-05-01",
        )
    )
    errors = [str(item) for item in items if isinstance(item, RowError)]
    assert [item.row_number for item in items if isinstance(item, EvidenceClaim)] == [1]
    assert errors == [
        "row 2: achieved_on: must be a date written YYYY-MM-DD",
        "row 3: participant_reference: is required",
        "row 3: evidence_reference: is required",
        "row 4: referral_date: must not be after achieved_on",
        "row 5: columns: has 3 values; the header has 6",
        "row 5: evidence_reference: is required",
        "row 5: referral_date: is required",
        "row 5: difficulty_segment: is required",
    ]


def test_a_csv_with_a_column_beyond_the_schema_is_refused_as_a_whole() -> None:
    stream = io.BytesIO(f"{HEADER},name\nperson-1,JOB,2026-05-01,e,2026-01-10,hard,Ann\n".encode())
    with pytest.raises(EvidenceFileError, match="column 'name' is not allowed"):
        parsed(stream)


def test_a_csv_missing_a_required_column_is_refused_naming_it() -> None:
    stream = io.BytesIO(b"participant_reference,metric_id\nperson-1,JOB\n")
    with pytest.raises(EvidenceFileError, match="lacks the required column.*achieved_on"):
        parsed(stream)


def test_json_lines_are_read_row_by_row_and_broken_lines_reported() -> None:
    lines = [json.dumps(a_row(1)), "{not json", json.dumps(a_row(3) | {"metric_id": 7})]
    items = parsed(io.BytesIO("\n".join(lines).encode()), "jsonl")
    assert isinstance(items[0], EvidenceClaim)
    assert [str(item) for item in items[1:]] == [
        "row 2: json: is not valid JSON (Expecting property name enclosed in double quotes)",
        "row 3: metric_id: must be text",
    ]


def test_a_json_array_is_streamed_in_small_reads_without_losing_records() -> None:
    records = [a_row(number) for number in range(1, 2001)]
    items = parsed(io.BytesIO(json.dumps(records, indent=1).encode()), "json")
    assert [item.row_number for item in items] == list(range(1, 2001))
    assert all(isinstance(item, EvidenceClaim) for item in items)


def test_a_json_array_reports_a_record_that_is_not_an_object_and_an_unknown_field() -> None:
    records = [a_row(1), [1, 2], a_row(3) | {"name": "Ann"}]
    items = parsed(io.BytesIO(json.dumps(records).encode()), "json")
    assert [str(item) for item in items[1:]] == [
        "row 2: (record): must be an object of field names to values",
        "row 3: name: is not an allowed field",
    ]


@pytest.mark.parametrize("text", ['{"a": 1}', "[", '[{"a": 1} {"b": 2}]'])
def test_a_json_file_that_is_not_one_well_formed_array_is_refused(text: str) -> None:
    with pytest.raises(EvidenceFileError):
        parsed(io.BytesIO(text.encode()), "json")


def test_good_rows_are_chunked_into_commands_and_only_the_last_carries_the_count() -> None:
    rows = [json.dumps(a_row(number)) for number in range(1, 8)] + ["broken"]
    report = FileReport()
    commands = list(
        evidence_commands(
            parse_rows(io.BytesIO("\n".join(rows).encode()), "jsonl", KEY),
            place_id="GM",
            contract_id="C-1",
            provider_id="P-1",
            batch_id="F-1",
            report=report,
            claims_per_command_max=3,
        )
    )
    assert [len(command.claims) for command in commands] == [3, 3, 1]
    assert [(c.chunk_index, c.chunk_count) for c in commands] == [(0, None), (1, None), (2, 3)]
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (8, 7, 1)
    assert report.commands == 3


def test_a_file_that_fills_its_last_chunk_exactly_still_marks_the_last_command() -> None:
    rows = "\n".join(json.dumps(a_row(number)) for number in range(1, 7))
    commands = list(
        evidence_commands(
            parse_rows(io.BytesIO(rows.encode()), "jsonl", KEY),
            place_id="GM",
            contract_id="C-1",
            provider_id="P-1",
            batch_id="F-1",
            claims_per_command_max=3,
        )
    )
    assert [(c.chunk_index, c.chunk_count) for c in commands] == [(0, None), (1, 2)]


def test_a_full_command_stays_well_under_a_megabyte_on_the_wire() -> None:
    long_row = a_row(1) | {"evidence_reference": "payroll/" + "x" * 60}
    rows = "\n".join(json.dumps(long_row | {"participant_reference": f"p{n}"}) for n in range(2000))
    (command,) = evidence_commands(
        parse_rows(io.BytesIO(rows.encode()), "jsonl", KEY),
        place_id="GM",
        contract_id="C-1",
        provider_id="P-1",
        batch_id="F-1",
    )
    assert len(command.claims) == 2000
    assert len(encode(wrap(command, producer="test"))) < 800_000
    assert SubmitEvidence.model_validate(command.model_dump()) == command


def test_the_same_file_gets_the_same_batch_id_and_another_file_another() -> None:
    first = csv_bytes("person-1,JOB,2026-05-01,payroll/1,2026-01-10,hard")
    again = csv_bytes("person-1,JOB,2026-05-01,payroll/1,2026-01-10,hard")
    other = csv_bytes("person-2,JOB,2026-05-01,payroll/1,2026-01-10,hard")
    assert file_batch_id(first) == file_batch_id(again) != file_batch_id(other)
    assert first.tell() == 0  # rewound, ready to parse


def test_the_format_is_named_by_the_extension() -> None:
    assert [detect_format(n) for n in ("a.CSV", "b.jsonl", "c.ndjson", "d.json")] == [
        "csv",
        "jsonl",
        "jsonl",
        "json",
    ]
    with pytest.raises(EvidenceFileError, match="extension must be"):
        detect_format("evidence.xlsx")


def test_an_uploaded_file_becomes_commands_named_by_its_content_in_one_call() -> None:
    content = csv_bytes(
        "person-1,JOB,2026-05-01,payroll/1,2026-01-10,hard",
        "person-2,JOB,2026-13-01,payroll/2,2026-01-10,hard",
    )
    report = FileReport()
    (command,) = file_commands(
        content,
        "march.csv",
        place_id="GM",
        contract_id="C-1",
        provider_id="P-1",
        pseudonym_key=KEY,
        report=report,
    )
    assert command.batch_id == file_batch_id(io.BytesIO(content.getvalue()))
    assert [claim.row_number for claim in command.claims] == [1]
    assert [str(error) for error in report.errors] == [
        "row 2: achieved_on: must be a date written YYYY-MM-DD"
    ]
