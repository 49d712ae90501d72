"""The citizens room's database reads and writes, through its own named queries on its own
tables. The only module here that imports asyncpg."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.gateway.citizens import domain
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")
QUESTIONS_MAX = 1_000
"""Panel questions listed at most, newest first (a panel asks tens a year)."""


async def place_rules(connection: asyncpg.Connection, place_id: str) -> domain.PlaceRules:
    row = await connection.fetchrow(QUERIES.place_rules, place_id)
    return domain.PlaceRules(**dict(row)) if row is not None else domain.PlaceRules()


async def set_place_rules(
    connection: asyncpg.Connection, place_id: str, rules: domain.PlaceRules, set_by: str
) -> None:
    await connection.execute(
        QUERIES.set_place_rules,
        place_id,
        rules.answer_days,
        rules.trigger_threshold,
        rules.trigger_window_days,
        rules.committee_response_days,
        set_by,
    )


# --- The Citizens' Panel ----------------------------------------------------------------------


async def add_panel_member(
    connection: asyncpg.Connection, place_id: str, pseudonym: str, joined_on: date, by: str
) -> bool:
    """Whether the member was added (False: the pseudonym is already on the panel)."""
    added = await connection.fetchval(QUERIES.add_panel_member, place_id, pseudonym, joined_on, by)
    return added is not None


async def panel_member_exists(
    connection: asyncpg.Connection, place_id: str, pseudonym: str
) -> bool:
    return await connection.fetchval(QUERIES.panel_member_exists, place_id, pseudonym) is not None


async def add_panel_meeting(
    connection: asyncpg.Connection, place_id: str, meeting_id: str, held_on: date, agenda: str
) -> bool:
    added = await connection.fetchval(
        QUERIES.add_panel_meeting, place_id, meeting_id, held_on, agenda
    )
    return added is not None


async def panel_meeting(
    connection: asyncpg.Connection, place_id: str, meeting_id: str
) -> dict[str, Any] | None:
    row = await connection.fetchrow(QUERIES.panel_meeting, place_id, meeting_id)
    return dict(row) if row is not None else None


async def ask_panel_question(
    connection: asyncpg.Connection,
    place_id: str,
    question_id: uuid.UUID,
    meeting_id: str,
    asked_by: str,
    question: str,
    asked_on: date,
    due_on: date,
) -> None:
    await connection.execute(
        QUERIES.ask_panel_question,
        place_id,
        question_id,
        meeting_id,
        asked_by,
        question,
        asked_on,
        due_on,
    )


async def panel_question_for_answer(
    connection: asyncpg.Connection, place_id: str, question_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await connection.fetchrow(QUERIES.panel_question_for_answer, place_id, question_id)
    return dict(row) if row is not None else None


async def answer_panel_question(
    connection: asyncpg.Connection,
    place_id: str,
    question_id: uuid.UUID,
    answer: str,
    answered_on: date,
    answered_by: str,
) -> None:
    await connection.execute(
        QUERIES.answer_panel_question, place_id, question_id, answer, answered_on, answered_by
    )


async def panel(connection: asyncpg.Connection, place_id: str, today: date) -> dict[str, Any]:
    """The place's panel as the public sees it: members' pseudonyms, meetings, and every
    question with its answer, its due day and whether the answer is late or overdue."""
    members = [dict(row) for row in await connection.fetch(QUERIES.panel_members, place_id)]
    meetings = [dict(row) for row in await connection.fetch(QUERIES.panel_meetings, place_id)]
    questions = [
        {
            **dict(row),
            "question_id": str(row["question_id"]),
            "lateness": domain.answer_lateness(row["due_on"], row["answered_on"], today),
        }
        for row in await connection.fetch(QUERIES.panel_questions, place_id, QUESTIONS_MAX)
    ]
    return {"members": members, "meetings": meetings, "questions": questions}


# --- Scrutiny triggers ------------------------------------------------------------------------

TRIGGERS_MAX = 1_000
"""Triggers listed at most, newest first."""


async def open_trigger(
    connection: asyncpg.Connection,
    place_id: str,
    trigger_id: uuid.UUID,
    subject_kind: str,
    subject: str,
    concern: str,
    opened_at: datetime,
    rules: domain.PlaceRules,
) -> None:
    """A new trigger, under the threshold and window the place has today."""
    await connection.execute(
        QUERIES.open_trigger,
        place_id,
        trigger_id,
        subject_kind,
        subject,
        concern,
        opened_at,
        domain.trigger_closes_at(opened_at, rules),
        rules.trigger_threshold,
    )


async def trigger(
    connection: asyncpg.Connection, place_id: str, trigger_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await connection.fetchrow(QUERIES.trigger, place_id, trigger_id)
    return dict(row) if row is not None else None


async def supports(
    connection: asyncpg.Connection, place_id: str, trigger_id: uuid.UUID, resident_key: str
) -> bool:
    found = await connection.fetchval(QUERIES.supports, place_id, trigger_id, resident_key)
    return found is not None


async def support_trigger(
    connection: asyncpg.Connection,
    place_id: str,
    trigger_id: uuid.UUID,
    resident_key: str,
    now: datetime,
    referral_id: uuid.UUID,
    rules: domain.PlaceRules,
) -> tuple[int, bool]:
    """Count a resident's support once; when the trigger reaches its threshold inside its
    window it is referred to the audit committee, with the place's response deadline. Answers
    the supporters counted and whether this support referred it. The trigger's row is locked,
    so two last supporters cannot refer it twice."""
    row = await connection.fetchrow(QUERIES.trigger_for_update, place_id, trigger_id)
    state = domain.trigger_state(row["referred_at"] is not None, row["closes_at"], now)
    if state != domain.OPEN:
        return await connection.fetchval(QUERIES.supporter_count, place_id, trigger_id), False
    await connection.execute(QUERIES.add_supporter, place_id, trigger_id, resident_key, now)
    supporters: int = await connection.fetchval(QUERIES.supporter_count, place_id, trigger_id)
    if not domain.passes_threshold(supporters, row["threshold"]):
        return supporters, False
    await add_referral(
        connection,
        place_id,
        referral_id,
        source="trigger",
        subject=f"{row['subject_kind']} {row['subject']}",
        concern=row["concern"],
        referred_by=f"trigger {trigger_id}",
        referred_on=now.date(),
        rules=rules,
    )
    await connection.execute(QUERIES.mark_referred, place_id, trigger_id, now, referral_id)
    return supporters, True


async def triggers(
    connection: asyncpg.Connection, place_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The place's triggers as the public sees them: counts, never supporters."""
    rows = await connection.fetch(QUERIES.triggers, place_id, TRIGGERS_MAX)
    return [
        {
            **dict(row),
            "trigger_id": str(row["trigger_id"]),
            "referral_id": str(row["referral_id"]) if row["referral_id"] else None,
            "state": domain.trigger_state(row["referred_at"] is not None, row["closes_at"], now),
        }
        for row in rows
    ]


# --- The Local Public Audit Committee ---------------------------------------------------------


async def add_referral(
    connection: asyncpg.Connection,
    place_id: str,
    referral_id: uuid.UUID,
    *,
    source: str,
    subject: str,
    concern: str,
    referred_by: str,
    referred_on: date,
    rules: domain.PlaceRules,
) -> date:
    """A referral to the committee, due a response the place's days later; answers that day."""
    respond_by = domain.response_due(referred_on, rules)
    await connection.execute(
        QUERIES.add_referral,
        place_id,
        referral_id,
        source,
        subject,
        concern,
        referred_by,
        referred_on,
        respond_by,
    )
    return respond_by


REFERRALS_MAX = 1_000
"""Referrals and reports listed at most, newest first."""


async def referral_status(
    connection: asyncpg.Connection, place_id: str, referral_id: uuid.UUID
) -> str | None:
    row = await connection.fetchrow(QUERIES.referral_for_update, place_id, referral_id)
    return None if row is None else str(row["status"])


async def set_referral_status(
    connection: asyncpg.Connection,
    place_id: str,
    referral_id: uuid.UUID,
    status: str,
    note: str | None,
) -> None:
    await connection.execute(QUERIES.set_referral_status, place_id, referral_id, status, note)


async def add_committee_member(
    connection: asyncpg.Connection, place_id: str, name: str, membership: str, joined_on: date
) -> None:
    await connection.execute(QUERIES.add_committee_member, place_id, name, membership, joined_on)


async def committee_member_exists(connection: asyncpg.Connection, place_id: str, name: str) -> bool:
    return await connection.fetchval(QUERIES.committee_member_exists, place_id, name) is not None


async def report_exists(connection: asyncpg.Connection, place_id: str, report_id: str) -> bool:
    return await connection.fetchval(QUERIES.report_exists, place_id, report_id) is not None


async def adopt_report(
    connection: asyncpg.Connection,
    place_id: str,
    report: dict[str, Any],
    recommendations: list[dict[str, Any]],
    adopted_by: str,
) -> None:
    """An adopted report, published as it is stored, with its numbered recommendations; the
    referral it answers (if any) is then reported."""
    await connection.execute(
        QUERIES.adopt_report,
        place_id,
        report["report_id"],
        report["referral_id"],
        report["title"],
        report["summary"],
        report["adopted_on"],
        adopted_by,
    )
    for number, item in enumerate(recommendations, start=1):
        await connection.execute(
            QUERIES.add_recommendation,
            place_id,
            report["report_id"],
            number,
            item["recommendation"],
            item["addressed_to"],
            item["due_on"],
        )
    if report["referral_id"] is not None:
        await set_referral_status(
            connection, place_id, report["referral_id"], "reported", report["report_id"]
        )


async def recommendation(
    connection: asyncpg.Connection, place_id: str, report_id: str, number: int
) -> dict[str, Any] | None:
    row = await connection.fetchrow(QUERIES.recommendation, place_id, report_id, number)
    return dict(row) if row is not None else None


async def complete_recommendation(
    connection: asyncpg.Connection,
    place_id: str,
    report_id: str,
    number: int,
    completed_on: date,
    note: str,
) -> bool:
    """Whether it was completed now (False: it was completed already)."""
    status = await connection.execute(
        QUERIES.complete_recommendation, place_id, report_id, number, completed_on, note
    )
    return bool(status == "UPDATE 1")


async def committee(connection: asyncpg.Connection, place_id: str, today: date) -> dict[str, Any]:
    """The committee as the public sees it: members, referrals with their status and response
    deadline, every adopted report with its recommendations, and the overdue ones."""
    members = [dict(row) for row in await connection.fetch(QUERIES.committee_members, place_id)]
    referrals = [
        {
            **dict(row),
            "referral_id": str(row["referral_id"]),
            "response_overdue": domain.response_overdue(row["status"], row["respond_by"], today),
        }
        for row in await connection.fetch(QUERIES.referrals, place_id, REFERRALS_MAX)
    ]
    recommendations = [
        {
            **dict(row),
            "overdue": domain.recommendation_overdue(row["due_on"], row["completed_on"], today),
        }
        for row in await connection.fetch(QUERIES.recommendations, place_id)
    ]
    reports = [
        {
            **dict(row),
            "referral_id": str(row["referral_id"]) if row["referral_id"] else None,
            "recommendations": [r for r in recommendations if r["report_id"] == row["report_id"]],
        }
        for row in await connection.fetch(QUERIES.reports, place_id, REFERRALS_MAX)
    ]
    return {
        "members": members,
        "referrals": referrals,
        "reports": reports,
        "overdue_recommendations": [r for r in recommendations if r["overdue"]],
    }


# --- Participatory budgeting rounds -----------------------------------------------------------

ROUNDS_MAX = 200
"""Rounds listed at most, newest first (a place runs one or two a year)."""


def _round(row: asyncpg.Record) -> dict[str, Any]:
    found = dict(row)
    found["eligible_areas"] = list(found["eligible_areas"])
    found["eligible_purposes"] = list(found["eligible_purposes"])
    return found


def round_dates(found: dict[str, Any]) -> domain.RoundDates:
    return domain.RoundDates(
        found["proposals_open_on"],
        found["proposals_close_on"],
        found["voting_open_on"],
        found["voting_close_on"],
    )


async def open_round(
    connection: asyncpg.Connection, place_id: str, fields: dict[str, Any], opened_by: str
) -> None:
    await connection.execute(
        QUERIES.open_round,
        place_id,
        fields["round_id"],
        fields["title"],
        fields["allocation_id"],
        fields["budget_pence"],
        fields["proposals_open_on"],
        fields["proposals_close_on"],
        fields["voting_open_on"],
        fields["voting_close_on"],
        list(fields["eligible_areas"]),
        list(fields["eligible_purposes"]),
        fields["projects_start_on"],
        fields["projects_end_on"],
        opened_by,
    )


async def round_exists(
    connection: asyncpg.Connection, place_id: str, round_id: str, allocation_id: str
) -> bool:
    found = await connection.fetchval(QUERIES.round_exists, place_id, round_id, allocation_id)
    return found is not None


async def pb_round(
    connection: asyncpg.Connection, place_id: str, round_id: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    query = QUERIES.round_for_update if for_update else QUERIES.round
    row = await connection.fetchrow(query, place_id, round_id)
    return _round(row) if row is not None else None


async def pb_rounds(connection: asyncpg.Connection, place_id: str) -> list[dict[str, Any]]:
    return [_round(row) for row in await connection.fetch(QUERIES.rounds, place_id, ROUNDS_MAX)]


async def submit_proposal(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    proposal_id: uuid.UUID,
    fields: dict[str, Any],
    proposer_key: str,
    submitted_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.submit_proposal,
        place_id,
        round_id,
        proposal_id,
        fields["title"],
        fields["description"],
        fields["area"],
        fields["purpose"],
        fields["cost_pence"],
        fields["recipient_id"],
        proposer_key,
        submitted_at,
    )


async def proposal_moderation(
    connection: asyncpg.Connection, place_id: str, round_id: str, proposal_id: uuid.UUID
) -> str | None:
    row = await connection.fetchrow(
        QUERIES.round_proposal_for_update, place_id, round_id, proposal_id
    )
    return None if row is None else str(row["moderation"])


async def moderate_proposal(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    proposal_id: uuid.UUID,
    decision: str,
    reason: str,
    moderated_at: datetime,
) -> None:
    await connection.execute(
        QUERIES.moderate_proposal, place_id, round_id, proposal_id, decision, reason, moderated_at
    )


async def round_proposals(
    connection: asyncpg.Connection, place_id: str, round_id: str
) -> list[dict[str, Any]]:
    return [
        {**dict(row), "proposal_id": str(row["proposal_id"])}
        for row in await connection.fetch(QUERIES.round_proposals, place_id, round_id)
    ]


async def accepted_costs(
    connection: asyncpg.Connection, place_id: str, round_id: str, proposal_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await connection.fetch(QUERIES.accepted_costs, place_id, round_id, proposal_ids)
    return {row["proposal_id"]: row["cost_pence"] for row in rows}


async def has_voted(
    connection: asyncpg.Connection, place_id: str, round_id: str, voter_key: str
) -> bool:
    found = await connection.fetchval(QUERIES.has_voted, place_id, round_id, voter_key)
    return found is not None


async def cast_ballot(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    voter_key: str,
    cast_on: date,
    proposal_ids: list[uuid.UUID],
) -> bool:
    """Record that the key voted and add one to each approved proposal's total, together; the
    ballot itself (which key approved what) is never stored. False: the key voted already."""
    voted = await connection.fetchval(QUERIES.cast_ballot, place_id, round_id, voter_key, cast_on)
    if voted is None:
        return False
    await connection.execute(QUERIES.add_votes, place_id, round_id, proposal_ids)
    return True


async def ballots_cast(connection: asyncpg.Connection, place_id: str, round_id: str) -> int:
    return int(await connection.fetchval(QUERIES.ballots_cast, place_id, round_id))


async def record_count(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    counted: domain.Count,
    winner_allocations: list[str],
    counted_at: datetime,
    counted_by: str,
    settle_event_id: uuid.UUID,
) -> None:
    for rank, (winner, allocation_id) in enumerate(
        zip(counted.winners, winner_allocations, strict=True), start=1
    ):
        await connection.execute(
            QUERIES.mark_winner,
            place_id,
            round_id,
            uuid.UUID(winner.proposal_id),
            rank,
            allocation_id,
        )
    await connection.execute(
        QUERIES.mark_counted,
        place_id,
        round_id,
        counted_at,
        counted_by,
        counted.funded_pence,
        counted.unspent_pence,
        settle_event_id,
    )


async def settlement_refused(
    connection: asyncpg.Connection,
    place_id: str,
    settle_event_id: uuid.UUID,
    refusal: domain.SettlementRefusal,
) -> None:
    """Keep on its round the allocations service's refusal of the round's settlement."""
    await connection.execute(
        QUERIES.settlement_refused,
        place_id,
        settle_event_id,
        refusal.rule,
        refusal.reason,
        refusal.refused_at,
    )


async def settlement_refusal(
    connection: asyncpg.Connection, place_id: str, round_id: str
) -> domain.SettlementRefusal | None:
    row = await connection.fetchrow(QUERIES.settlement_refusal, place_id, round_id)
    return domain.SettlementRefusal(**dict(row)) if row is not None else None
