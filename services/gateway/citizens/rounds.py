"""Participatory budgeting rounds, the steps shared by the API and the pages: opening a round on
a funded allocation, residents' proposals, their moderation, one ballot per resident, and the
count, which sends the winners to the allocations service to be funded from the round's
reservation (services/allocations/rounds.py) and the rest back to the pot."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from contracts.allocations import RoundWinner, SettleParticipatoryRound
from contracts.values import IDENTIFIER_LENGTH_MAX
from services.gateway.citizens import db, domain
from services.gateway.errors import GatewayError
from services.gateway.projections import db as projections_db
from services.runtime.outbox import Outbox

ROUND_ALLOCATION_TYPE = "partnership_agreement"
COUNT_RULE = (
    "greedy by votes within the budget: accepted proposals in order of votes (most first), "
    "equal votes the cheaper first, then the smaller proposal_id; each is funded if its cost "
    "fits in what is left, else passed over; proposals with no votes are not funded"
)
BALLOT_RULE = (
    "approval voting within the budget: one ballot per resident approves one or more accepted "
    "proposals whose costs add up to no more than the budget; each approval adds one vote"
)


class RoundRefused(GatewayError):
    """A step a round's rules refuse, naming the field and the rule."""

    def __init__(self, field: str, rule: str, message: str, status: int = 409) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = rule
        self.message = message
        self.status = status


def phase_of(found: dict[str, Any], today: date) -> str:
    return domain.round_phase(db.round_dates(found), found["counted_at"] is not None, today)


async def checked_round(
    connection: asyncpg.Connection, place_id: str, round_id: str, *, for_update: bool = False
) -> dict[str, Any]:
    found = await db.pb_round(connection, place_id, round_id, for_update=for_update)
    if found is None:
        raise RoundRefused("round_id", "exists", f"{place_id} has no round {round_id}", 404)
    return found


# --- Opening a round --------------------------------------------------------------------------


async def round_budget(connection: asyncpg.Connection, place_id: str, allocation_id: str) -> int:
    """The round's budget: what the ledger reserved for its allocation, which must be a
    funded partnership agreement (one the board approved to set the money aside)."""
    allocation = await projections_db.allocation_for_round(connection, place_id, allocation_id)
    if allocation is None:
        raise RoundRefused(
            "allocation_id", "exists", f"{place_id} has no allocation {allocation_id}"
        )
    if allocation["allocation_type"] != ROUND_ALLOCATION_TYPE:
        raise RoundRefused(
            "allocation_id",
            "round_is_partnership_agreement",
            f"is a {allocation['allocation_type']}; a round's budget is a {ROUND_ALLOCATION_TYPE}",
        )
    if allocation["status"] != "funded" or not allocation["funded_pence"]:
        raise RoundRefused(
            "allocation_id",
            "round_funded",
            f"is {allocation['status']}; the ledger must reserve it first",
        )
    return int(allocation["funded_pence"])


async def check_new_round(
    connection: asyncpg.Connection, place_id: str, round_id: str, allocation_id: str
) -> None:
    if await db.round_exists(connection, place_id, round_id, allocation_id):
        raise RoundRefused("round_id", "unique", "a round with this id or allocation exists")


async def open_round(
    connection: asyncpg.Connection, place_id: str, fields: dict[str, Any], opened_by: str
) -> None:
    """Store a new round; two opened at once under one id (or allocation) make one, and the
    other is refused."""
    try:
        async with connection.transaction():
            await db.open_round(connection, place_id, fields, opened_by)
    except asyncpg.UniqueViolationError:
        raise RoundRefused(
            "round_id", "unique", "a round with this id or allocation exists"
        ) from None


def check_dates(fields: dict[str, Any]) -> None:
    dates = domain.RoundDates(
        fields["proposals_open_on"],
        fields["proposals_close_on"],
        fields["voting_open_on"],
        fields["voting_close_on"],
    )
    problem = domain.dates_problem(dates)
    if problem is not None:
        raise RoundRefused("voting_open_on", "dates_in_order", problem, 422)
    if fields["projects_end_on"] <= fields["projects_start_on"]:
        raise RoundRefused(
            "projects_end_on", "ends_after_start", "must be after projects_start_on", 422
        )


# --- Proposals and moderation -----------------------------------------------------------------


def check_proposal(found: dict[str, Any], fields: dict[str, Any], today: date) -> None:
    phase = phase_of(found, today)
    if phase != domain.PROPOSING:
        raise RoundRefused(
            "round_id", "proposals_open", f"the round is {phase}, not taking proposals"
        )
    problem = domain.proposal_problem(
        fields["area"],
        fields["purpose"],
        fields["cost_pence"],
        tuple(found["eligible_areas"]),
        tuple(found["eligible_purposes"]),
        found["budget_pence"],
    )
    if problem is not None:
        field, rule, message = problem
        raise RoundRefused(field, rule, message, 422)


async def moderate(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    proposal_id: uuid.UUID,
    decision: str,
    reason: str,
    now: datetime,
) -> None:
    """Accept or reject a proposal with a published reason, until voting opens; a decision
    may be changed with a new reason until then (the last one is published)."""
    found = await checked_round(connection, place_id, round_id, for_update=True)
    phase = phase_of(found, now.date())
    if not domain.may_moderate(phase):
        raise RoundRefused(
            "round_id", "before_voting", f"the round is {phase}; moderation has ended"
        )
    if await db.proposal_moderation(connection, place_id, round_id, proposal_id) is None:
        raise RoundRefused("proposal_id", "exists", f"round {round_id} has no such proposal", 404)
    await db.moderate_proposal(connection, place_id, round_id, proposal_id, decision, reason, now)


# --- Ballots ----------------------------------------------------------------------------------


async def cast_ballot(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    voter_key: str,
    proposal_ids: list[uuid.UUID],
    today: date,
) -> None:
    """One ballot per voter key: the key is recorded as having voted and each approved
    proposal's total goes up by one, in one transaction; which key approved what is never
    written down. Refused outside the voting dates, for a key that voted, or for a ballot
    that breaks the rule."""
    found = await checked_round(connection, place_id, round_id, for_update=True)
    phase = phase_of(found, today)
    if phase != domain.VOTING:
        raise RoundRefused("round_id", "voting_open", f"the round is {phase}, not voting")
    costs = await db.accepted_costs(connection, place_id, round_id, proposal_ids)
    chosen = {str(key): costs.get(key) for key in proposal_ids}
    problem = domain.ballot_problem(chosen, found["budget_pence"])
    if problem is not None:
        rule, message = problem
        raise RoundRefused("proposal_ids", rule, message, 422)
    if not await db.cast_ballot(connection, place_id, round_id, voter_key, today, proposal_ids):
        raise RoundRefused("round_id", "one_ballot", "you have voted in this round already")


async def has_voted(
    connection: asyncpg.Connection, place_id: str, round_id: str, voter_key: str
) -> bool:
    return await db.has_voted(connection, place_id, round_id, voter_key)


# --- The count --------------------------------------------------------------------------------


def winner_allocation_id(round_allocation_id: str, rank: int) -> str:
    """The allocation a winner becomes: the round's allocation id and the winner's rank,
    hashed when that would be longer than an identifier may be."""
    candidate = f"{round_allocation_id}-pb{rank}"
    if len(candidate) <= IDENTIFIER_LENGTH_MAX:
        return candidate
    return f"pb-{hashlib.sha256(round_allocation_id.encode()).hexdigest()[:40]}-{rank}"


def tallied(proposals: list[dict[str, Any]]) -> list[domain.Tallied]:
    """The accepted proposals with their totals: all the count reads."""
    return [
        domain.Tallied(p["proposal_id"], p["cost_pence"], p["votes"])
        for p in proposals
        if p["moderation"] == domain.ACCEPTED
    ]


async def count_and_settle(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    counted_by: str,
    now: datetime,
    settle_event_id: uuid.UUID,
) -> domain.Count:
    """Count a round whose voting has closed, once, and send its winners to be funded from the
    round's reservation with the rest released (SettleParticipatoryRound, via the outbox in
    this same transaction)."""
    found = await checked_round(connection, place_id, round_id, for_update=True)
    phase = phase_of(found, now.date())
    if phase != domain.CLOSED:
        raise RoundRefused(
            "round_id", "voting_closed", f"the round is {phase}; count after voting closes"
        )
    proposals = await db.round_proposals(connection, place_id, round_id)
    counted = domain.count(found["budget_pence"], tallied(proposals))
    by_id = {p["proposal_id"]: p for p in proposals}
    allocation_ids = [
        winner_allocation_id(found["allocation_id"], rank)
        for rank in range(1, len(counted.winners) + 1)
    ]
    winners = tuple(
        RoundWinner(
            allocation_id=allocation_id,
            recipient_id=by_id[winner.proposal_id]["recipient_id"],
            purpose=by_id[winner.proposal_id]["title"],
            amount_pence=winner.cost_pence,
        )
        for winner, allocation_id in zip(counted.winners, allocation_ids, strict=True)
    )
    command = SettleParticipatoryRound(
        place_id=place_id,
        allocation_id=found["allocation_id"],
        round_id=round_id,
        winners=winners,
        start_date=found["projects_start_on"],
        end_date=found["projects_end_on"],
        settled_by=counted_by,
    )
    await Outbox(connection, producer="gateway").add(command, event_id=settle_event_id)
    await db.record_count(
        connection, place_id, round_id, counted, allocation_ids, now, counted_by, settle_event_id
    )
    return counted


# --- What the public sees ---------------------------------------------------------------------


async def public_round(
    connection: asyncpg.Connection, place_id: str, round_id: str, today: date
) -> dict[str, Any]:
    """A round as anyone sees it: its settings and phase, every proposal with its moderation
    and reason, and — once voting has closed — each accepted proposal's vote total, the
    ballots cast, and (once counted) the winners, the money funded and the money released, or
    (`settlement_refused`) the rule and reason the allocations service refused to fund them by.
    Totals stay hidden while residents vote, so a running lead cannot sway the vote."""
    found = await checked_round(connection, place_id, round_id)
    phase = phase_of(found, today)
    proposals = await db.round_proposals(connection, place_id, round_id)
    totals_public = phase in (domain.CLOSED, domain.COUNTED)
    shown = [_public_proposal(p, totals_public) for p in proposals]
    answer: dict[str, Any] = {
        "place_id": place_id,
        **found,
        "phase": phase,
        "ballot_rule": BALLOT_RULE,
        "count_rule": COUNT_RULE,
        "proposals": shown,
        "ballots_cast": (
            await db.ballots_cast(connection, place_id, round_id) if totals_public else None
        ),
    }
    answer["winners"] = sorted(
        (p for p in shown if p["winner_rank"] is not None), key=lambda p: p["winner_rank"]
    )
    refusal = await db.settlement_refusal(connection, place_id, round_id)
    answer["settlement_refused"] = refusal.public() if refusal is not None else None
    return answer


def _public_proposal(proposal: dict[str, Any], totals_public: bool) -> dict[str, Any]:
    shown = {key: value for key, value in proposal.items() if key != "votes"}
    shown["votes"] = (
        proposal["votes"] if totals_public and proposal["moderation"] == domain.ACCEPTED else None
    )
    return shown


def recount(found: dict[str, Any]) -> dict[str, Any]:
    """The count again, from the published totals alone (the open data's `recount`)."""
    accepted = [
        domain.Tallied(p["proposal_id"], p["cost_pence"], p["votes"])
        for p in found["proposals"]
        if p["moderation"] == domain.ACCEPTED and p["votes"] is not None
    ]
    counted = domain.count(found["budget_pence"], accepted)
    return {
        "winners": [winner.proposal_id for winner in counted.winners],
        "funded_pence": counted.funded_pence,
        "unspent_pence": counted.unspent_pence,
    }
