"""Grant monitoring's actions, shared by the API and the pages: set a grant's plan, send and
review a report, send and review a claim. Each runs in one transaction; a change to the reports
also puts the allocations service's RecordGrantReporting in the gateway's outbox (its payment
rule lives there), and an approved claim puts PayGrantClaim there. A broken rule raises
`MonitoringRefused` naming the field and the rule."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from contracts.allocations import GrantReportState, PayGrantClaim, RecordGrantReporting
from services.gateway.monitoring import db, diligence, domain
from services.gateway.monitoring.domain import Measure, MonitoringRefused
from services.runtime.outbox import Outbox

# Reports fall due on UK dates, whatever zone the servers run in.
UK = ZoneInfo("Europe/London")


def today() -> date:
    return datetime.now(UK).date()


async def _grant(connection: asyncpg.Connection, place_id: str, allocation_id: str) -> db.Row:
    grant = await db.grant_of(connection, place_id, allocation_id)
    if grant is None or grant["allocation_type"] != "grant":
        raise MonitoringRefused(
            "allocation_id", "grant_exists", f"no grant {allocation_id} in {place_id}", 404
        )
    return grant


async def _recipients_grant(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, recipient_id: str
) -> db.Row:
    """The grant, if it is this recipient's (else the same 404 as no grant at all)."""
    grant = await _grant(connection, place_id, allocation_id)
    if grant["recipient_id"] != recipient_id:
        raise MonitoringRefused(
            "allocation_id", "grant_exists", f"no grant {allocation_id} for {recipient_id}", 404
        )
    return grant


async def set_plan(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    measures: list[Measure],
    schedule: dict[str, Any],
    paid_in_arrears: bool,
    set_by: str,
) -> list[domain.ScheduledReport]:
    """Agree the measures and the schedule; refused once a report has been sent."""
    domain.check_measures(measures)
    reports = domain.schedule_reports(schedule)
    async with connection.transaction():
        grant = await _grant(connection, place_id, allocation_id)
        await db.lock_plan(connection, place_id, allocation_id)
        if await db.reports_started(connection, place_id, allocation_id):
            raise MonitoringRefused(
                "schedule",
                "before_first_report",
                "reports have already been sent for this grant; its schedule stays as agreed",
                409,
            )
        await db.save_plan(
            connection, place_id, grant, measures, schedule, paid_in_arrears, reports, set_by
        )
        await tell_allocations(connection, place_id, allocation_id)
    return reports


async def submit_report(
    connection: asyncpg.Connection,
    place_id: str,
    recipient_id: str,
    allocation_id: str,
    report_number: int,
    figures: dict[str, Any],
    narrative: str,
    attachments: list[str],
    submitted_by: str,
) -> None:
    async with connection.transaction():
        await _recipients_grant(connection, place_id, allocation_id, recipient_id)
        plan = await db.plan_of(connection, place_id, allocation_id)
        report = await db.lock_report(connection, place_id, allocation_id, report_number)
        if plan is None or report is None:
            raise MonitoringRefused(
                "report_number", "scheduled", f"grant {allocation_id} has no report {report_number}"
            )
        domain.check_submission(report["status"], plan["measures"], figures, narrative, attachments)
        await db.submit_report(
            connection,
            place_id,
            allocation_id,
            report_number,
            figures,
            narrative,
            attachments,
            submitted_by,
        )
        await tell_allocations(connection, place_id, allocation_id)


async def review_report(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    report_number: int,
    decision: str,
    note: str,
    reviewed_by: str,
) -> str:
    """Accept a received report or return it for changes; the new status."""
    async with connection.transaction():
        await _grant(connection, place_id, allocation_id)
        plan = await db.plan_of(connection, place_id, allocation_id)
        report = await db.lock_report(connection, place_id, allocation_id, report_number)
        if plan is None or report is None:
            raise MonitoringRefused(
                "report_number", "scheduled", f"grant {allocation_id} has no report {report_number}"
            )
        status = domain.review_outcome(report["status"], decision, note)
        await db.review_report(
            connection, place_id, allocation_id, report_number, status, reviewed_by, note
        )
        await tell_allocations(connection, place_id, allocation_id)
    return status


async def tell_allocations(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> None:
    """Send the allocations service what its payment rule needs of a grant: each report's due
    date and status, whether it is paid in arrears, and why payments wait (a red rating)."""
    grant = await _grant(connection, place_id, allocation_id)
    plan = await db.plan_of(connection, place_id, allocation_id)
    reports = await db.reports_of_grant(connection, place_id, allocation_id)
    command = RecordGrantReporting(
        place_id=place_id,
        allocation_id=allocation_id,
        reports=tuple(
            GrantReportState(
                report_number=r["report_number"], due_date=r["due_date"], status=r["status"]
            )
            for r in reports
        ),
        paid_in_arrears=bool(plan and plan["paid_in_arrears"]),
        as_of=today(),
        payments_blocked=await blocked_reason(connection, place_id, grant["recipient_id"]),
    )
    await Outbox(connection, producer="gateway").add(command)


async def blocked_reason(
    connection: asyncpg.Connection, place_id: str, organisation_ref: str
) -> str | None:
    """Why sign-off and payment wait for an organisation (a red rating not overridden)."""
    found = await db.due_diligence_of(connection, place_id, organisation_ref)
    if found is None:
        return None
    record, override, _ = found
    # The validity period cannot make a rating red (diligence.Rating), so any will do here.
    rating = diligence.rate(record, today(), valid_days=diligence.VALIDITY_IRRELEVANT_DAYS)
    return diligence.block(organisation_ref, rating, override)


# --- Claims on grants paid in arrears -----------------------------------------------------------


async def claim_remaining(
    connection: asyncpg.Connection, place_id: str, grant: db.Row, claim_id: str = ""
) -> int:
    paid, pending = await db.claim_figures(connection, place_id, grant["allocation_id"], claim_id)
    return domain.remaining_pence(grant["funded_pence"], paid, pending)


async def submit_claim(
    connection: asyncpg.Connection,
    place_id: str,
    recipient_id: str,
    allocation_id: str,
    claim_id: str,
    amount_pence: int,
    evidence: str,
    submitted_by: str,
) -> int:
    """Record a claim (or send a returned one again); what remains after it."""
    async with connection.transaction():
        grant = await _recipients_grant(connection, place_id, allocation_id, recipient_id)
        plan = await db.plan_of(connection, place_id, allocation_id)
        if plan is None or not plan["paid_in_arrears"]:
            raise MonitoringRefused(
                "allocation_id",
                "paid_in_arrears",
                f"grant {allocation_id} is paid by instalments, not by claims",
                409,
            )
        existing = await db.lock_claim(connection, place_id, claim_id)
        if existing is not None and (
            existing["allocation_id"] != allocation_id
            or existing["status"] != domain.CLAIM_CHANGES_REQUESTED
        ):
            raise MonitoringRefused(
                "claim_id",
                "claim_id_unique",
                f"claim {claim_id} was already sent; only a claim returned for changes can be "
                "sent again",
                409,
            )
        remaining = await claim_remaining(connection, place_id, grant, claim_id)
        domain.check_claim(amount_pence, evidence, remaining)
        await db.save_claim(
            connection, place_id, claim_id, grant, amount_pence, evidence, submitted_by
        )
    return remaining - amount_pence


async def review_claim(
    connection: asyncpg.Connection,
    place_id: str,
    claim_id: str,
    step: str,
    decision: str,
    note: str,
    reviewed_by: str,
) -> str:
    """Programme staff's or finance's decision on a claim; finance's approval sends it to the
    allocations service for payment. The claim's new status."""
    async with connection.transaction():
        claim = await db.lock_claim(connection, place_id, claim_id)
        if claim is None:
            raise MonitoringRefused("claim_id", "claim_exists", f"no claim {claim_id}", 404)
        status = domain.claim_review(claim["status"], step, decision, note)
        blocked = await blocked_reason(connection, place_id, claim["recipient_id"])
        if status == domain.CLAIM_APPROVED and blocked:
            raise MonitoringRefused("claim_id", "due_diligence", f"payment waits: {blocked}", 409)
        if step == "programme":
            await db.programme_review_claim(
                connection, place_id, claim_id, status, reviewed_by, note
            )
            return status
        event_id = None
        if status == domain.CLAIM_APPROVED:
            event_id = uuid.uuid4()
            command = PayGrantClaim(
                place_id=place_id,
                allocation_id=claim["allocation_id"],
                claim_id=claim_id,
                amount_pence=claim["amount_pence"],
                approved_by=reviewed_by,
            )
            await Outbox(connection, producer="gateway").add(command, event_id=event_id)
        await db.finance_review_claim(
            connection, place_id, claim_id, status, reviewed_by, note, None, event_id
        )
    return status
