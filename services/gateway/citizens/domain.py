"""The citizens room's rules, pure: when a panel question's answer is due and whether it came
late, how a scrutiny trigger's state follows from its supporters and its window, and when an
audit committee recommendation is overdue. No I/O here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# The defaults a place has until it sets its own rules (README "Citizens in the loop").
ANSWER_DAYS_DEFAULT = 20
TRIGGER_THRESHOLD_DEFAULT = 100
TRIGGER_WINDOW_DAYS_DEFAULT = 90
COMMITTEE_RESPONSE_DAYS_DEFAULT = 28

# A trigger's states.
OPEN = "open"
REFERRED = "referred"
EXPIRED = "expired"

# Where a referral to the audit committee came from.
REFERRAL_SOURCES = ("public", "councillor", "trigger")
# A referral's investigation, in order; `declined` ends one the committee will not take up.
INVESTIGATION_STATUSES = ("received", "investigating", "reported", "declined")


@dataclass(frozen=True)
class PlaceRules:
    """A place's settings for its panel, triggers and committee."""

    answer_days: int = ANSWER_DAYS_DEFAULT
    trigger_threshold: int = TRIGGER_THRESHOLD_DEFAULT
    trigger_window_days: int = TRIGGER_WINDOW_DAYS_DEFAULT
    committee_response_days: int = COMMITTEE_RESPONSE_DAYS_DEFAULT


def resident_key(place_id: str, principal_id: str) -> str:
    """A resident's pseudonymous key in a place: the same person (principal) always gets the
    same key there, so they count once, and the key does not name them. Keyed by place, so
    keys cannot be joined across places."""
    return hashlib.sha256(
        f"singlepot resident\x00{place_id}\x00{principal_id}".encode()
    ).hexdigest()


# --- The Citizens' Panel ----------------------------------------------------------------------


def answer_due(asked_on: date, rules: PlaceRules) -> date:
    """The day by which the board must publish its answer to a question put on `asked_on`."""
    return asked_on + timedelta(days=rules.answer_days)


def answer_lateness(due_on: date, answered_on: date | None, today: date) -> str:
    """`late` when answered after its due day, `overdue` when still unanswered after it,
    otherwise `answered` or `awaiting`: flagged as Right to Serve claims are."""
    if answered_on is not None:
        return "late" if answered_on > due_on else "answered"
    return "overdue" if today > due_on else "awaiting"


# --- Scrutiny triggers ------------------------------------------------------------------------


def trigger_closes_at(opened_at: datetime, rules: PlaceRules) -> datetime:
    """The end of a trigger's window for gathering supporters."""
    return opened_at + timedelta(days=rules.trigger_window_days)


def trigger_state(referred: bool, closes_at: datetime, now: datetime) -> str:
    """A trigger is referred once it passed its threshold in its window; otherwise it is open
    until its window closes and expired after."""
    if referred:
        return REFERRED
    return OPEN if now < closes_at else EXPIRED


def passes_threshold(supporters: int, threshold: int) -> bool:
    """Whether a trigger with `supporters` has reached the threshold fixed when it opened."""
    return supporters >= threshold


def response_due(referred_on: date, rules: PlaceRules) -> date:
    """The day by which the committee must respond to a referral received on `referred_on`."""
    return referred_on + timedelta(days=rules.committee_response_days)


# --- The Local Public Audit Committee ---------------------------------------------------------

# An investigation moves forward only: received → investigating → reported, or declined.
NEXT_STATUSES = {
    "received": ("investigating", "declined"),
    "investigating": ("reported", "declined"),
    "reported": (),
    "declined": (),
}


def may_move(current: str, wanted: str) -> bool:
    return wanted in NEXT_STATUSES.get(current, ())


def recommendation_overdue(due_on: date, completed_on: date | None, today: date) -> bool:
    """A recommendation is overdue when not completed and its timescale has passed."""
    return completed_on is None and today > due_on


def response_overdue(status: str, respond_by: date, today: date) -> bool:
    """A referral still merely received after its response day has had no response in time:
    taking it up (investigating) or declining it, with reasons, is the committee's response."""
    return status == "received" and today > respond_by


def referral_source(councillor: bool) -> str:
    """A referral from a councillor (a board member or chair of the place) or the public."""
    return "councillor" if councillor else "public"
