"""Agreement of balances (Whole of Government Accounts counterparty data): what each department
committed to the pot and paid in must match what the place says it received, line by line.
A statement per department, stream and year; the department confirms or disputes each line;
finance staff answer disputes with notes until one resolves it; and the counterparty export for
the annual accounts. Pure: the routes load the figures and answers and hand them here.

Rules, each in one place below:
- A line's figures: committed (settled), received, reserved, paid, recovered, and outstanding
  (committed less received: what the department still owes the pot).
- An answer names the figures it answers by their digest: figures that changed since are
  neither confirmed nor disputed, and the line is unanswered again.
- A dispute needs a note saying what the department's own books say; while one is open on a
  line, the line takes no other answer; a dispute is resolved by a note of finance staff that
  says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.gateway.errors import GatewayError

CATEGORIES = ("committed", "received", "reserved", "paid", "recovered", "outstanding")
CONFIRMED, DISPUTED, UNANSWERED, RESOLVED = "confirmed", "disputed", "unanswered", "resolved"


class AnswerRefused(GatewayError, ValueError):
    """An answer breaks a rule: `field` and `rule` name it, `status` is the HTTP answer."""

    def __init__(self, field: str, rule: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.status = status


@dataclass(frozen=True)
class BalanceLine:
    """One department's stream in one year, as the place's read models hold it."""

    funding_stream_code: str
    committed_pence: int
    received_pence: int
    reserved_pence: int
    paid_pence: int
    recovered_pence: int

    @property
    def outstanding_pence(self) -> int:
        return self.committed_pence - self.received_pence

    def figures(self) -> dict[str, int]:
        return {f"{name}_pence": self.amount(name) for name in CATEGORIES}

    def amount(self, category: str) -> int:
        if category == "outstanding":
            return self.outstanding_pence
        value: int = getattr(self, f"{category}_pence")
        return value

    def digest(self) -> str:
        canonical = json.dumps(
            {"funding_stream_code": self.funding_stream_code, **self.figures()}, sort_keys=True
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def line_state(line: BalanceLine, answers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The line's agreement: the latest answer to its current figures (unanswered without one),
    and any dispute of it still open (whatever figures it disputed)."""
    current = [answer for answer in answers if answer["figures_digest"] == line.digest()]
    open_disputes = [answer for answer in answers if is_open_dispute(answer)]
    latest = current[-1] if current else None
    status = UNANSWERED
    if open_disputes:
        status = DISPUTED
    elif latest is not None and latest["answer"] == CONFIRMED:
        status = CONFIRMED
    return {
        "status": status,
        "answered_by": latest["answered_by"] if latest else None,
        "answered_at": latest["answered_at"].isoformat() if latest else None,
        "open_dispute_id": str(open_disputes[-1]["answer_id"]) if open_disputes else None,
    }


def is_open_dispute(answer: Mapping[str, Any]) -> bool:
    return answer["answer"] == DISPUTED and not answer["resolved"]


def check_answer(
    line: BalanceLine | None,
    stream: str,
    answer: str,
    digest_read: str,
    note: str,
    earlier: Sequence[Mapping[str, Any]],
) -> None:
    """Refuse an answer that breaks a rule of the module's docstring."""
    if line is None:
        raise AnswerRefused(
            "funding_stream_code", "line_exists", f"no line for stream {stream}", 404
        )
    if any(is_open_dispute(previous) for previous in earlier):
        raise AnswerRefused(
            "funding_stream_code",
            "dispute_open",
            f"the line {stream} has an open dispute; finance staff resolve it first",
            409,
        )
    if digest_read != line.digest():
        raise AnswerRefused(
            "figures_digest",
            "figures_as_read",
            f"the line's figures changed since they were read (now {line.digest()}); read the "
            "statement again and answer what it says",
            409,
        )
    if answer == DISPUTED and not note.strip():
        raise AnswerRefused(
            "note", "dispute_explained", "a dispute says what the department's books show"
        )


def check_note(dispute: Mapping[str, Any] | None, dispute_id: str) -> None:
    """A note is written on a dispute that exists and is still open."""
    if dispute is None or dispute["answer"] != DISPUTED:
        raise AnswerRefused("dispute_id", "dispute_exists", f"no dispute {dispute_id}", 404)
    if dispute["resolved"]:
        raise AnswerRefused("dispute_id", "dispute_open", f"dispute {dispute_id} is resolved", 409)


def counterparty_rows(
    body: str,
    lines_by_department: Mapping[str, Sequence[BalanceLine]],
    agreed: Mapping[str, str],
    names: Mapping[str, str],
) -> Iterable[list[Any]]:
    """The counterparty layout for the annual accounts: per department and category, the
    amount over its streams, with whether the department agreed the year's lines."""
    for department in sorted(lines_by_department):
        lines = lines_by_department[department]
        for category in CATEGORIES:
            pence = sum(line.amount(category) for line in lines)
            yield [
                body,
                department,
                names.get(department, ""),
                category,
                pence,
                pounds(pence),
                agreed.get(department, UNANSWERED),
            ]


COUNTERPARTY_HEADER = [
    "Body",
    "Counterparty",
    "Counterparty name",
    "Category",
    "Amount (pence)",
    "Amount (GBP)",
    "Agreement",
]


def department_agreement(states: Sequence[Mapping[str, Any]]) -> str:
    """A department's agreement of the year: disputed if any line is, confirmed if every line
    is, else unanswered."""
    statuses = {state["status"] for state in states}
    if DISPUTED in statuses:
        return DISPUTED
    if statuses == {CONFIRMED}:
        return CONFIRMED
    return UNANSWERED


def pounds(pence: int) -> str:
    """Pounds with two decimals and no thousands separator: a number a spreadsheet reads."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"
