"""Agreement of balances' rules, with figures written by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.returns import agreement

WORK = agreement.BalanceLine("WORK", 100_000, 60_000, 40_000, 25_000, 1_000)
AT = datetime(2027, 4, 20, tzinfo=UTC)


def answer(kind: str, digest: str, resolved: bool = False) -> dict[str, object]:
    return {
        "answer_id": "a",
        "answer": kind,
        "figures_digest": digest,
        "resolved": resolved,
        "answered_by": "dwp",
        "answered_at": AT,
    }


def test_outstanding_is_committed_less_received() -> None:
    assert WORK.figures() == {
        "committed_pence": 100_000,
        "received_pence": 60_000,
        "reserved_pence": 40_000,
        "paid_pence": 25_000,
        "recovered_pence": 1_000,
        "outstanding_pence": 40_000,
    }


def test_a_confirmation_holds_only_for_the_figures_it_named() -> None:
    confirmed = [answer("confirmed", WORK.digest())]
    assert agreement.line_state(WORK, confirmed)["status"] == "confirmed"
    changed = agreement.BalanceLine("WORK", 100_000, 70_000, 40_000, 25_000, 1_000)
    assert changed.digest() != WORK.digest()
    assert agreement.line_state(changed, confirmed)["status"] == "unanswered"


def test_an_open_dispute_holds_the_line_until_resolved() -> None:
    disputed = answer("disputed", WORK.digest())
    assert agreement.line_state(WORK, [disputed])["status"] == "disputed"
    with pytest.raises(agreement.AnswerRefused) as refused:
        agreement.check_answer(WORK, "WORK", "confirmed", WORK.digest(), "", [disputed])
    assert refused.value.rule == "dispute_open"
    resolved = answer("disputed", WORK.digest(), resolved=True)
    assert agreement.line_state(WORK, [resolved])["status"] == "unanswered"
    agreement.check_answer(WORK, "WORK", "confirmed", WORK.digest(), "", [resolved])


@pytest.mark.parametrize(
    ("line", "kind", "digest", "note", "rule"),
    [
        (None, "confirmed", WORK.digest(), "", "line_exists"),
        (WORK, "confirmed", "0" * 64, "", "figures_as_read"),
        (WORK, "disputed", WORK.digest(), "  ", "dispute_explained"),
    ],
)
def test_answers_that_break_a_rule_are_refused(line, kind, digest, note, rule) -> None:
    with pytest.raises(agreement.AnswerRefused) as refused:
        agreement.check_answer(line, "WORK", kind, digest, note, [])
    assert refused.value.rule == rule


def test_a_department_agrees_when_every_line_is_confirmed() -> None:
    confirmed, unanswered = {"status": "confirmed"}, {"status": "unanswered"}
    assert agreement.department_agreement([confirmed, confirmed]) == "confirmed"
    assert agreement.department_agreement([confirmed, unanswered]) == "unanswered"
    assert agreement.department_agreement([{"status": "disputed"}, confirmed]) == "disputed"


def test_the_counterparty_rows_sum_each_category_over_the_streams() -> None:
    skills = agreement.BalanceLine("SKILLS", 20_000, 20_000, 0, 0, 0)
    rows = list(
        agreement.counterparty_rows(
            "Greater Manchester CA", {"DWP": [WORK, skills]}, {"DWP": "confirmed"}, {}
        )
    )
    assert rows[0] == ["Greater Manchester CA", "DWP", "", "committed", 120_000, "1200.00",
                       "confirmed"]  # fmt: skip
    assert [row[3:5] for row in rows[1:]] == [
        ["received", 80_000],
        ["reserved", 40_000],
        ["paid", 25_000],
        ["recovered", 1_000],
        ["outstanding", 40_000],
    ]
    assert agreement.pounds(-105) == "-1.05"
