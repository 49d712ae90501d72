"""The citizens room's public events (contracts/citizens.py), written to the gateway's outbox in
the caller's transaction, beside the rows they report, so the relay publishes each exactly once
on `citizens.lifecycle.v1`. Each event's id is fixed by what it reports (the question, the
trigger, the report...), so the same fact written twice is one outbox row."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from contracts.base import Event
from contracts.citizens import (
    AdoptedRecommendation,
    AuditReferralMoved,
    AuditReferralReceived,
    AuditReportAdopted,
    BudgetProposalModerated,
    BudgetProposalSubmitted,
    BudgetRoundCounted,
    BudgetRoundOpened,
    CountedProposal,
    PanelQuestionAnswered,
    PanelQuestionAsked,
    RecommendationCompleted,
    ScrutinyTriggerOpened,
    ScrutinyTriggerReferred,
)
from services.runtime.outbox import Outbox

PRODUCER = "gateway"
EVENT_IDS = uuid.UUID("6d1f4c1e-7c1b-4b8e-9a51-5e0c1f2a3b4d")
"""The namespace of the citizens events' ids."""


def event_id(*parts: object) -> uuid.UUID:
    """The id of the event reporting the fact named by `parts` (kind, place, thing...)."""
    return uuid.uuid5(EVENT_IDS, "\x00".join(str(part) for part in parts))


async def publish(connection: asyncpg.Connection, event: Event, *parts: object) -> None:
    """Add `event` to the outbox in the caller's transaction, under the id `parts` fix."""
    await Outbox(connection, producer=PRODUCER).add(
        event, event_id=event_id(event.event_type, event.place_id, *parts)
    )


# --- The Citizens' Panel ----------------------------------------------------------------------


async def question_asked(
    connection: asyncpg.Connection,
    place_id: str,
    question_id: uuid.UUID,
    meeting_id: str,
    asked_by: str,
    question: str,
    asked_on: date,
    due_on: date,
) -> None:
    event = PanelQuestionAsked(
        place_id=place_id, question_id=str(question_id), meeting_id=meeting_id,
        asked_by=asked_by, question=question, asked_on=asked_on, due_on=due_on,
    )  # fmt: skip
    await publish(connection, event, question_id)


async def question_answered(
    connection: asyncpg.Connection,
    place_id: str,
    question_id: uuid.UUID,
    answer: str,
    answered_on: date,
    due_on: date,
) -> None:
    event = PanelQuestionAnswered(
        place_id=place_id, question_id=str(question_id), answer=answer, answered_on=answered_on,
        due_on=due_on, late=answered_on > due_on,
    )  # fmt: skip
    await publish(connection, event, question_id)


# --- Scrutiny triggers ------------------------------------------------------------------------


async def trigger_opened(
    connection: asyncpg.Connection, place_id: str, trigger: dict[str, Any]
) -> None:
    """`trigger` as the room reads it back (db.trigger)."""
    event = ScrutinyTriggerOpened(
        place_id=place_id,
        trigger_id=str(trigger["trigger_id"]),
        subject_kind=trigger["subject_kind"],
        subject=trigger["subject"],
        concern=trigger["concern"],
        opened_on=trigger["opened_at"].date(),
        closes_on=trigger["closes_at"].date(),
        threshold=trigger["threshold"],
    )
    await publish(connection, event, trigger["trigger_id"])


async def trigger_referred(
    connection: asyncpg.Connection,
    place_id: str,
    trigger: dict[str, Any],
    supporters: int,
    referral: dict[str, Any],
) -> None:
    """The trigger's referral, and the referral the committee received from it."""
    event = ScrutinyTriggerReferred(
        place_id=place_id,
        trigger_id=str(trigger["trigger_id"]),
        referral_id=str(referral["referral_id"]),
        threshold=trigger["threshold"],
        supporters=supporters,
        referred_on=referral["referred_on"],
        respond_by=referral["respond_by"],
    )
    await publish(connection, event, trigger["trigger_id"])
    await referral_received(connection, place_id, referral)


# --- The Local Public Audit Committee ---------------------------------------------------------


async def referral_received(
    connection: asyncpg.Connection, place_id: str, referral: dict[str, Any]
) -> None:
    """`referral` as the room stores it; who referred it is left out."""
    event = AuditReferralReceived(
        place_id=place_id,
        referral_id=str(referral["referral_id"]),
        source=referral["source"],
        subject=referral["subject"],
        concern=referral["concern"],
        referred_on=referral["referred_on"],
        respond_by=referral["respond_by"],
    )
    await publish(connection, event, referral["referral_id"])


async def referral_moved(
    connection: asyncpg.Connection,
    place_id: str,
    referral_id: uuid.UUID,
    status: str,
    note: str,
    moved_on: date,
) -> None:
    event = AuditReferralMoved.model_validate(
        {"place_id": place_id, "referral_id": str(referral_id), "status": status, "note": note,
         "moved_on": moved_on}
    )  # fmt: skip
    await publish(connection, event, referral_id, status)


async def report_adopted(
    connection: asyncpg.Connection,
    place_id: str,
    report: dict[str, Any],
    recommendations: list[dict[str, Any]],
) -> None:
    event = AuditReportAdopted(
        place_id=place_id,
        report_id=report["report_id"],
        referral_id=str(report["referral_id"]) if report["referral_id"] else None,
        title=report["title"],
        summary=report["summary"],
        adopted_on=report["adopted_on"],
        recommendations=tuple(
            AdoptedRecommendation(
                number=number,
                recommendation=item["recommendation"],
                addressed_to=item["addressed_to"],
                due_on=item["due_on"],
            )
            for number, item in enumerate(recommendations, start=1)
        ),
    )
    await publish(connection, event, report["report_id"])


async def recommendation_completed(
    connection: asyncpg.Connection,
    place_id: str,
    report_id: str,
    number: int,
    completed_on: date,
    due_on: date,
    note: str,
) -> None:
    event = RecommendationCompleted(
        place_id=place_id, report_id=report_id, number=number, completed_on=completed_on,
        due_on=due_on, late=completed_on > due_on, note=note,
    )  # fmt: skip
    await publish(connection, event, report_id, number)


# --- Participatory budgeting rounds -----------------------------------------------------------


async def round_opened(
    connection: asyncpg.Connection, place_id: str, fields: dict[str, Any]
) -> None:
    """`fields`: the round as opened (its body, with the budget the ledger reserved)."""
    event = BudgetRoundOpened(
        place_id=place_id,
        **{key: fields[key] for key in BudgetRoundOpened.model_fields if key != "place_id"},
    )
    await publish(connection, event, fields["round_id"])


async def proposal_submitted(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    proposal_id: uuid.UUID,
    fields: dict[str, Any],
) -> None:
    """`fields`: the proposal's body; its description stays on the round's page."""
    event = BudgetProposalSubmitted(
        place_id=place_id, round_id=round_id, proposal_id=str(proposal_id),
        title=fields["title"], area=fields["area"], purpose=fields["purpose"],
        cost_pence=fields["cost_pence"], recipient_id=fields["recipient_id"],
    )  # fmt: skip
    await publish(connection, event, round_id, proposal_id)


async def proposal_moderated(
    connection: asyncpg.Connection,
    place_id: str,
    round_id: str,
    proposal_id: uuid.UUID,
    decision: str,
    reason: str,
    moderated_on: date,
    command_id: uuid.UUID,
) -> None:
    """A moderation may be changed until voting opens: each decision is its own event."""
    event = BudgetProposalModerated.model_validate(
        {"place_id": place_id, "round_id": round_id, "proposal_id": str(proposal_id),
         "decision": decision, "reason": reason, "moderated_on": moderated_on}
    )  # fmt: skip
    await publish(connection, event, command_id)


async def round_counted(
    connection: asyncpg.Connection,
    place_id: str,
    found: dict[str, Any],
    proposals: list[dict[str, Any]],
    ballots_cast: int,
    count_rule: str,
    counted_on: date,
) -> None:
    """`found`: the round as counted (db.pb_round after db.record_count); `proposals` its
    proposals with their totals, ranks and allocations; only accepted ones are counted."""
    event = BudgetRoundCounted(
        place_id=place_id,
        round_id=found["round_id"],
        allocation_id=found["allocation_id"],
        budget_pence=found["budget_pence"],
        ballots_cast=ballots_cast,
        count_rule=count_rule,
        proposals=tuple(
            CountedProposal(
                proposal_id=str(p["proposal_id"]),
                cost_pence=p["cost_pence"],
                votes=p["votes"],
                winner_rank=p["winner_rank"],
                allocation_id=p["allocation_id"],
            )
            for p in proposals
            if p["moderation"] == "accepted"
        ),
        funded_pence=found["funded_pence"],
        released_pence=found["unspent_pence"],
        counted_on=counted_on,
    )
    await publish(connection, event, found["round_id"])
