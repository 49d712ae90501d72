"""Grant monitoring's pure rules: schedules, where reports stand, reminders, the review of a
report, and the two-step approval of a claim within the money that remains."""

from __future__ import annotations

from datetime import date

import pytest

from services.gateway.monitoring import domain
from services.gateway.monitoring.domain import Measure, MonitoringRefused

MEASURES = [Measure("families_supported", "Families supported", 400)]


def test_a_quarterly_schedule_falls_due_every_three_months_keeping_month_ends() -> None:
    reports = domain.schedule_reports(
        {"kind": "regular", "first_due_date": "2026-08-31", "every_months": 3, "count": 3}
    )
    assert [(r.report_number, r.due_date) for r in reports] == [
        (1, date(2026, 8, 31)),
        (2, date(2026, 11, 30)),
        (3, date(2027, 2, 28)),
    ]
    from_june = domain.schedule_reports(
        {"kind": "regular", "first_due_date": "2026-06-30", "every_months": 3, "count": 3}
    )
    assert [r.due_date.isoformat() for r in from_june] == ["2026-06-30", "2026-09-30", "2026-12-31"]
    mid_month = domain.schedule_reports(
        {"kind": "regular", "first_due_date": "2026-01-15", "every_months": 6, "count": 2}
    )
    assert [r.due_date.isoformat() for r in mid_month] == ["2026-01-15", "2026-07-15"]


def test_milestones_are_numbered_in_date_order_and_keep_their_names() -> None:
    reports = domain.schedule_reports(
        {
            "kind": "milestones",
            "milestones": [
                {"name": "Second hub open", "due_date": "2027-01-15"},
                {"name": "First hub open", "due_date": "2026-09-01"},
            ],
        }
    )
    assert [(r.report_number, r.milestone) for r in reports] == [
        (1, "First hub open"),
        (2, "Second hub open"),
    ]


def test_a_schedule_of_another_kind_is_refused_naming_the_field() -> None:
    with pytest.raises(MonitoringRefused) as refused:
        domain.schedule_reports({"kind": "whenever"})
    assert (refused.value.field, refused.value.rule) == ("schedule.kind", "one_of")


def test_a_report_still_due_after_its_due_date_is_overdue() -> None:
    assert domain.standing("due", date(2026, 9, 30), date(2026, 9, 30)) == "due"
    assert domain.standing("due", date(2026, 9, 30), date(2026, 10, 1)) == "overdue"
    assert domain.standing("received", date(2026, 9, 30), date(2026, 10, 1)) == "received"


def test_reminders_come_before_the_due_date_and_then_every_week_while_overdue() -> None:
    report = {
        "allocation_id": "G-1",
        "recipient_id": "PROV-1",
        "report_number": 2,
        "due_date": date(2026, 9, 30),
        "status": "due",
    }

    def remind(day: date) -> str | None:
        found = domain.reminder(report, day, before_days=14, after_days=7)
        return found.text if found else None

    assert remind(date(2026, 9, 15)) is None
    assert remind(date(2026, 9, 16)) == "Report 2 is due in 14 day(s), on 2026-09-30"
    assert remind(date(2026, 10, 1)) == "Report 2 is 1 day(s) overdue (due 2026-09-30)"
    assert remind(date(2026, 10, 2)) is None
    assert remind(date(2026, 10, 8)) == "Report 2 is 8 day(s) overdue (due 2026-09-30)"
    assert domain.reminder({**report, "status": "received"}, date(2026, 10, 8), 14, 7) is None


def test_the_tally_counts_each_recipient_s_reports_by_where_they_stand() -> None:
    def report(recipient: str, status: str, due: date) -> dict[str, object]:
        return {"recipient_id": recipient, "status": status, "due_date": due}

    rows = domain.tally(
        [
            report("B", "due", date(2026, 9, 30)),
            report("A", "due", date(2026, 9, 30)),
            report("A", "due", date(2026, 12, 31)),
            report("A", "received", date(2026, 6, 30)),
        ],
        date(2026, 10, 1),
    )
    assert [(r["recipient_id"], r["overdue"], r["due"], r["received"]) for r in rows] == [
        ("A", 1, 1, 1),
        ("B", 1, 0, 0),
    ]


def test_a_report_needs_a_figure_for_every_agreed_measure_and_nothing_else() -> None:
    with pytest.raises(MonitoringRefused) as missing:
        domain.check_submission("due", MEASURES, {}, "went well", [])
    assert missing.value.rule == "every_measure"
    with pytest.raises(MonitoringRefused) as unknown:
        domain.check_submission(
            "due", MEASURES, {"families_supported": 1, "smiles": 3}, "went well", []
        )
    assert unknown.value.rule == "agreed_measures"
    domain.check_submission("due", MEASURES, {"families_supported": 120}, "went well", ["d-1"])


def test_an_accepted_report_cannot_be_sent_again() -> None:
    with pytest.raises(MonitoringRefused) as refused:
        domain.check_submission("accepted", MEASURES, {"families_supported": 1}, "again", [])
    assert (refused.value.rule, refused.value.status) == ("submittable", 409)


def test_returning_a_report_needs_a_note_and_only_a_received_report_is_reviewed() -> None:
    assert domain.review_outcome("received", "accept", "") == "accepted"
    assert domain.review_outcome("received", "request_changes", "Add dates") == (
        "changes_requested"
    )
    with pytest.raises(MonitoringRefused):
        domain.review_outcome("received", "request_changes", " ")
    with pytest.raises(MonitoringRefused):
        domain.review_outcome("due", "accept", "")


def test_a_claim_is_approved_by_programme_staff_then_by_finance() -> None:
    programme = domain.claim_review("submitted", "programme", "approve", "")
    assert programme == "programme_approved"
    assert domain.claim_review(programme, "finance", "approve", "") == "approved"
    with pytest.raises(MonitoringRefused) as out_of_order:
        domain.claim_review("submitted", "finance", "approve", "")
    assert out_of_order.value.rule == "two_step_order"
    assert domain.claim_review(programme, "finance", "request_changes", "Receipts?") == (
        "changes_requested"
    )


def test_a_claim_beyond_what_remains_is_refused_with_the_figures() -> None:
    remaining = domain.remaining_pence(60_000_00, 20_000_00, 15_000_00)
    assert remaining == 25_000_00
    domain.check_claim(25_000_00, "invoices INV-1 to INV-9", remaining)
    with pytest.raises(MonitoringRefused) as refused:
        domain.check_claim(25_000_01, "invoices INV-1 to INV-9", remaining)
    assert refused.value.figures == {"claimed_pence": 25_000_01, "remaining_pence": 25_000_00}
    assert str(refused.value) == (
        "the claim of £25,000.01 is more than the £25,000.00 that remains of the grant"
    )
