"""The board page's pure rules: who is recused, where sign-off stands, the earmark check."""

from __future__ import annotations

from services.gateway.projections.domain import earmark_check, recused_members, sign_off_state

ALLOCATION = {"allocation_id": "A-1", "recipient_id": "TRUST"}


def interest(member_id: str, *, allocation_id: str | None = None, recipient_id: str | None = None):
    return {"member_id": member_id, "allocation_id": allocation_id, "recipient_id": recipient_id}


def test_before_a_vote_closes_members_with_an_interest_in_it_or_its_recipient_are_recused() -> None:
    interests = [
        interest("M-3", recipient_id="TRUST"),
        interest("M-2", allocation_id="A-1"),
        interest("M-4", recipient_id="OTHER"),
        interest("M-5", allocation_id="A-9"),
    ]
    assert recused_members(None, interests, ALLOCATION) == ["M-2", "M-3"]


def test_once_decided_the_recusals_are_those_the_decision_recorded() -> None:
    decision = {"recused": ["M-9"]}
    assert recused_members(decision, [interest("M-3", recipient_id="TRUST")], ALLOCATION) == ["M-9"]


def test_sign_off_is_unknown_before_approval_then_awaited_or_not_needed() -> None:
    assert sign_off_state(None, None)["state"] is None
    assert sign_off_state(False, None)["state"] == "not_needed"
    assert sign_off_state(True, None)["state"] == "awaiting"


def test_a_refused_sign_off_shows_the_officer_and_reasons() -> None:
    refused = {"state": "refused", "accounting_officer_id": "AO-1", "reasons": "poor value"}
    shown = sign_off_state(True, refused)
    assert (shown["needed"], shown["state"], shown["reasons"]) == (True, "refused", "poor value")
    assert shown["accounting_officer_id"] == "AO-1"


def test_the_earmark_check_fails_with_the_latest_breach_and_ignores_other_rules() -> None:
    refusals = [
        {"rule": "proposer", "message": "not allowed to propose"},
        {"rule": "earmark_minimum_share", "message": "first breach"},
        {"rule": "earmark_excluded_purpose", "message": "latest breach"},
    ]
    assert earmark_check(refusals, True) == {"state": "failed", "message": "latest breach"}
    assert earmark_check(refusals[:1], True) == {"state": "passed", "message": None}
    assert earmark_check([], False) == {"state": "not_applicable", "message": None}
