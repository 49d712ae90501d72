"""Grant monitoring's pure rules: a grant's agreed measures and reporting schedule (regular,
one-off or by milestones), where each report stands on a day (due, overdue, received, accepted,
returned for changes), the reminders due that day, what a report must hold, and the two-step
approval of a claim on a grant paid in arrears with the money that remains. No I/O here.

Whether an instalment is held is the allocations service's rule (services/allocations/holds.py);
this room tells it each report's due date and status, and shows the holds it announces.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts import format_pounds
from services.gateway.errors import GatewayError

MEASURES_MAX = 30
REPORTS_MAX = 240
ATTACHMENTS_MAX = 20
ATTACHMENT_LENGTH_MAX = 300
NARRATIVE_LENGTH_MAX = 20_000
NOTE_LENGTH_MAX = 2_000
REPORT_EVERY_MONTHS = (1, 3, 6, 12)
MEASURE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# Report statuses (what the allocations service is told) and, on a day, where a report stands.
DUE, RECEIVED, ACCEPTED, CHANGES_REQUESTED = "due", "received", "accepted", "changes_requested"
OVERDUE = "overdue"
STANDING_WORDS = {
    DUE: "Due",
    OVERDUE: "Overdue",
    RECEIVED: "Received, waiting for review",
    ACCEPTED: "Accepted",
    CHANGES_REQUESTED: "Returned for changes",
}

# Claim statuses: submitted → programme_approved → approved → payment_requested → paid;
# either reviewer may return it (changes_requested), and the recipient sends it again.
CLAIM_SUBMITTED = "submitted"
CLAIM_PROGRAMME_APPROVED = "programme_approved"
CLAIM_APPROVED = "approved"
CLAIM_CHANGES_REQUESTED = "changes_requested"
CLAIM_PAYMENT_REQUESTED = "payment_requested"
CLAIM_PAID = "paid"
CLAIM_REFUSED = "refused"
# Claims whose money is spoken for: not yet paid, not returned, not refused.
CLAIMS_PENDING = frozenset(
    {CLAIM_SUBMITTED, CLAIM_PROGRAMME_APPROVED, CLAIM_APPROVED, CLAIM_PAYMENT_REQUESTED}
)
CLAIM_WORDS = {
    CLAIM_SUBMITTED: "Waiting for programme review",
    CLAIM_PROGRAMME_APPROVED: "Approved by programme staff, waiting for finance",
    CLAIM_APPROVED: "Approved; payment being requested",
    CLAIM_CHANGES_REQUESTED: "Returned for changes",
    CLAIM_PAYMENT_REQUESTED: "Sent to the ledger for payment",
    CLAIM_PAID: "Paid",
    CLAIM_REFUSED: "Refused",
}


class MonitoringRefused(GatewayError, ValueError):
    """A request breaks a monitoring rule; `field` names the field, `rule` the rule, `figures`
    carries the numbers, `status` the HTTP status it deserves."""

    def __init__(
        self,
        field: str,
        rule: str,
        message: str,
        status: int = 422,
        figures: dict[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.status = status
        self.figures = figures or {}


def _require(condition: bool, field: str, rule: str, message: str, status: int = 422) -> None:
    if not condition:
        raise MonitoringRefused(field, rule, message, status)


# --- The plan: measures and the reporting schedule ---------------------------------------------


@dataclass(frozen=True)
class Measure:
    measure_id: str
    description: str
    target: int | None = None
    unit: str = ""


@dataclass(frozen=True)
class ScheduledReport:
    report_number: int
    kind: str  # regular, one_off or milestone
    due_date: date
    milestone: str | None = None


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_measures(measures: list[Measure]) -> list[Measure]:
    _require(
        1 <= len(measures) <= MEASURES_MAX,
        "measures",
        "count",
        f"agree 1 to {MEASURES_MAX} measures (from the mission and plan) for the grant",
    )
    seen: set[str] = set()
    for index, measure in enumerate(measures):
        field = f"measures.{index}.measure_id"
        _require(
            MEASURE_ID.match(measure.measure_id) is not None,
            field,
            "pattern",
            f"{measure.measure_id!r} must be lower case letters, digits, - or _",
        )
        _require(measure.measure_id not in seen, field, "unique", "each measure id once")
        _require(
            bool(measure.description.strip()),
            f"measures.{index}.description",
            "required",
            "say what the measure counts",
        )
        seen.add(measure.measure_id)
    return measures


def schedule_reports(schedule: dict[str, Any]) -> list[ScheduledReport]:
    """The reports a schedule asks for, numbered from 1 in date order. `schedule` is
    {"kind": "regular", "first_due_date", "every_months", "count"}, {"kind": "one_off",
    "due_date"} or {"kind": "milestones", "milestones": [{"name", "due_date"}, ...]}."""
    kind = schedule.get("kind")
    if kind == "regular":
        reports = _regular(schedule)
    elif kind == "one_off":
        reports = [("one_off", _date(schedule, "due_date", "schedule.due_date"), None)]
    elif kind == "milestones":
        reports = _milestones(schedule.get("milestones"))
    else:
        raise MonitoringRefused(
            "schedule.kind", "one_of", "schedule.kind must be regular, one_off or milestones"
        )
    ordered = sorted(reports, key=lambda report: report[1])
    return [
        ScheduledReport(number, kind, due_date, milestone)
        for number, (kind, due_date, milestone) in enumerate(ordered, start=1)
    ]


def _regular(schedule: dict[str, Any]) -> list[tuple[str, date, str | None]]:
    first = _date(schedule, "first_due_date", "schedule.first_due_date")
    every = schedule.get("every_months")
    count = schedule.get("count")
    _require(
        every in REPORT_EVERY_MONTHS,
        "schedule.every_months",
        "one_of",
        f"report every {', '.join(map(str, REPORT_EVERY_MONTHS))} months",
    )
    _require(
        isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= REPORTS_MAX,
        "schedule.count",
        "range",
        f"schedule.count must be a whole number from 1 to {REPORTS_MAX}",
    )
    assert isinstance(every, int) and isinstance(count, int)
    # A schedule that starts at a month's end keeps to month ends (30 June, 30 September,
    # 31 December), as quarterly returns do.
    month_end = first.day == calendar.monthrange(first.year, first.month)[1]
    dates = [add_months(first, every * n) for n in range(count)]
    if month_end:
        dates = [d.replace(day=calendar.monthrange(d.year, d.month)[1]) for d in dates]
    return [("regular", due_date, None) for due_date in dates]


def _milestones(milestones: Any) -> list[tuple[str, date, str | None]]:
    _require(
        isinstance(milestones, list) and 1 <= len(milestones) <= REPORTS_MAX,
        "schedule.milestones",
        "count",
        f"name 1 to {REPORTS_MAX} milestones, each with a name and a due_date",
    )
    found = []
    for index, milestone in enumerate(milestones):
        field = f"schedule.milestones.{index}"
        _require(isinstance(milestone, dict), field, "object", "each milestone is an object")
        name = milestone.get("name")
        _require(
            isinstance(name, str) and 0 < len(name.strip()) <= 200,
            f"{field}.name",
            "required",
            "name the milestone (at most 200 characters)",
        )
        found.append(("milestone", _date(milestone, "due_date", f"{field}.due_date"), name))
    return found


def _date(source: dict[str, Any], key: str, field: str) -> date:
    value = source.get(key)
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _invalid_date(field)
    except ValueError:
        return _invalid_date(field)


def _invalid_date(field: str) -> date:
    raise MonitoringRefused(field, "date", f"{field} must be a date like 2026-06-30")


# --- Where reports stand, and reminders ---------------------------------------------------------


def standing(status: str, due_date: date, as_of: date) -> str:
    """Where a report stands on `as_of`: a report still due after its due date is overdue."""
    if status == DUE and due_date < as_of:
        return OVERDUE
    return status


@dataclass(frozen=True)
class Reminder:
    allocation_id: str
    recipient_id: str
    report_number: int
    due_date: date
    when: str  # "before" or "after"
    days: int

    @property
    def text(self) -> str:
        if self.when == "before":
            return f"Report {self.report_number} is due in {self.days} day(s), on {self.due_date}"
        return f"Report {self.report_number} is {self.days} day(s) overdue (due {self.due_date})"


def reminder(
    report: dict[str, Any], as_of: date, before_days: int, after_days: int
) -> Reminder | None:
    """The reminder a report needs on `as_of`, if any: within `before_days` of its due date,
    or overdue (every `after_days` days from the day after it fell due, starting then)."""
    if report["status"] not in (DUE, CHANGES_REQUESTED):
        return None
    due_date: date = report["due_date"]
    days_left = (due_date - as_of).days
    common = (report["allocation_id"], report["recipient_id"], report["report_number"], due_date)
    if report["status"] == DUE and 0 <= days_left <= before_days:
        return Reminder(*common, "before", days_left)
    days_late = -days_left
    if days_late > 0 and (days_late - 1) % after_days == 0:
        return Reminder(*common, "after", days_late)
    return None


def tally(reports: list[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    """Per recipient: reports due (not yet late), overdue, received (waiting for review),
    returned for changes and accepted, as on `as_of`."""
    rows: dict[str, dict[str, Any]] = {}
    for report in reports:
        row = rows.setdefault(
            report["recipient_id"],
            {"recipient_id": report["recipient_id"], **dict.fromkeys(STANDING_WORDS, 0)},
        )
        row[standing(report["status"], report["due_date"], as_of)] += 1
    return sorted(rows.values(), key=lambda row: row["recipient_id"])


# --- Reports: what a recipient sends, and the review ---------------------------------------------


def check_submission(
    status: str,
    measures: list[Measure],
    figures: dict[str, Any],
    narrative: str,
    attachments: list[str],
) -> None:
    """A report is sent while due or returned; it gives a whole-number figure for each agreed
    measure, a narrative, and its attachments by reference (a document id or URL)."""
    _require(
        status in (DUE, CHANGES_REQUESTED),
        "report_number",
        "submittable",
        f"this report is {STANDING_WORDS.get(status, status).lower()}; only a report that is "
        "due or returned for changes can be sent",
        409,
    )
    known = {measure.measure_id for measure in measures}
    unknown = sorted(set(figures) - known)
    _require(not unknown, "figures", "agreed_measures", f"no agreed measure {', '.join(unknown)}")
    missing = sorted(known - set(figures))
    _require(not missing, "figures", "every_measure", f"give a figure for {', '.join(missing)}")
    for measure_id, value in figures.items():
        _require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            f"figures.{measure_id}",
            "whole_number",
            f"the figure for {measure_id} must be a whole number, 0 or more",
        )
    _require(
        0 < len(narrative.strip()) <= NARRATIVE_LENGTH_MAX,
        "narrative",
        "length",
        f"say how the work went, in 1 to {NARRATIVE_LENGTH_MAX} characters",
    )
    _require(
        len(attachments) <= ATTACHMENTS_MAX
        and all(0 < len(a) <= ATTACHMENT_LENGTH_MAX for a in attachments),
        "attachments",
        "references",
        f"at most {ATTACHMENTS_MAX} attachment references of 1 to {ATTACHMENT_LENGTH_MAX} "
        "characters",
    )


def review_outcome(status: str, decision: str, note: str) -> str:
    """The report's new status after programme staff review it."""
    _require(
        decision in ("accept", "request_changes"),
        "decision",
        "one_of",
        "decision must be accept or request_changes",
    )
    _require(
        status == RECEIVED,
        "report_number",
        "reviewable",
        f"this report is {STANDING_WORDS.get(status, status).lower()}; only a received report "
        "can be reviewed",
        409,
    )
    _require(
        decision == "accept" or bool(note.strip()),
        "note",
        "required",
        "say what needs to change",
    )
    _require(len(note) <= NOTE_LENGTH_MAX, "note", "length", f"at most {NOTE_LENGTH_MAX} chars")
    return ACCEPTED if decision == "accept" else CHANGES_REQUESTED


# --- Claims on grants paid in arrears -----------------------------------------------------------


def remaining_pence(funded_pence: int, paid_pence: int, pending_pence: int) -> int:
    """What a new claim may draw: the reservation less what was paid and what other claims
    still waiting for approval or payment have asked for."""
    return funded_pence - paid_pence - pending_pence


def check_claim(amount_pence: int, evidence: str, remaining: int) -> None:
    """A claim asks for a positive amount with evidence of spend, within what remains."""
    _require(amount_pence > 0, "amount_pence", "positive", "claim more than £0.00")
    _require(
        0 < len(evidence.strip()) <= NARRATIVE_LENGTH_MAX,
        "evidence",
        "required",
        "describe the spend the claim is for, with references to its evidence",
    )
    if amount_pence > remaining:
        raise MonitoringRefused(
            "amount_pence",
            "within_remaining",
            f"the claim of {format_pounds(amount_pence)} is more than the "
            f"{format_pounds(remaining)} that remains of the grant",
            422,
            {"claimed_pence": amount_pence, "remaining_pence": remaining},
        )


def claim_review(status: str, step: str, decision: str, note: str) -> str:
    """A claim's status after a reviewer's decision: programme staff review first, then
    finance; either may return it with a note saying what to change."""
    expected = CLAIM_SUBMITTED if step == "programme" else CLAIM_PROGRAMME_APPROVED
    _require(
        decision in ("approve", "request_changes"),
        "decision",
        "one_of",
        "decision must be approve or request_changes",
    )
    _require(
        status == expected,
        "claim_id",
        "two_step_order",
        f"this claim is {CLAIM_WORDS.get(status, status).lower()}; the {step} review takes a "
        f"claim that is {CLAIM_WORDS[expected].lower()}",
        409,
    )
    _require(
        decision == "approve" or bool(note.strip()),
        "note",
        "required",
        "say what needs to change",
    )
    if decision == "request_changes":
        return CLAIM_CHANGES_REQUESTED
    return CLAIM_PROGRAMME_APPROVED if step == "programme" else CLAIM_APPROVED
