"""The API of participatory budgeting rounds: opening a round on a funded allocation,
residents' proposals and their moderation, ballots, the count (which funds the winners from
the round's reservation), and each round's open data. Reads are public; every change is a
command the gateway decides itself, once per Idempotency-Key, with a command status."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from contracts.values import IDENTIFIER_LENGTH_MAX
from services.gateway import problems
from services.gateway.citizens import db, domain, events, rounds
from services.gateway.citizens.api import request_body
from services.gateway.domain import Permission, Principal
from services.gateway.identity.auth import CALLER, Gateway, GuardedRoute, require
from services.gateway.intake import check_storable, identifier_path
from services.gateway.returns import local_commands

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


def refused(error: rounds.RoundRefused) -> problems.ProblemError:
    return problems.invalid(error.field, error.rule, error.message, error.status)


def routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(
        prefix="/api/v1/places/{place_id}/citizens/rounds",
        tags=["citizens"],
        route_class=GuardedRoute,
        responses=problems.openapi_responses(400, 401, 403, 404, 409, 413, 422),
    )
    place = identifier_path()

    async def decide(
        request: Request,
        principal: Principal,
        key: str,
        body: dict[str, Any],
        place_id: str,
        command_type: str,
        made: dict[str, str],
        effect: local_commands.Effect,
    ) -> JSONResponse:
        async def guarded(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            try:
                await effect(connection, command_id)
            except rounds.RoundRefused as error:
                raise refused(error) from None

        return await local_commands.decide_here(
            gateway, principal, request, key=key, body=body, place_id=place_id,
            command_type=command_type, decided_at=datetime.now(UTC), made=made,
            answer=dict(made), effect=guarded,
        )  # fmt: skip

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

    @router.post("", status_code=201, openapi_extra=request_body(RoundOpening))
    async def open_round(
        request: Request,
        place_id: str = place,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Open a round on a funded partnership agreement (approved by the board through the
        allocations flow, so the ledger reserved it): the reservation is the round's budget."""
        check_storable(place_id, "place_id")
        require(principal, Permission.RUN_ROUNDS, place_id, what="participatory budgeting")
        body, opening = await local_commands.body_of(request, gateway, RoundOpening)
        fields = opening.model_dump()
        try:
            rounds.check_dates(fields)
            async with gateway.pool.acquire() as connection:
                fields["budget_pence"] = await rounds.round_budget(
                    connection, place_id, opening.allocation_id
                )
                if not await local_commands.already_sent(gateway, principal, idempotency_key):
                    await rounds.check_new_round(
                        connection, place_id, opening.round_id, opening.allocation_id
                    )
        except rounds.RoundRefused as error:
            raise refused(error) from None

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await rounds.open_round(connection, place_id, fields, principal.principal_id)
            await events.round_opened(connection, place_id, fields)

        made = {"round_id": opening.round_id, "budget_pence": str(fields["budget_pence"])}
        return await decide(
            request, principal, idempotency_key, body, place_id, "OpenBudgetRound", made, save
        )

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
                raise refused(error) from None

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
                raise refused(error) from None
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
        }

    @router.post(
        "/{round_id}/proposals", status_code=201, openapi_extra=request_body(ProjectProposal)
    )
    async def propose(
        request: Request,
        place_id: str = place,
        round_id: str = ROUND_ID,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """A resident proposes a project while proposals are open; it waits for moderation.
        The proposer is kept only as their pseudonymous key."""
        check_storable(place_id, "place_id")
        require(principal, Permission.TAKE_PART, place_id, what="participatory budgeting")
        body, proposal = await local_commands.body_of(request, gateway, ProjectProposal)
        proposal_id = local_commands.command_id(principal, idempotency_key)
        proposer = domain.resident_key(place_id, principal.principal_id)
        now = datetime.now(UTC)
        fields = proposal.model_dump()
        if not await local_commands.already_sent(gateway, principal, idempotency_key):
            async with gateway.pool.acquire() as connection:
                try:
                    found = await rounds.checked_round(connection, place_id, round_id)
                    rounds.check_proposal(found, fields, now.date())
                except rounds.RoundRefused as error:
                    raise refused(error) from None

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await db.submit_proposal(
                connection, place_id, round_id, proposal_id, fields, proposer, now
            )
            await events.proposal_submitted(connection, place_id, round_id, proposal_id, fields)

        made = {"round_id": round_id, "proposal_id": str(proposal_id)}
        return await decide(
            request, principal, idempotency_key, body, place_id, "ProposeProject", made, save
        )

    @router.post(
        "/{round_id}/proposals/{proposal_id}/moderation",
        status_code=201,
        openapi_extra=request_body(Moderation),
    )
    async def moderate(
        request: Request,
        place_id: str = place,
        round_id: str = ROUND_ID,
        proposal_id: uuid.UUID = PROPOSAL_ID,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Finance staff or the chair, for the panel, accept or reject a proposal with a
        reason that is published, until voting opens."""
        check_storable(place_id, "place_id")
        require(principal, Permission.MODERATE_PROPOSALS, place_id, what="participatory budgeting")
        body, moderation = await local_commands.body_of(request, gateway, Moderation)
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

        made = {"proposal_id": str(proposal_id), "moderation": moderation.decision}
        return await decide(
            request, principal, idempotency_key, body, place_id, "ModerateProject", made, save
        )

    @router.post("/{round_id}/ballots", status_code=201, openapi_extra=request_body(Ballot))
    async def vote(
        request: Request,
        place_id: str = place,
        round_id: str = ROUND_ID,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """A resident's one ballot in the round (rules in `ballot_rule`): it is counted, and
        never stored; only their pseudonymous key is kept, to refuse a second ballot."""
        check_storable(place_id, "place_id")
        require(principal, Permission.TAKE_PART, place_id, what="participatory budgeting")
        body, ballot = await local_commands.body_of(request, gateway, Ballot)
        if len(set(ballot.proposal_ids)) != len(ballot.proposal_ids):
            raise problems.invalid("proposal_ids", "once", "approve each proposal once")
        voter = domain.resident_key(place_id, principal.principal_id)
        today = datetime.now(UTC).date()

        async def save(connection: asyncpg.Connection, _: uuid.UUID) -> None:
            await rounds.cast_ballot(
                connection, place_id, round_id, voter, ballot.proposal_ids, today
            )

        made = {"round_id": round_id}
        return await decide(
            request, principal, idempotency_key, body, place_id, "CastBudgetBallot", made, save
        )

    @router.post("/{round_id}/count", status_code=201)
    async def count(
        request: Request,
        place_id: str = place,
        round_id: str = ROUND_ID,
        idempotency_key: str = local_commands.idempotency_key_header(gateway),
        principal: Principal = CALLER,
    ) -> JSONResponse:
        """Count a round once voting has closed (rule in `count_rule`), once: the winners
        are sent to be funded from the round's reservation and the rest released to the pot."""
        check_storable(place_id, "place_id")
        require(principal, Permission.RUN_ROUNDS, place_id, what="participatory budgeting")
        now = datetime.now(UTC)

        async def save(connection: asyncpg.Connection, command_id: uuid.UUID) -> None:
            settle_id = uuid.uuid5(command_id, "settle")
            await rounds.count_and_settle(
                connection, place_id, round_id, principal.principal_id, now, settle_id
            )
            await publish_count(connection, place_id, round_id, now.date())

        made = {"round_id": round_id}
        return await decide(
            request, principal, idempotency_key, {}, place_id, "CountBudgetRound", made, save
        )

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
