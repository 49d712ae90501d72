"""The payments notices' approval rules and the returns calendar, with dates written by hand."""

from __future__ import annotations

from datetime import date

import pytest

from services.gateway.returns import calendar, notices


def test_a_notice_is_due_30_days_after_its_period() -> None:
    half = notices.notice_period(notices.COMPLIANCE, "2026-27", "H2")
    quarter = notices.notice_period(notices.OVER_30000, "2026-27", "Q4")
    assert (half.first_day, half.last_day, half.due_on) == (
        date(2026, 10, 1),
        date(2027, 3, 31),
        date(2027, 4, 30),
    )
    assert (quarter.first_day, quarter.due_on) == (date(2027, 1, 1), date(2027, 4, 30))


@pytest.mark.parametrize(
    ("kind", "code", "field"),
    [
        ("payments-later", "H1", "notice"),
        (notices.COMPLIANCE, "Q1", "period"),
        (notices.OVER_30000, "H1", "period"),
    ],
)
def test_a_notice_that_is_not_one_is_refused_naming_the_field(
    kind: str, code: str, field: str
) -> None:
    with pytest.raises(notices.NoticeRefused) as refused:
        notices.notice_period(kind, "2026-27", code)
    assert refused.value.field == field


def test_approval_needs_the_period_ended_the_figures_as_read_and_no_approval_before() -> None:
    half = notices.notice_period(notices.COMPLIANCE, "2026-27", "H1")
    digest = notices.figures_digest({"average_days_to_pay": "25.0"})
    notices.check_approval(half, date(2026, 10, 1), digest, digest, approved_already=False)
    cases = [
        ((date(2026, 9, 30), digest, digest, False), "period_ended"),
        ((date(2026, 10, 1), "0" * 64, digest, False), "figures_as_drafted"),
        ((date(2026, 10, 1), digest, digest, True), "approved_once"),
    ]
    for (today, read, now, done), rule in cases:
        with pytest.raises(notices.NoticeRefused) as refused:
            notices.check_approval(half, today, read, now, done)
        assert refused.value.rule == rule


def test_the_digest_ignores_key_order_but_not_a_figure() -> None:
    assert notices.figures_digest({"a": 1, "b": 2}) == notices.figures_digest({"b": 2, "a": 1})
    assert notices.figures_digest({"a": 1}) != notices.figures_digest({"a": 2})


def test_the_calendar_says_what_is_due_overdue_and_done() -> None:
    approved = [(notices.COMPLIANCE, "H1", date(2026, 10, 20), date(2026, 10, 20))]
    items = calendar.year_calendar("2026-27", date(2026, 11, 15), approved, ["Q2"])
    found = {(item.return_name, item.period): item for item in items}
    transparency_q2 = found[("Transparency Code return", "2026-27-Q2")]
    assert (transparency_q2.due_on, transparency_q2.status) == (date(2026, 10, 31), "done")
    assert transparency_q2.published_on == date(2026, 10, 1)
    compliance_h1 = found[("Payments compliance notice", "2026-27-H1")]
    assert (compliance_h1.status, compliance_h1.approved_on) == ("done", date(2026, 10, 20))
    large_q2 = found[("Notice of payments over £30,000", "2026-27-Q2")]
    assert (large_q2.due_on, large_q2.status) == (date(2026, 10, 30), "overdue")
    assert found[("Partner returns", "2026-27-Q2")].status == "done"
    assert found[("Partner returns", "2026-27-Q1")].status == "overdue"
    assert found[("Transparency Code return", "2026-27-Q3")].status == "period running"
    assert found[("Payments compliance notice", "2026-27-H2")].status == "period running"
    assert len(items) == 14  # 4 + 4 + 4 quarterly, 2 half-yearly
    assert [item.due_on for item in items] == sorted(item.due_on for item in items)
