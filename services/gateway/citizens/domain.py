"""The citizens room's rules, pure: when a panel question's answer is due and whether it came
late, how a scrutiny trigger's state follows from its supporters and its window, and when an
audit committee recommendation is overdue. No I/O here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

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


# --- Participatory budgeting rounds -----------------------------------------------------------

# A round's phases, from its published dates (each date inclusive).
UPCOMING = "upcoming"  # before proposals open
PROPOSING = "proposing"  # proposals open .. proposals close
MODERATING = "moderating"  # after proposals close, before voting opens
VOTING = "voting"  # voting open .. voting close
CLOSED = "closed"  # after voting closes, until counted
COUNTED = "counted"

# A proposal's moderation.
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


@dataclass(frozen=True)
class RoundDates:
    proposals_open_on: date
    proposals_close_on: date
    voting_open_on: date
    voting_close_on: date


def dates_problem(dates: RoundDates) -> str | None:
    """Why a round's dates are out of order, or None: proposals come before voting."""
    ordered = (
        dates.proposals_open_on <= dates.proposals_close_on < dates.voting_open_on
        and dates.voting_open_on <= dates.voting_close_on
    )
    if ordered:
        return None
    return (
        "dates must run proposals_open_on ≤ proposals_close_on < voting_open_on ≤ voting_close_on"
    )


def round_phase(dates: RoundDates, counted: bool, today: date) -> str:
    """Where a round is on `today`: its dates decide, and counting ends it."""
    if counted:
        return COUNTED
    if today < dates.proposals_open_on:
        return UPCOMING
    if today <= dates.proposals_close_on:
        return PROPOSING
    if today < dates.voting_open_on:
        return MODERATING
    if today <= dates.voting_close_on:
        return VOTING
    return CLOSED


def may_moderate(phase: str) -> bool:
    """Proposals are moderated until voting opens; never while residents vote on them."""
    return phase in (PROPOSING, MODERATING)


def proposal_problem(
    area: str,
    purpose: str,
    cost_pence: int,
    eligible_areas: tuple[str, ...],
    eligible_purposes: tuple[str, ...],
    budget_pence: int,
) -> tuple[str, str, str] | None:
    """The (field, rule, message) a proposal breaks against its round, or None."""
    if area not in eligible_areas:
        return "area", "eligible_area", f"must be one of the round's areas: {eligible_areas}"
    if purpose not in eligible_purposes:
        return (
            "purpose",
            "eligible_purpose",
            f"must be one of the round's purposes: {eligible_purposes}",
        )
    if cost_pence > budget_pence:
        return "cost_pence", "within_budget", f"must be at most the round's budget ({budget_pence})"
    return None


def ballot_problem(
    chosen_costs_pence: dict[str, int | None], budget_pence: int
) -> tuple[str, str] | None:
    """The (rule, message) a ballot breaks, or None. Approval voting within the budget: a
    ballot approves one or more accepted proposals of the round, each once, whose costs add
    up to no more than the budget (a resident cannot approve more than the round can fund)."""
    unknown = sorted(key for key, cost in chosen_costs_pence.items() if cost is None)
    if unknown:
        return "accepted_proposal", f"names no accepted proposal of the round: {unknown}"
    total_pence = sum(cost or 0 for cost in chosen_costs_pence.values())
    if total_pence > budget_pence:
        return (
            "within_budget",
            f"the approved proposals cost {total_pence} pence, more than the budget of "
            f"{budget_pence} pence",
        )
    return None


@dataclass(frozen=True)
class Tallied:
    """An accepted proposal with its published vote total: all the count needs."""

    proposal_id: str
    cost_pence: int
    votes: int


@dataclass(frozen=True)
class Count:
    """The result: winners in the order funded, those that did not fit, and the money."""

    winners: tuple[Tallied, ...]
    not_funded: tuple[Tallied, ...]
    funded_pence: int
    unspent_pence: int


def count_order(tallied: Tallied) -> tuple[int, int, str]:
    """The count's order: most votes first; on equal votes the cheaper first (it leaves more
    for the others); on equal votes and cost, the smaller proposal id (a published UUID)."""
    return -tallied.votes, tallied.cost_pence, tallied.proposal_id


def count(budget_pence: int, proposals: list[Tallied]) -> Count:
    """Greedy by votes within the budget: take accepted proposals in `count_order` and fund
    each whose cost fits in what is left; one that does not fit is passed over and the count
    goes on to the next (a cheaper one may still fit). A proposal with no votes is never
    funded. Anyone can recount from the published totals with this rule."""
    left_pence = budget_pence
    winners: list[Tallied] = []
    not_funded: list[Tallied] = []
    for proposal in sorted(proposals, key=count_order):
        if proposal.votes > 0 and proposal.cost_pence <= left_pence:
            winners.append(proposal)
            left_pence -= proposal.cost_pence
        else:
            not_funded.append(proposal)
    return Count(tuple(winners), tuple(not_funded), budget_pence - left_pence, left_pence)


# --- A settlement the allocations service refused ---------------------------------------------

SETTLEMENT_RULE_WORDS = {
    "allocation_exists": "the round's budget must be an allocation that exists",
    "participatory_budgeting_round": "the round's budget must be tagged participatory-budgeting",
    "round_is_partnership_agreement": "the round's budget must be a partnership agreement",
    "round_funded": "only a round whose budget is still reserved can fund its winners",
    "winner_allocation_new": "each winner must become a new allocation",
    "winners_within_round": "the winners must cost no more than the round's reservation holds",
}
"""The allocations service's rules for settling a round (services/allocations/rounds.py), in
words a resident reads on the round's page."""


@dataclass(frozen=True)
class SettlementRefusal:
    """The allocations service refused to fund a counted round's winners: its rule and why."""

    rule: str
    reason: str
    refused_at: datetime

    @property
    def rule_words(self) -> str:
        """The rule in plain words (a rule this page does not know yet, made readable)."""
        return SETTLEMENT_RULE_WORDS.get(self.rule, self.rule.replace("_", " "))

    def public(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "rule_words": self.rule_words,
            "reason": self.reason,
            "refused_at": self.refused_at,
        }
