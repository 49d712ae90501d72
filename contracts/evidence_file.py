"""Streams an evidence file (CSV, JSON Lines or a JSON array) row by row into validated claims
and per-row errors, and chunks the good rows into SubmitEvidence commands.

Pure and synchronous, so that the gateway (which receives uploads) and the benchmark use the
same code and the outcomes service never has to see a file. Participant references are
replaced by a keyed hash (HMAC-SHA256) here, at the edge: names never travel any further.
Nothing reads the whole file: memory stays bounded by one chunk of claims.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any, Literal

from contracts.json_limits import nesting_exceeds
from contracts.outcomes import EvidenceClaim, SubmitEvidence
from contracts.trusted import trusted
from contracts.values import IDENTIFIER_LENGTH_MAX, TEXT_LENGTH_MAX

FileFormat = Literal["csv", "jsonl", "json"]

# At most this many claims per SubmitEvidence command. With every optional field filled a
# claim is about 260 bytes of JSON, so a full command stays near 520 kB, well under Kafka's
# default 1 MB message limit, while a million-row file still needs only 500 commands.
CLAIMS_PER_COMMAND_MAX = 2000
# A JSON record larger than this cannot be a claim; it stops the file rather than the memory.
# It is also the longest line of a JSON Lines file (in characters).
JSON_RECORD_BYTES_MAX = 64 * 1024
# A record is one flat object of text fields: anything nested deeper cannot be a claim, and
# Python's JSON parser fails (RecursionError) near a thousand levels, so depth is checked first.
JSON_RECORD_DEPTH_MAX = 4
# The longest CSV field read (Python's csv module's own limit, which it enforces per process);
# no evidence field may be longer than TEXT_LENGTH_MAX anyway.
CSV_FIELD_CHARACTERS_MAX = csv.field_size_limit()
READ_SIZE_BYTES = 1 << 16

REQUIRED_FIELDS = (
    "participant_reference",
    "metric_id",
    "achieved_on",
    "evidence_reference",
    "referral_date",
    "difficulty_segment",
)
ALLOWED_FIELDS = frozenset(REQUIRED_FIELDS)


@dataclass(frozen=True)
class RowError:
    """Why one row was not accepted: its number (1 = the first record), the field, the rule."""

    row_number: int
    field: str
    rule: str

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.field}: {self.rule}"


@dataclass
class FileReport:
    """What a file held: counts of good and bad rows, and every bad row's error."""

    rows_read: int = 0
    rows_accepted: int = 0
    errors: list[RowError] = field(default_factory=list)
    commands: int = 0

    @property
    def rows_rejected(self) -> int:
        return len({error.row_number for error in self.errors})


# A JSON file may hold a lone surrogate ("\ud800"): text UTF-8 cannot encode, refused per row.
LONE_SURROGATE_RULE = "must be Unicode text (it holds a lone surrogate, which UTF-8 cannot encode)"


class EvidenceFileError(ValueError):
    """The file as a whole cannot be read (wrong format, forbidden column, broken JSON); `rule`
    names the rule it breaks for the problem document."""

    def __init__(self, message: str, rule: str = "format") -> None:
        super().__init__(message)
        self.rule = rule


def participant_hash(reference: str, pseudonym_key: bytes) -> str:
    """A keyed SHA-256 of a participant reference: one place-wide key makes duplicates across
    providers visible while the reference itself is never stored."""
    # hmac.digest is OpenSSL's one-shot HMAC: the same digest as hmac.new(...).hexdigest()
    # without building an HMAC object per row.
    return hmac.digest(pseudonym_key, reference.encode("utf-8"), "sha256").hex()


def file_batch_id(stream: IO[bytes], prefix: str = "F-") -> str:
    """A batch id from the file's bytes, so a resubmitted file names the same batch."""
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(READ_SIZE_BYTES), b""):
        digest.update(block)
    stream.seek(0)
    return f"{prefix}{digest.hexdigest()[:40]}"


def detect_format(filename: str) -> FileFormat:
    """The format named by a file's extension."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lowered.endswith(".json"):
        return "json"
    raise EvidenceFileError(
        f"file {filename!r}: the extension must be .csv, .jsonl, .ndjson or .json"
    )


def parse_rows(
    stream: IO[bytes], file_format: FileFormat, pseudonym_key: bytes
) -> Iterator[EvidenceClaim | RowError]:
    """Every record of the file in order: a validated claim, or one error per broken field."""
    records = _records(stream, file_format)
    for row_number, record in enumerate(records, start=1):
        # Nearly every row is good: its claim is made here, without a generator per row.
        claim = _good_claim(row_number, record, pseudonym_key) if type(record) is dict else None
        if claim is not None:
            yield claim
        else:
            yield from _validated(row_number, record, pseudonym_key)


def refuse_unknown_metrics(
    rows: Iterable[EvidenceClaim | RowError], metric_ids: frozenset[str], contract_id: str
) -> Iterator[EvidenceClaim | RowError]:
    """The rows, with a claim of a metric the contract does not price turned into its row's
    error (field metric_id), like any other row error, instead of a claim refused later."""
    for item in rows:
        if isinstance(item, EvidenceClaim) and item.metric_id not in metric_ids:
            known = ", ".join(sorted(metric_ids)) or "none"
            rule = f"metric {item.metric_id} is not priced in contract {contract_id} ({known})"
            yield RowError(item.row_number or 0, "metric_id", rule)
            continue
        yield item


def evidence_commands(
    rows: Iterable[EvidenceClaim | RowError],
    *,
    place_id: str,
    contract_id: str,
    provider_id: str,
    batch_id: str,
    report: FileReport | None = None,
    claims_per_command_max: int = CLAIMS_PER_COMMAND_MAX,
) -> Iterator[SubmitEvidence]:
    """Chunk the good rows into SubmitEvidence commands sharing batch_id; errors go to report.

    One chunk is held back until the next is full, so the last command knows it is the last
    and carries chunk_count.
    """
    report = report if report is not None else FileReport()
    pending: list[EvidenceClaim] | None = None
    current: list[EvidenceClaim] = []
    chunk_index = 0
    last_row = 0
    for item in rows:
        if isinstance(item, RowError):
            report.errors.append(item)
            if item.row_number != last_row:
                report.rows_read += 1
                last_row = item.row_number
            continue
        report.rows_read += 1
        report.rows_accepted += 1
        last_row = item.row_number or last_row
        current.append(item)
        if len(current) == claims_per_command_max:
            if pending is not None:
                yield _command(
                    pending, chunk_index, None, place_id, contract_id, provider_id, batch_id
                )
                chunk_index += 1
                report.commands += 1
            pending, current = current, []
    chunks = [chunk for chunk in (pending, current) if chunk]
    for position, chunk in enumerate(chunks):
        is_last = position == len(chunks) - 1
        count = chunk_index + 1 if is_last else None
        yield _command(chunk, chunk_index, count, place_id, contract_id, provider_id, batch_id)
        chunk_index += 1
        report.commands += 1


def file_commands(
    stream: IO[bytes],
    filename: str,
    *,
    place_id: str,
    contract_id: str,
    provider_id: str,
    pseudonym_key: bytes,
    report: FileReport,
    claims_per_command_max: int = CLAIMS_PER_COMMAND_MAX,
) -> Iterator[SubmitEvidence]:
    """An uploaded file, start to end: its format from its name, its batch id from its bytes
    (so a resubmission names the same batch), and its good rows as commands; bad rows land in
    `report`. Raises EvidenceFileError when the file as a whole cannot be read.

    The one call the gateway (and the benchmark) needs; the stream must be seekable.
    """
    file_format = detect_format(filename)
    batch_id = file_batch_id(stream)
    yield from evidence_commands(
        parse_rows(stream, file_format, pseudonym_key),
        place_id=place_id,
        contract_id=contract_id,
        provider_id=provider_id,
        batch_id=batch_id,
        report=report,
        claims_per_command_max=claims_per_command_max,
    )


def _command(
    claims: list[EvidenceClaim],
    chunk_index: int,
    chunk_count: int | None,
    place_id: str,
    contract_id: str,
    provider_id: str,
    batch_id: str,
) -> SubmitEvidence:
    return SubmitEvidence(
        place_id=place_id,
        contract_id=contract_id,
        provider_id=provider_id,
        batch_id=batch_id,
        claims=tuple(claims),
        chunk_index=chunk_index,
        chunk_count=chunk_count,
    )


# --- Reading records --------------------------------------------------------------------------


def _records(stream: IO[bytes], file_format: FileFormat) -> Iterator[Any]:
    if file_format == "csv":
        return _csv_records(stream)
    if file_format == "jsonl":
        return _jsonl_records(stream)
    return _json_array_records(stream)


def _csv_records(stream: IO[bytes]) -> Iterator[dict[str, str]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        columns = [name.strip() for name in header]
        _check_columns(columns)
        for values in _csv_rows(reader):
            if not values:
                continue  # a blank line is not a record
            record = dict(zip(columns, values, strict=False))
            if len(values) != len(columns):
                record["__columns__"] = f"has {len(values)} values; the header has {len(columns)}"
            yield record
    finally:
        text.detach()  # the caller's stream stays open: it is theirs to close


def _csv_rows(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a field over the csv module's limit stops the file with a named rule
    (the reader cannot find the next row after it)."""
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise EvidenceFileError(
                f"line {reader.line_num}: a field is longer than the "
                f"{CSV_FIELD_CHARACTERS_MAX} characters a CSV field may have ({error})",
                rule="field_length_max",
            ) from None
        yield values


_LINE_TOO_LONG = f"is longer than the {JSON_RECORD_BYTES_MAX} characters a line may have"
_NESTED_TOO_DEEP = f"nests deeper than {JSON_RECORD_DEPTH_MAX} levels; a record is one flat object"


def _jsonl_records(stream: IO[bytes]) -> Iterator[Any]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig")
    try:
        for line in _bounded_lines(text, JSON_RECORD_BYTES_MAX):
            if line is None:
                yield {"__json__": _LINE_TOO_LONG}
            elif not line.strip():
                continue
            elif nesting_exceeds(line, JSON_RECORD_DEPTH_MAX):
                yield {"__json__": _NESTED_TOO_DEEP}
            else:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    yield {"__json__": f"is not valid JSON ({error.msg})"}
    finally:
        text.detach()


def _bounded_lines(text: IO[str], length_max: int) -> Iterator[str | None]:
    """Each line of `text`, or None for a line longer than `length_max` characters, whose rest
    is skipped a block at a time so that no long line is ever held whole."""
    while line := text.readline(length_max + 1):
        if len(line) <= length_max or line.endswith("\n"):
            yield line
            continue
        while (rest := text.readline(READ_SIZE_BYTES)) and not rest.endswith("\n"):
            pass
        yield None


def _json_array_records(stream: IO[bytes]) -> Iterator[Any]:
    """The elements of a top-level JSON array, decoded one at a time from a rolling buffer."""
    decoder = json.JSONDecoder()
    chunks = codecs.getincrementaldecoder("utf-8-sig")()
    buffer, position, at_end = "", 0, False
    expecting = "["

    def fill() -> bool:
        nonlocal buffer, position
        block = stream.read(READ_SIZE_BYTES)
        buffer = buffer[position:] + chunks.decode(block, final=not block)
        position = 0
        return bool(block)

    while True:
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n":
                position += 1
            if position < len(buffer) or at_end:
                break
            at_end = not fill()
        if position >= len(buffer):
            raise EvidenceFileError("the JSON array is not closed with ]")
        character = buffer[position]
        if expecting == "[":
            if character != "[":
                raise EvidenceFileError("a .json evidence file must hold one JSON array")
            position += 1
            expecting = "value"
            continue
        if character == "]" and expecting in ("value_or_end", "separator_or_end", "value"):
            return
        if expecting == "separator_or_end":
            if character != ",":
                raise EvidenceFileError(f"expected , or ] between records, found {character!r}")
            position += 1
            expecting = "value"
            continue
        try:
            value, end = decoder.raw_decode(buffer, position)
        except RecursionError:
            raise EvidenceFileError(
                f"a record of the JSON array {_NESTED_TOO_DEEP}", rule="depth_max"
            ) from None
        except json.JSONDecodeError:
            if at_end or len(buffer) - position > JSON_RECORD_BYTES_MAX:
                raise EvidenceFileError(
                    "a record of the JSON array is not valid JSON; the file cannot be read past it"
                ) from None
            at_end = not fill()
            continue
        if end == len(buffer) and not at_end:
            # A number may continue in the next block: read on before trusting the value.
            at_end = not fill()
            continue
        position = end
        expecting = "separator_or_end"
        yield value


def _check_columns(columns: list[str]) -> None:
    extra = [name for name in columns if name not in ALLOWED_FIELDS]
    if extra:
        raise EvidenceFileError(
            f"column {extra[0]!r} is not allowed: evidence holds only "
            f"{', '.join(REQUIRED_FIELDS)} (individual data is kept to the minimum)"
        )
    missing = [name for name in REQUIRED_FIELDS if name not in columns]
    if missing:
        raise EvidenceFileError(f"the header lacks the required column(s) {', '.join(missing)}")


# --- Validating one record --------------------------------------------------------------------


def _validated(
    row_number: int, record: Any, pseudonym_key: bytes
) -> Iterator[EvidenceClaim | RowError]:
    if not isinstance(record, dict):
        yield RowError(row_number, "(record)", "must be an object of field names to values")
        return
    if "__json__" in record:
        yield RowError(row_number, "json", record["__json__"])
        return
    claim = _good_claim(row_number, record, pseudonym_key)
    if claim is not None:
        yield claim
        return
    errors = (
        [RowError(row_number, "columns", record["__columns__"])] if "__columns__" in record else []
    )
    extra = sorted(
        str(name)
        for name in record
        if name not in ALLOWED_FIELDS and name not in ("__json__", "__columns__")
    )
    errors += [RowError(row_number, name, "is not an allowed field") for name in extra]
    values: dict[str, Any] = {}
    for name in REQUIRED_FIELDS:
        value, rule = _field(name, record.get(name))
        if rule is not None:
            errors.append(RowError(row_number, name, rule))
        values[name] = value
    if not errors and values["referral_date"] > values["achieved_on"]:
        errors.append(RowError(row_number, "referral_date", "must not be after achieved_on"))
    if not errors:
        # A row the fast path refused must break a rule; say which plainly if it slipped by.
        errors.append(RowError(row_number, "(record)", "does not fit the evidence schema"))
    yield from errors


def _good_claim(
    row_number: int, record: dict[str, Any], pseudonym_key: bytes
) -> EvidenceClaim | None:
    """The claim of a row that breaks no rule; None for any other row, which `_validated` then
    examines field by field to say what is wrong.

    This is the path nearly every row of a million-row file takes, so it checks EvidenceClaim's
    rules itself, in plain Python, and builds the claim without validating it again (pydantic
    per row was the parser's largest cost). It accepts exactly the rows that validating the
    model accepts: tests/unit/outcomes/test_outcomes_evidence_file_fast_path.py compares the two
    on rows built to break each rule.
    """
    if len(record) != len(REQUIRED_FIELDS) or "__columns__" in record:
        return None
    try:
        reference = record["participant_reference"].strip()
        achieved_text = record["achieved_on"].strip()
        referral_text = record["referral_date"].strip()
    except (KeyError, AttributeError):
        return None
    if not 0 < len(reference) <= IDENTIFIER_LENGTH_MAX or not (
        _looks_like_a_date(achieved_text) and _looks_like_a_date(referral_text)
    ):
        return None
    if not _is_unicode_text(reference):
        return None  # `_field` names the rule it breaks
    hashed = participant_hash(reference, pseudonym_key)
    try:
        metric_id = record["metric_id"].strip()
        evidence_reference = record["evidence_reference"].strip()
        segment = record["difficulty_segment"].strip()
        achieved_on = date.fromisoformat(achieved_text)
        referral_date = date.fromisoformat(referral_text)
    except (KeyError, AttributeError, ValueError):
        return None
    if not (
        0 < len(metric_id) <= IDENTIFIER_LENGTH_MAX
        and 0 < len(segment) <= IDENTIFIER_LENGTH_MAX
        and 0 < len(evidence_reference) <= TEXT_LENGTH_MAX
        and referral_date <= achieved_on
        and _is_unicode_text(metric_id, evidence_reference, segment)
    ):
        return None
    return trusted(
        EvidenceClaim,
        {
            "participant_hash": hashed,
            "metric_id": metric_id,
            "achieved_on": achieved_on,
            "evidence_reference": evidence_reference,
            "referral_date": referral_date,
            "difficulty_segment": segment,
            "row_number": row_number,
        },
    )


def _is_unicode_text(*values: str) -> bool:
    """Whether every value is text pydantic takes as a string: one that UTF-8 can encode (a
    JSON file may hold a lone surrogate, "\\ud800", which pydantic refuses)."""
    for value in values:
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _looks_like_a_date(value: str) -> bool:
    # pydantic also takes other spellings of a date; the file format allows only YYYY-MM-DD.
    return len(value) == 10 and value[4] == "-" and value[7] == "-"


_LENGTH_MAX = {
    "participant_reference": IDENTIFIER_LENGTH_MAX,
    "metric_id": IDENTIFIER_LENGTH_MAX,
    "evidence_reference": TEXT_LENGTH_MAX,
    "difficulty_segment": IDENTIFIER_LENGTH_MAX,
}


def _field(name: str, raw: Any) -> tuple[Any, str | None]:
    """The field's value and None, or None and the rule it breaks."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, "is required"
    if not isinstance(raw, str):
        return None, "must be text"
    value = raw.strip()
    if not _is_unicode_text(value):
        return None, LONE_SURROGATE_RULE
    if name in ("achieved_on", "referral_date"):
        try:
            if _looks_like_a_date(value):
                return date.fromisoformat(value), None
        except ValueError:
            pass
        return None, "must be a date written YYYY-MM-DD"
    if len(value) > _LENGTH_MAX[name]:
        return None, f"must be at most {_LENGTH_MAX[name]} characters"
    return value, None
