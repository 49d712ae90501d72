"""The allocations domain's rules for monitored grants: an instalment is held while a report
due on or before it is overdue or returned for changes, released (and paid) once the reports no
longer hold it, and a grant paid in arrears is paid only by approved claims, never beyond what
remains of its reservation.

Pure, like `domain.py`, and kept beside it so the instalment rules there stay as they are: the
due-work run asks `due_work_with_holds` instead of `domain.due_work`, which masks held
instalments so that `domain.due_instalments` passes them by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from contracts import Event, format_pounds
from contracts.allocations import (
    GrantClaimPaymentRequested,
    InstalmentHeld,
    InstalmentHoldReleased,
    PayGrantClaim,
    ProcessDueWork,
    RecordGrantReporting,
)
from contracts.decisions import Decision
from contracts.ledger import PaymentRequested
from services.allocations import domain
from services.allocations.errors import Refused

# Report statuses, as the gateway's monitoring room sends them.
DUE, RECEIVED, ACCEPTED, CHANGES_REQUESTED = "due", "received", "accepted", "changes_requested"
# A status only this module gives an instalment, and only for the length of one decision.
_MASKED = "held"


@dataclass(frozen=True)
class ReportDue:
    report_number: int
    due_date: date
    status: str


@dataclass(frozen=True)
class Hold:
    instalment_number: int
    report_number: int | None  # None: the recipient's due diligence holds it
    reason: str


@dataclass(frozen=True)
class Reporting:
    """What the monitoring room last said of a grant's reports, the instalments held now, and
    the claims whose payment was requested (claim id → amount) and those of them whose payment
    the ledger refused."""

    reports: tuple[ReportDue, ...] = ()
    paid_in_arrears: bool = False
    holds: tuple[Hold, ...] = ()
    claims_requested: tuple[tuple[str, int], ...] = ()
    payments_blocked: str | None = None
    claims_refused: tuple[str, ...] = ()

    def hold_of(self, instalment_number: int) -> Hold | None:
        return next((h for h in self.holds if h.instalment_number == instalment_number), None)

    @property
    def claimed_pence(self) -> int:
        """What the requested claims draw on the reservation: a claim whose payment the ledger
        refused draws nothing, since no money left the reservation for it."""
        return sum(
            amount
            for claim_id, amount in self.claims_requested
            if claim_id not in self.claims_refused
        )


def holding(
    reporting: Reporting, instalment: domain.ScheduledInstalment, as_of: date
) -> Hold | None:
    """What holds an instalment on `as_of`: a red due diligence rating, else a report."""
    if reporting.payments_blocked:
        return Hold(instalment.number, None, reporting.payments_blocked)
    return blocking_hold(reporting.reports, instalment, as_of)


def blocking_hold(
    reports: tuple[ReportDue, ...], instalment: domain.ScheduledInstalment, as_of: date
) -> Hold | None:
    """The first report due on or before the instalment that holds it on `as_of`: one returned
    for changes, or one past its due date and not yet accepted (received late and waiting for
    review still holds: an overdue report holds the money until it is accepted)."""
    for report in sorted(reports, key=lambda r: r.report_number):
        if report.due_date > instalment.due_date or report.status == ACCEPTED:
            continue
        if report.status == CHANGES_REQUESTED:
            reason = (
                f"report {report.report_number} (due {report.due_date}) was returned for "
                "changes and has not been accepted yet"
            )
        elif report.due_date < as_of:
            received = " (received, waiting for review)" if report.status == RECEIVED else ""
            reason = (
                f"report {report.report_number} was due on {report.due_date} and has not "
                f"been accepted{received}"
            )
        else:
            continue
        return Hold(instalment.number, report.report_number, reason)
    return None


def due_work_with_holds(
    allocation: domain.Allocation, reporting: Reporting, as_of: date
) -> tuple[domain.Change, Reporting]:
    """`domain.due_work` with the monitoring rule: instalments due by `as_of` that a report
    holds are not requested, and each newly held one is announced once."""
    if reporting.paid_in_arrears:
        # Its instalments are never requested: approved claims pay it (`pay_claim`).
        every = {i.number for i in allocation.instalments}
        change = domain.due_work(_masked(allocation, every), as_of)
        return domain.Change(_unmasked(change.allocation, every), change.events), reporting
    running = allocation.status == domain.FUNDED  # only a funded grant pays, or is held
    holds = {
        i.number: hold
        for i in allocation.instalments
        if running and i.status == domain.SCHEDULED and i.due_date <= as_of
        for hold in [holding(reporting, i, as_of)]
        if hold is not None
    }
    masked = _masked(allocation, set(holds))
    change = domain.due_work(masked, as_of)
    held_events = [
        _held_event(allocation, hold)
        for number, hold in holds.items()
        if reporting.hold_of(number) is None
    ]
    kept = tuple(h for h in reporting.holds if h.instalment_number not in holds)
    new_reporting = replace(reporting, holds=(*kept, *holds.values()))
    unmasked = _unmasked(change.allocation, set(holds))
    return domain.Change(unmasked, (*held_events, *change.events)), new_reporting


def reporting_recorded(
    allocation: domain.Allocation, reporting: Reporting, new: Reporting, as_of: date
) -> tuple[domain.Change, Reporting]:
    """The monitoring room's new state of the reports: every held instalment no longer held by
    it on `as_of` is released and its payment requested now (it was already due)."""
    released: list[Hold] = []
    still_held: list[Hold] = []
    for hold in reporting.holds:
        instalment = _instalment(allocation, hold.instalment_number)
        # Judged no earlier than the day it fell due, whatever day the news comes.
        judged_on = max(as_of, instalment.due_date) if instalment else as_of
        blocked = instalment is not None and (
            new.paid_in_arrears or holding(new, instalment, judged_on) is not None
        )
        (still_held if blocked else released).append(hold)
    others = {i.number for i in allocation.instalments} - {h.instalment_number for h in released}
    masked = _masked(allocation, others)
    last_due = max((i.due_date for i in allocation.instalments), default=as_of)
    paid = domain.due_instalments(masked, last_due)
    unmasked = _unmasked(paid.allocation, others)
    events: list[Event] = [
        InstalmentHoldReleased(
            place_id=allocation.place_id,
            allocation_id=allocation.allocation_id,
            instalment_number=hold.instalment_number,
            report_number=hold.report_number,
            payment_id=domain.payment_id_for(allocation.allocation_id, hold.instalment_number),
        )
        for hold in released
        if _instalment(unmasked, hold.instalment_number) is not None
    ]
    kept = replace(new, holds=tuple(still_held), claims_requested=reporting.claims_requested)
    if allocation.status != domain.FUNDED:
        # Nothing can be paid from an allocation that is not running: the holds stay.
        return domain.Change(allocation, ()), replace(kept, holds=reporting.holds)
    return domain.Change(unmasked, (*events, *paid.events)), kept


def remaining_pence(
    allocation: domain.Allocation, reporting: Reporting, paid_claims_pence: int
) -> int:
    """What a claim may still draw: the reservation's unspent money less the claims whose
    payment was requested and not yet paid (`paid_claims_pence`: the claims already paid,
    which the unspent money already counts)."""
    return allocation.unspent_pence - (reporting.claimed_pence - paid_claims_pence)


def pay_claim(
    allocation: domain.Allocation,
    reporting: Reporting,
    claim_id: str,
    amount_pence: int,
    paid_claims_pence: int,
) -> tuple[domain.Change, Reporting] | None:
    """Request payment of an approved claim, or None when it was already requested. Refused
    when the grant is not running or the claim exceeds what remains of the reservation."""
    if any(existing == claim_id for existing, _ in reporting.claims_requested):
        return None
    if reporting.payments_blocked:
        raise Refused("due_diligence", f"the claim waits: {reporting.payments_blocked}")
    if allocation.status != domain.FUNDED:
        raise Refused(
            "allocation_running",
            f"allocation {allocation.allocation_id} is {allocation.status}; only a funded grant "
            "can pay a claim",
        )
    remaining = remaining_pence(allocation, reporting, paid_claims_pence)
    if amount_pence > remaining:
        raise Refused(
            "claim_within_remaining",
            f"the claim of {format_pounds(amount_pence)} is more than the "
            f"{format_pounds(remaining)} that remains of allocation "
            f"{allocation.allocation_id}",
            figures={"claimed_pence": amount_pence, "remaining_pence": remaining},
        )
    payment_id = claim_payment_id(allocation.allocation_id, claim_id)
    request = PaymentRequested(
        place_id=allocation.place_id,
        payment_id=payment_id,
        allocation_id=allocation.allocation_id,
        provider_id=allocation.proposal.recipient_id,
        amount_pence=amount_pence,
        payment_kind="grant_instalment",
        purpose=allocation.purpose,
    )
    requested = GrantClaimPaymentRequested(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        claim_id=claim_id,
        payment_id=payment_id,
        amount_pence=amount_pence,
    )
    claims = (*reporting.claims_requested, (claim_id, amount_pence))
    return domain.Change(allocation, (request, requested)), replace(
        reporting, claims_requested=claims
    )


def claim_payment_refused(
    reporting: Reporting, allocation_id: str, payment_id: str
) -> Reporting | None:
    """The reporting state once the ledger has refused this payment, or None when the payment
    is not one of this grant's claims (an instalment, say) or its refusal is already known."""
    refused = next(
        (
            claim_id
            for claim_id, _ in reporting.claims_requested
            if claim_payment_id(allocation_id, claim_id) == payment_id
        ),
        None,
    )
    if refused is None or refused in reporting.claims_refused:
        return None
    return replace(reporting, claims_refused=(*reporting.claims_refused, refused))


def claim_payment_id(allocation_id: str, claim_id: str) -> str:
    """Deterministic and at most 128 characters, so the ledger pays a claim once however often
    it is asked."""
    plain = f"{allocation_id}/c-{claim_id}"
    if len(plain) <= domain.IDENTIFIER_LENGTH_MAX:
        return plain
    return f"{hashlib.sha256(plain.encode()).hexdigest()}/c"


def _held_event(allocation: domain.Allocation, hold: Hold) -> InstalmentHeld:
    instalment = _instalment(allocation, hold.instalment_number)
    assert instalment is not None
    return InstalmentHeld(
        place_id=allocation.place_id,
        allocation_id=allocation.allocation_id,
        instalment_number=hold.instalment_number,
        report_number=hold.report_number,
        amount_pence=instalment.amount_pence,
        reason=hold.reason,
    )


def _instalment(allocation: domain.Allocation, number: int) -> domain.ScheduledInstalment | None:
    return next((i for i in allocation.instalments if i.number == number), None)


def _masked(allocation: domain.Allocation, numbers: set[int]) -> domain.Allocation:
    """The allocation with its scheduled instalments `numbers` marked held, so the instalment
    rules pass them by."""
    return replace(
        allocation,
        instalments=tuple(
            replace(i, status=_MASKED)
            if i.number in numbers and i.status == domain.SCHEDULED
            else i
            for i in allocation.instalments
        ),
    )


def _unmasked(allocation: domain.Allocation, numbers: set[int]) -> domain.Allocation:
    return replace(
        allocation,
        instalments=tuple(
            replace(i, status=domain.SCHEDULED)
            if i.number in numbers and i.status == _MASKED
            else i
            for i in allocation.instalments
        ),
    )


# --- Decisions: the shape every command of this service is decided in (contracts.decisions) ---


@dataclass(frozen=True)
class HeldDueWork:
    """The due work as decided, and the reports' state of each grant whose holds changed."""

    due: domain.DueWork
    reportings: tuple[tuple[str, Reporting], ...]


def decide_due_work(
    allocations: Sequence[domain.Allocation],
    reportings: Mapping[str, Reporting],
    overdue: Sequence[domain.Claim],
    command: ProcessDueWork,
) -> Decision[HeldDueWork]:
    """`domain.decide_due_work`, with instalments that reports hold left unrequested (and each
    newly held one announced once)."""
    changed: list[domain.Allocation] = []
    events: list[Event] = []
    new_reportings: list[tuple[str, Reporting]] = []
    for allocation in allocations:
        reporting = reportings.get(allocation.allocation_id, Reporting())
        change, new_reporting = due_work_with_holds(allocation, reporting, command.as_of)
        if new_reporting != reporting:
            new_reportings.append((allocation.allocation_id, new_reporting))
        if change.events:
            changed.append(change.allocation)
            events += change.events
    claims = domain.decide_due_work((), overdue, command)
    flagged = claims.state.claims if claims.state is not None else ()
    due = domain.DueWork(tuple(changed), flagged)
    return Decision(HeldDueWork(due, tuple(new_reportings)), (*events, *claims.events))


def decide_reporting_recorded(
    allocation: domain.Allocation | None, reporting: Reporting, command: RecordGrantReporting
) -> Decision[tuple[domain.Allocation, Reporting]]:
    """The monitoring room's new state of a grant's reports: what they no longer hold is
    released and paid (`reporting_recorded`)."""
    if allocation is None:
        return _no_allocation(command.place_id, command.allocation_id)
    new = Reporting(
        reports=tuple(ReportDue(r.report_number, r.due_date, r.status) for r in command.reports),
        paid_in_arrears=command.paid_in_arrears,
        payments_blocked=command.payments_blocked,
    )
    change, saved = reporting_recorded(allocation, reporting, new, command.as_of)
    return Decision((change.allocation, saved), change.events)


def decide_pay_claim(
    allocation: domain.Allocation | None,
    reporting: Reporting,
    command: PayGrantClaim,
    paid_claims_pence: int,
) -> Decision[tuple[domain.Allocation, Reporting]]:
    """An approved claim paid from the reservation, never beyond what remains of it; the same
    claim again does nothing."""
    if allocation is None:
        return _no_allocation(command.place_id, command.allocation_id)
    try:
        decided = pay_claim(
            allocation, reporting, command.claim_id, command.amount_pence, paid_claims_pence
        )
    except Refused as refusal:
        return Decision.refuse(refusal.rule, str(refusal), refusal.figures)
    if decided is None:
        return Decision()
    change, saved = decided
    return Decision((change.allocation, saved), change.events)


def _no_allocation(place_id: str, allocation_id: str) -> Decision[Any]:
    return Decision.refuse("allocation_exists", f"no allocation {allocation_id} in {place_id}")
