"""What the web pages and the JSON read endpoints show: one async function per view, each taking
an asyncpg connection (the gateway schema on its search path) and returning plain, JSON-ready
dicts and lists. Money is int pence, dates are ISO strings ("2026-04-01"), months "2026-04".

The figures come from the read models the projections room's handlers keep (`handlers.py`);
the SQL lives in the room's queries.sql and is run by its db.py, as in every room of the gateway.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from contracts.values import financial_year_on
from services.gateway.delivery import db as delivery_db
from services.gateway.projections import db, domain

JsonObject = dict[str, Any]

POT_FIGURES = ("settled_pence", "received_pence", "reserved_pence", "paid_pence", "available_pence")


def default_year(years: list[str], today: date | None) -> str | None:
    """The year a page opens on: the current one when it has figures, else the latest."""
    if today is not None and financial_year_on(today) in years:
        return financial_year_on(today)
    return years[-1] if years else None


async def pot_overview(
    conn: asyncpg.Connection,
    place_id: str,
    financial_year: str | None,
    today: date | None = None,
) -> JsonObject:
    """The place's pot in one financial year (None: the year `today` falls in when the pot has
    figures for it, else the latest year the pot has figures for).

    Returns `{"place_id", "financial_year" (str | None when the place has no pot yet),
    "financial_years" [every year known, oldest first], "closed" (bool: the year is closed),
    "streams": [{"department_code", "funding_stream_code", "settled_pence", "received_pence",
    "reserved_pence", "paid_pence", "available_pence"}], "departments": [the same figures summed
    per "department_code"], "totals": {the five figures}}`. Available is the ledger's
    unreserved pot, as the rows carry it.
    """
    years = await db.pot_years(conn, place_id)
    year = financial_year if financial_year is not None else default_year(years, today)
    rows = await db.pot_streams_in_year(conn, place_id, year) if year else []
    streams = [dict(row) for row in rows]
    departments: dict[str, JsonObject] = {}
    for stream in streams:
        department = departments.setdefault(
            stream["department_code"],
            {"department_code": stream["department_code"], **dict.fromkeys(POT_FIGURES, 0)},
        )
        for name in POT_FIGURES:
            department[name] += stream[name]
    totals = {name: sum(stream[name] for stream in streams) for name in POT_FIGURES}
    # Paid is what left the commitments; recoveries go back to the pot, so what the ledger holds
    # as spend is paid less recovered (`recovered_pence`, `net_paid_pence`).
    recovered = await delivery_db.recovered_by_department(conn, place_id, year) if year else {}
    for department in departments.values():
        department["recovered_pence"] = recovered.get(department["department_code"], 0)
        department["net_paid_pence"] = department["paid_pence"] - department["recovered_pence"]
    totals["recovered_pence"] = sum(recovered.values())
    totals["net_paid_pence"] = totals["paid_pence"] - totals["recovered_pence"]
    return {
        "place_id": place_id,
        "financial_year": year,
        "financial_years": years,
        "closed": bool(year and await db.period_is_closed(conn, place_id, year)),
        "streams": streams,
        "departments": list(departments.values()),
        "totals": totals,
    }


async def last_reconciliation(conn: asyncpg.Connection, place_id: str) -> JsonObject | None:
    """The last `singlepot reconcile` run that covered the place (alone or with every place):
    `{"place_id" (None: every place), "started_at", "finished_at", "differences_count",
    "accounts_checked", "clean"}`, or None when none has run."""
    run = await db.latest_reconciliation_run(conn, place_id)
    if run is None:
        return None
    return {**run, "clean": run["differences_count"] == 0}


async def spend_over_time(
    conn: asyncpg.Connection, place_id: str, department_code: str | None
) -> list[JsonObject]:
    """Spend per calendar month (UK time) and department, from the spend events' own times.

    Returns `[{"month": "2026-04", "department_code", "spent_pence" (in that month),
    "cumulative_pence" (that department's spend up to and including the month)}]`, ordered by
    department then month; only the given department when `department_code` is set. Months with
    no spend for a department are left out (its cumulative figure carries over). Recoveries
    (clawbacks) count as negative spend in the month the ledger recorded them, so the figures
    are net of them, as the ledger's are.
    """
    return await delivery_db.spend_by_month_net(conn, place_id, department_code)


async def board_proposals(conn: asyncpg.Connection, place_id: str) -> list[JsonObject]:
    """Every allocation proposed in the place, newest first, as the board page shows it.

    Returns `[{"allocation_id", "status" (proposed | approved | awaiting_sign_off | signed_off |
    sign_off_refused | funded | unfunded | rejected | cancelled | expired | refused),
    "status_reason", "allocation_type", "recipient_id", "value_pence" (int | None), "purpose",
    "purpose_tags" [str], "financial_year", "start_date", "end_date", "proposed_by",
    "proposed_at" (ISO time | None), "mission": {"mission_id", "title" (None when no adopted plan
    names it), "plan_id"}, "votes": [{"member_id", "vote" (for | against | abstain),
    "rules_version", "reason" (str | None: why the member voted so, if they said)}],
    "recused": [member ids — from the decision, else from interests declared in the allocation or
    its recipient], "decision": None |
    {"outcome" (approved | rejected), "rules_version", "reason", "decided_at", "votes_for",
    "votes_against", "abstentions", "recused"}, "sign_off": {"needed" (bool | None: not yet
    known), "state" (not_needed | awaiting | signed_off | refused | None), "accounting_officer_id",
    "reasons", "decided_at"}, "refusals": [{"command_type", "rule", "message", "refused_at"}],
    "earmark_check": {"state" (passed | failed | not_applicable), "message"}}]`.

    A proposal the allocations service refused outright (an earmark breach, say) never became an
    allocation: it is listed with status "refused", its refusals, and None for what is unknown.
    """
    allocations = await db.board_allocations(conn, place_id)
    votes = _grouped(await db.votes_for_place(conn, place_id), "allocation_id")
    decisions = _keyed(await db.board_decisions(conn, place_id), "allocation_id")
    sign_offs = _keyed(await db.sign_offs(conn, place_id), "allocation_id")
    refusals = _grouped(await db.refusals_for_place(conn, place_id), "subject_id")
    interests = await db.interests_for_place(conn, place_id)
    missions = {row["mission_id"]: row for row in await db.missions_for_place(conn, place_id)}
    has_earmarks = bool(await db.earmarks_for_place(conn, place_id))
    proposals = []
    for allocation in allocations:
        allocation_id = allocation["allocation_id"]
        decision = decisions.get(allocation_id)
        own_refusals = refusals.pop(allocation_id, []) + _rejection(allocation)
        sign_off = domain.sign_off_state(
            allocation.pop("sign_off_required"), sign_offs.get(allocation_id)
        )
        mission = _mission(missions, allocation.pop("mission_id"))
        proposals.append(
            {
                **allocation,
                "mission": mission,
                "votes": votes.get(allocation_id, []),
                "recused": domain.recused_members(decision, interests, allocation),
                "decision": decision,
                "sign_off": sign_off,
                "refusals": own_refusals,
                "earmark_check": domain.earmark_check(own_refusals, has_earmarks),
            }
        )
    for subject_id, subject_refusals in refusals.items():
        if any(row["command_type"] == "ProposeAllocation" for row in subject_refusals):
            proposals.append(_refused_proposal(subject_id, subject_refusals, has_earmarks))
    proposals.sort(key=lambda row: (row["proposed_at"] or "", row["allocation_id"]), reverse=True)
    return proposals


async def public_decisions(conn: asyncpg.Connection, place_id: str) -> list[JsonObject]:
    """The place's decisions on allocations as anyone may read them, newest first.

    Returns `[{"allocation_id", "variation_id" (None for the allocation itself), "purpose",
    "recipient_id", "allocation_type", "value_pence", "financial_year", "status" (where the
    allocation stands now: an approval can still fail an earmark re-check or sign-off),
    "decision" (approved |
    rejected), "reason", "decided_on" ("2026-05-01" | None), "rules_version" (int | None),
    "tally": {"for", "against", "abstain", "recused"} (counts), "votes_for", "votes_against",
    "abstentions", "recused" (published board member ids)}]`. A place without a configured board
    decides without votes: its tally is all zeros.
    """
    rows = await db.public_decisions(conn, place_id)
    return [
        {
            **row,
            "tally": {
                "for": len(row["votes_for"]),
                "against": len(row["votes_against"]),
                "abstain": len(row["abstentions"]),
                "recused": len(row["recused"]),
            },
        }
        for row in rows
    ]


async def provider_overview(
    conn: asyncpg.Connection, place_id: str, provider_id: str
) -> JsonObject:
    """One provider's page: its contracts, evidence batches, remittances, payments, statement.

    Returns `{"place_id", "provider_id", "contracts": [{"contract_id", "allocation_id",
    "cap_pence", "prices": [{"metric_id", "price_pence", "cap_pence", "payer_id"}], "start_date",
    "end_date"}], "batches": [{"contract_id", "batch_id", "status" (submitted |
    awaiting_verification | verified | held | rejected), "claim_count", "accepted_count",
    "rejected_count",
    "verified_count", "amount_pence", "reasons" [str]}], "remittances": [{"contract_id",
    "batch_id", "payment_id", "amount_pence", "transfer_id", "advised_at", "lines":
    [{"claim_period_id", "metric_id", "metric_version", "outcome_count", "amount_pence"}],
    "payer_shares": [{"payer_id", "amount_pence"}]}],
    "payments": [{"payment_id", "allocation_id", "contract_id", "claim_batch_id", "amount_pence",
    "payment_kind", "status" (made | rejected), "reason", "recovered_pence"}], "recoveries":
    [{"contract_id", "clawback_id", "payment_id", "metric_id", "amount_pence", "status" (raised |
    recovered | refused), "reason"}], "statement": {"paid_pence", "recovered_pence", "net_pence",
    "remitted_pence", "awaiting_payment_pence" (verified batches not yet paid),
    "remitted_by_payer" {payer_id: pence} (outcome payments split by the contracts' payers)}}`.
    """
    contracts = await db.contracts_of_provider(conn, place_id, provider_id)
    batches = await db.batches_of_provider(conn, place_id, provider_id)
    remittances = await db.remittances_of_provider(conn, place_id, provider_id)
    payments = await db.payments_of_provider(conn, place_id, provider_id)
    recoveries = await db.clawbacks_of_provider(conn, place_id, provider_id)
    paid_pence = sum(row["amount_pence"] for row in payments if row["status"] == "made")
    recovered_pence = sum(row["recovered_pence"] for row in payments)
    remitted_batches = {(row["contract_id"], row["batch_id"]) for row in remittances}
    return {
        "place_id": place_id,
        "provider_id": provider_id,
        "contracts": contracts,
        "batches": batches,
        "remittances": remittances,
        "payments": payments,
        "recoveries": recoveries,
        "statement": {
            "paid_pence": paid_pence,
            "recovered_pence": recovered_pence,
            "net_pence": paid_pence - recovered_pence,
            "remitted_pence": sum(row["amount_pence"] for row in remittances),
            "remitted_by_payer": _remitted_by_payer(remittances),
            "awaiting_payment_pence": sum(
                row["amount_pence"]
                for row in batches
                if row["status"] == "verified"
                and (row["contract_id"], row["batch_id"]) not in remitted_batches
            ),
        },
    }


def _remitted_by_payer(remittances: list[JsonObject]) -> dict[str, int]:
    """What each outcome payer has paid the provider, from the remittances' payer shares."""
    totals: dict[str, int] = {}
    for remittance in remittances:
        for share in remittance.get("payer_shares") or ():
            totals[share["payer_id"]] = totals.get(share["payer_id"], 0) + share["amount_pence"]
    return dict(sorted(totals.items()))


async def verifier_queue(conn: asyncpg.Connection, place_id: str) -> list[JsonObject]:
    """Batches waiting for a verifier's decision, by contract and batch, with the claims drawn.

    Returns `[{"contract_id", "batch_id", "provider_id", "claim_count", "accepted_count",
    "sample_size", "sample": [{"participant_hash" (pseudonymous, 64 hex), "metric_id",
    "evidence_reference", "row_number" (int | None)}]}]`.
    """
    return await db.verifier_queue(conn, place_id)


async def department_spend(
    conn: asyncpg.Connection, place_id: str, department_code: str
) -> list[JsonObject]:
    """Spend attributed to one department's streams in the place, in feed order (for the page
    and the CSV download): only that department's shares, never another's. A recovery
    (clawback) of a payment is a row of negative spend: `kind` "recovery", every amount
    negative, `spent_at` when the ledger recorded the recovery.

    Returns `[{"sequence", "event_id", "spend_id", "payment_id", "allocation_id", "provider_id",
    "contract_id", "payment_kind", "purpose", "financial_year", "spent_at" (ISO time | None),
    "amount_pence" (the whole payment), "department_amount_pence" (this department's part),
    "attribution": [{"department_code", "funding_stream_code", "amount_pence"}],
    and for a recovery also "kind": "recovery", "recovery_id", "transfer_id",
    "recovered_at"}]`.
    """
    rows = await delivery_db.department_spend_rows(conn, place_id, department_code)
    spent_at = await db.spent_at_of(conn, [row["spend_id"] for row in rows])
    for row in rows:
        row["spent_at"] = spent_at.get(row["spend_id"]) or row["spent_at"]
    return rows


async def outcomes_against_targets(
    conn: asyncpg.Connection, place_id: str, contract_id: str
) -> list[JsonObject]:
    """Per metric of a contract: outcomes paid so far against the target and the caps.

    Returns `[{"metric_id", "definition" (str | None), "price_pence", "target_count" (int |
    None), "target_pence" (target_count × price, or None), "cap_pence" (the metric's cap | None),
    "payer_id" (str | None), "payer_cap_pence" (int | None), "achieved_count" (outcomes paid),
    "paid_pence", "recovered_pence" (clawed back and recovered)}]`, in the order the contract
    prices them. Empty for an unknown contract.
    """
    contract = await db.contract_terms(conn, place_id, contract_id)
    if contract is None:
        return []
    achieved = {
        row["metric_id"]: row for row in await db.metric_totals(conn, place_id, contract_id)
    }
    recovered = {
        row["metric_id"]: row["recovered_pence"]
        for row in await db.metric_recoveries(conn, place_id, contract_id)
    }
    definitions = {metric["metric_id"]: metric for metric in contract["terms"].get("metrics", [])}
    payer_caps = {
        payer["payer_id"]: payer.get("cap_pence") for payer in contract["terms"].get("payers", [])
    }
    rows = []
    for price in contract["prices"]:
        metric_id = price["metric_id"]
        definition = definitions.get(metric_id, {})
        target_count = definition.get("target_count")
        totals = achieved.get(metric_id, {})
        rows.append(
            {
                "metric_id": metric_id,
                "definition": definition.get("definition"),
                "price_pence": price["price_pence"],
                "target_count": target_count,
                "target_pence": None
                if target_count is None
                else target_count * price["price_pence"],
                "cap_pence": price.get("cap_pence"),
                "payer_id": price.get("payer_id"),
                "payer_cap_pence": payer_caps.get(price.get("payer_id")),
                "achieved_count": totals.get("outcome_count", 0),
                "paid_pence": totals.get("amount_pence", 0),
                "recovered_pence": recovered.get(metric_id, 0),
            }
        )
    return rows


async def funnel_by_segment(
    conn: asyncpg.Connection, place_id: str, contract_id: str
) -> list[JsonObject]:
    """The referred → engaged → paid funnel of a contract, by difficulty segment (easiest first,
    as the contract declares them) then a last row with segment "all" holding the totals.

    Returns `[{"segment", "referred", "engaged", "achieved", "paid"}]` (counts of participants).
    Segments come from the outcomes service's latest `FunnelMeasured`; a declared segment with
    no participants yet counts zeros. Before any measurement the segment rows carry None and the
    "all" row is built from the referral, engagement and remittance counts. Empty for an
    unknown contract.
    """
    contract = await db.contract_terms(conn, place_id, contract_id)
    if contract is None:
        return []
    measured = await db.segment_funnel(conn, place_id, contract_id)
    declared = list(contract["terms"].get("difficulty_segments", []))
    segments = declared + sorted(set(measured) - set(declared))
    steps = ("referred", "engaged", "achieved", "paid")
    if not measured:
        totals = await db.contract_funnel(conn, place_id, contract_id)
        rows: list[JsonObject] = [
            {"segment": segment, **dict.fromkeys(steps)} for segment in declared
        ]
        return [*rows, {"segment": "all", "achieved": None, **totals}]
    rows = [
        {"segment": segment, **{step: measured.get(segment, {}).get(step, 0) for step in steps}}
        for segment in segments
    ]
    totals = {step: sum(row[step] for row in rows) for step in steps}
    return [*rows, {"segment": "all", **totals}]


async def claims(conn: asyncpg.Connection, place_id: str) -> list[JsonObject]:
    """Right to Serve and Right to Request claims, newest first, with their deadline.

    Returns `[{"claim_id", "claim_kind" (right_to_serve | right_to_request), "claimant_id",
    "claimant_kind", "service_description", "lodged_on", "response_due_on", "status" (awaiting |
    overdue | responded), "overdue" (bool: no answer by the deadline, or answered late),
    "outcome" (accepted | accepted_in_part | rejected | None), "reasons", "responded_by",
    "responded_on", "late" (bool | None)}]`.
    """
    return await db.claims_for_place(conn, place_id)


# --- Helpers ----------------------------------------------------------------------------------


def _keyed(rows: list[JsonObject], key: str) -> dict[str, JsonObject]:
    return {row.pop(key): row for row in rows}


def _rejection(allocation: JsonObject) -> list[JsonObject]:
    """A rejection that applied a rule other than the vote (an earmark re-checked when the
    board decided) is shown with the refusals. Takes the rejection's fields off the row."""
    rule = allocation.pop("rejection_rule")
    reason = allocation.pop("decision_reason")
    decided_at = allocation.pop("decided_at")
    if rule is None or rule == "majority":
        return []
    return [
        {
            "command_type": "AllocationRejected",
            "rule": rule,
            "message": reason,
            "refused_at": decided_at,
        }
    ]


def _grouped(rows: list[JsonObject], key: str) -> dict[str, list[JsonObject]]:
    grouped: dict[str, list[JsonObject]] = {}
    for row in rows:
        grouped.setdefault(row.pop(key), []).append(row)
    return grouped


def _mission(missions: dict[str, JsonObject], mission_id: str) -> JsonObject:
    mission = missions.get(mission_id, {})
    return {
        "mission_id": mission_id,
        "title": mission.get("title"),
        "plan_id": mission.get("plan_id"),
    }


def _refused_proposal(
    allocation_id: str, refusals: list[JsonObject], has_earmarks: bool
) -> JsonObject:
    last = refusals[-1]
    return {
        "allocation_id": allocation_id,
        "status": "refused",
        "status_reason": last["message"],
        "allocation_type": None,
        "recipient_id": None,
        "value_pence": None,
        "purpose": None,
        "purpose_tags": [],
        "financial_year": None,
        "start_date": None,
        "end_date": None,
        "proposed_by": None,
        "proposed_at": refusals[0]["refused_at"],
        "mission": {"mission_id": None, "title": None, "plan_id": None},
        "votes": [],
        "recused": [],
        "decision": None,
        "sign_off": domain.sign_off_state(None, None),
        "refusals": refusals,
        "earmark_check": domain.earmark_check(refusals, has_earmarks),
    }


async def statement_by_year(
    conn: asyncpg.Connection,
    place_id: str,
    *,
    department_code: str | None = None,
    provider_id: str | None = None,
) -> JsonObject:
    """A department's or a provider's statement: paid, recovered and net, in all and per
    financial year (a recovery counts in the year the ledger booked it).

    Returns `{"paid_pence", "recovered_pence", "net_pence", "by_year": [{"financial_year",
    "paid_pence", "recovered_pence", "net_pence"}]}`.
    """
    rows = await delivery_db.statement_by_year(conn, place_id, department_code, provider_id)
    by_year = [{**row, "net_pence": row["paid_pence"] - row["recovered_pence"]} for row in rows]
    paid_pence = sum(row["paid_pence"] for row in rows)
    recovered_pence = sum(row["recovered_pence"] for row in rows)
    return {
        "paid_pence": paid_pence,
        "recovered_pence": recovered_pence,
        "net_pence": paid_pence - recovered_pence,
        "by_year": by_year,
    }
