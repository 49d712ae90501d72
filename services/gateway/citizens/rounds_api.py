"""The API of participatory budgeting rounds: opening a round on a funded allocation,
residents' proposals and their moderation, ballots, the count (which funds the winners from
the round's reservation), and each round's open data. Reads are public; every change is a
command the gateway decides itself, once per Idempotency-Key, with a command status."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from contracts.values import IDENTIFIER_LENGTH_MAX
from services.gateway import problems
from services.gateway.citizens import commands, db, domain, events, rounds
from services.gateway.citizens.commands import Command, Named, Sent, Taken, add_routes, room_router
from services.gateway.domain import Permission
from services.gateway.identity.auth import Gateway
from services.gateway.intake import identifier_path

TEXT_MAX = 4_000
LABEL = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._-]+$")
ROUND_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
PROPOSAL_ID = Path(..., description="A proposal's id.")


class RoundOpening(BaseModel):
    """A round on an allocation the ledger reserved: its budget is that reservation."""

    model_config = ConfigDict(extra="forbid")

    round_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    title: str = Field(min_length=1, max_length=200)
    allocation_id: str = Field(min_length=1, max_length=IDENTIFIER_LENGTH_MAX)
    proposals_open_on: date
    proposals_close_on: date
    voting_open_on: date
    voting_close_on: date
    eligible_areas: list[str] = Field(min_length=1, max_length=100)
    eligible_purposes: list[str] = Field(min_length=1, max_length=100)
    projects_start_on: date = Field(description="When winners' grants start (and are paid).")
    projects_end_on: date


class ProjectProposal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=TEXT_MAX)
    area: str = LABEL
    purpose: str = LABEL
    cost_pence: int = Field(ge=1, le=10**15)
    recipient_id: str = Field(
        min_length=1,
        max_length=IDENTIFIER_LENGTH_MAX,
        description="The organisation that would deliver it and receive the grant.",
    )


class Moderation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accepted", "rejected"]
    reason: str = Field(min_length=1, max_length=TEXT_MAX, description="Published with it.")


class Ballot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proposal_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)


def routes(gateway: Gateway) -> APIRouter:
    router = room_router("/api/v1/places/{place_id}/citizens/rounds")
    place = identifier_path()

    @router.get("")
    async def list_rounds(place_id: str = place) -> dict[str, Any]:
        """Every round of the place, for anyone, with its dates, budget and phase."""
        today = datetime.now(UTC).date()
        async with gateway.pool.acquire() as connection:
            found = await db.pb_rounds(connection, place_id)
        return {
            "place_id": place_id,
            "rounds": [{**r, "phase": rounds.phase_of(r, today)} for r in found],
        }

    @router.get("/{round_id}")
    async def show_round(place_id: str = place, round_id: str = ROUND_ID) -> dict[str, Any]:
        """A round for anyone: proposals with moderation and reasons; after voting closes the
        totals and ballots cast; once counted the winners and the money."""
        async with gateway.pool.acquire() as connection:
            try:
                return await rounds.public_round(
                    connection, place_id, round_id, datetime.now(UTC).date()
                )
            except rounds.RoundRefused as error:
                raise commands.refused(error) from None

    @router.get("/{round_id}/open-data")
    async def open_data(place_id: str = place, round_id: str = ROUND_ID) -> dict[str, Any]:
        """The round's aggregates as open data, enough for anyone to recount: the budget, the
        rules, each accepted proposal's cost and vote total (after voting closes), the
        published winners and money, and `recount`, the count done again from those totals."""
        async with gateway.pool.acquire() as connection:
            try:
                found = await rounds.public_round(
                    connection, place_id, round_id, datetime.now(UTC).date()
                )
            except rounds.RoundRefused as error:
                raise commands.refused(error) from None
        totals_public = found["phase"] in (domain.CLOSED, domain.COUNTED)
        return {
            "place_id": place_id,
            "round_id": round_id,
            "phase": found["phase"],
            "allocation_id": found["allocation_id"],
            "budget_pence": found["budget_pence"],
            "ballot_rule": rounds.BALLOT_RULE,
            "count_rule": rounds.COUNT_RULE,
            "ballots_cast": found["ballots_cast"],
            "proposals": [
                {
                    key: proposal[key]
                    for key in ("proposal_id", "title", "area", "purpose", "cost_pence")
                    + ("moderation", "moderation_reason", "votes", "winner_rank", "allocation_id")
                }
                for proposal in found["proposals"]
            ],
            "funded_pence": found["funded_pence"],
            "unspent_pence": found["unspent_pence"],
            "recount": rounds.recount(found) if totals_public else None,
            # The allocations service's refusal to fund the winners, when it refused.
            "settlement_refused": found["settlement_refused"],
        }

    add_routes(router, gateway, COMMANDS)
    return router


async def publish_count(
    connection: asyncpg.Connection, place_id: str, round_id: str, counted_on: date
) -> None:
    """The count just recorded, as the public event: read back in the count's transaction."""
    counted = await db.pb_round(connection, place_id, round_id)
    assert counted is not None  # counted just now, in this transaction
    await events.round_counted(
        connection, place_id, counted, await db.round_proposals(connection, place_id, round_id),
        await db.ballots_cast(connection, place_id, round_id), rounds.COUNT_RULE, counted_on,
    )  # fmt: skip


async def open_round(sent: Sent, opening: RoundOpening) -> Taken:
    """Open a round on a funded partnership agreement (approved by the board through the
    allocations flow, so the ledger reserved it): the reservation is the round's budget."""
    place_id = sent.place_id
    fields = opening.model_dump()
    rounds.check_dates(fields)
    async with sent.gateway.pool.acquire() as connection:
        fields["budget_pence"] = await rounds.round_budget(
            connection, place_id, opening.allocation_id
        )
        if await sent.first_time():
            await rounds.check_new_round(
                connection, place_id, opening.round_id, opening.allocation_id
            )

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await rounds.open_round(connection, place_id, fields, sent.principal.principal_id)
        await events.round_opened(connection, place_id, fields)

    return {"round_id": opening.round_id, "budget_pence": str(fields["budget_pence"])}, save


async def propose(sent: Sent, proposal: ProjectProposal) -> Taken:
    """A resident proposes a project while proposals are open; it waits for moderation.
    The proposer is kept only as their pseudonymous key."""
    place_id, round_id = sent.place_id, sent.named["round_id"]
    proposal_id = sent.command_id
    proposer = domain.resident_key(place_id, sent.principal.principal_id)
    now = datetime.now(UTC)
    fields = proposal.model_dump()
    if await sent.first_time():
        async with sent.gateway.pool.acquire() as connection:
            found = await rounds.checked_round(connection, place_id, round_id)
            rounds.check_proposal(found, fields, now.date())

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await db.submit_proposal(connection, place_id, round_id, proposal_id, fields, proposer, now)
        await events.proposal_submitted(connection, place_id, round_id, proposal_id, fields)

    return {"round_id": round_id, "proposal_id": str(proposal_id)}, save


async def moderate(sent: Sent, moderation: Moderation) -> Taken:
    """Finance staff or the chair, for the panel, accept or reject a proposal with a
    reason that is published, until voting opens."""
    place_id, round_id, proposal_id = (
        sent.place_id,
        sent.named["round_id"],
        sent.named["proposal_id"],
    )
    now = datetime.now(UTC)

    async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
        await rounds.moderate(
            connection, place_id, round_id, proposal_id, moderation.decision,
            moderation.reason, now,
        )  # fmt: skip
        await events.proposal_moderated(
            connection, place_id, round_id, proposal_id, moderation.decision,
            moderation.reason, now.date(), command_id,
        )  # fmt: skip

    return {"proposal_id": str(proposal_id), "moderation": moderation.decision}, save


async def vote(sent: Sent, ballot: Ballot) -> Taken:
    """A resident's one ballot in the round (rules in `ballot_rule`): it is counted, and
    never stored; only their pseudonymous key is kept, to refuse a second ballot."""
    if len(set(ballot.proposal_ids)) != len(ballot.proposal_ids):
        raise problems.invalid("proposal_ids", "once", "approve each proposal once")
    place_id, round_id = sent.place_id, sent.named["round_id"]
    voter = domain.resident_key(place_id, sent.principal.principal_id)
    today = datetime.now(UTC).date()

    async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
        await rounds.cast_ballot(connection, place_id, round_id, voter, ballot.proposal_ids, today)

    return {"round_id": round_id}, save


async def count(sent: Sent, _: None) -> Taken:
    """Count a round once voting has closed (rule in `count_rule`), once: the winners
    are sent to be funded from the round's reservation and the rest released to the pot."""
    place_id, round_id = sent.place_id, sent.named["round_id"]
    now = datetime.now(UTC)

    async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
        settle_id = uuid.uuid5(command_id, "settle")
        await rounds.count_and_settle(
            connection, place_id, round_id, sent.principal.principal_id, now, settle_id
        )
        await publish_count(connection, place_id, round_id, now.date())

    return {"round_id": round_id}, save


P, BUDGETING = Permission, "participatory budgeting"
ROUND = Named("round_id", str, ROUND_ID)
PROPOSAL = Named("proposal_id", uuid.UUID, PROPOSAL_ID)
COMMANDS = (
    Command("", "OpenBudgetRound", P.RUN_ROUNDS, BUDGETING, RoundOpening, open_round),
    Command(
        "/{round_id}/proposals", "ProposeProject", P.TAKE_PART, BUDGETING, ProjectProposal,
        propose, (ROUND,),
    ),
    Command(
        "/{round_id}/proposals/{proposal_id}/moderation", "ModerateProject",
        P.MODERATE_PROPOSALS, BUDGETING, Moderation, moderate, (ROUND, PROPOSAL),
    ),
    Command(
        "/{round_id}/ballots", "CastBudgetBallot", P.TAKE_PART, BUDGETING, Ballot, vote, (ROUND,)
    ),
    Command(
        "/{round_id}/count", "CountBudgetRound", P.RUN_ROUNDS, BUDGETING, None, count, (ROUND,)
    ),
)  # fmt: skip
"""A round's commands: `POST /api/v1/places/{place_id}/citizens/rounds<path>`, each with its
door's permission (`identity/permissions.py` lists the same doors) and the step that takes it."""
