"""The citizens room's rules, pure: answer deadlines and lateness, a trigger's state from its
window and referral, thresholds, response days, the committee's forward-only statuses and
overdue recommendations, and the pseudonymous resident key."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.gateway.citizens import domain

RULES = domain.PlaceRules(
    answer_days=20, trigger_threshold=3, trigger_window_days=30, committee_response_days=28
)


def test_an_answer_is_due_the_places_days_after_the_meeting_and_flagged_when_late() -> None:
    due = domain.answer_due(date(2026, 10, 1), RULES)
    assert due == date(2026, 10, 21)
    assert domain.answer_lateness(due, date(2026, 10, 21), date(2026, 12, 1)) == "answered"
    assert domain.answer_lateness(due, date(2026, 10, 22), date(2026, 12, 1)) == "late"
    assert domain.answer_lateness(due, None, date(2026, 10, 21)) == "awaiting"
    assert domain.answer_lateness(due, None, date(2026, 10, 22)) == "overdue"


def test_a_trigger_is_open_in_its_window_referred_at_its_threshold_and_expired_after() -> None:
    opened = datetime(2026, 3, 1, 9, tzinfo=UTC)
    closes = domain.trigger_closes_at(opened, RULES)
    assert closes == datetime(2026, 3, 31, 9, tzinfo=UTC)
    assert domain.trigger_state(False, closes, datetime(2026, 3, 31, 8, tzinfo=UTC)) == "open"
    assert domain.trigger_state(False, closes, closes) == "expired"
    assert domain.trigger_state(True, closes, datetime(2027, 1, 1, tzinfo=UTC)) == "referred"
    assert not domain.passes_threshold(2, 3) and domain.passes_threshold(3, 3)
    assert domain.response_due(date(2026, 3, 20), RULES) == date(2026, 4, 17)


def test_an_investigation_only_moves_forward() -> None:
    assert domain.may_move("received", "investigating")
    assert domain.may_move("received", "declined")
    assert not domain.may_move("received", "reported")
    assert domain.may_move("investigating", "reported")
    assert not domain.may_move("reported", "investigating")
    assert not domain.may_move("declined", "investigating")
    assert domain.response_overdue("received", date(2026, 4, 17), date(2026, 4, 18))
    assert not domain.response_overdue("investigating", date(2026, 4, 17), date(2026, 4, 18))


def test_a_recommendation_is_overdue_only_when_open_after_its_day() -> None:
    assert domain.recommendation_overdue(date(2026, 6, 30), None, date(2026, 7, 1))
    assert not domain.recommendation_overdue(date(2026, 6, 30), None, date(2026, 6, 30))
    assert not domain.recommendation_overdue(date(2026, 6, 30), date(2026, 7, 5), date(2026, 8, 1))


def test_a_residents_key_is_stable_per_place_and_does_not_name_them() -> None:
    key = domain.resident_key("GM", "res-1")
    assert key == domain.resident_key("GM", "res-1")
    assert key != domain.resident_key("LPL", "res-1")
    assert key != domain.resident_key("GM", "res-2")
    assert "res-1" not in key and len(key) == 64
