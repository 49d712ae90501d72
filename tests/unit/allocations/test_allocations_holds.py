"""The monitoring rules of the allocations domain: reports that are overdue or returned hold
the next instalment, acceptance releases and pays it, and claims on grants paid in arrears are
paid only within what remains of the reservation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from contracts.allocations import (
    GrantClaimPaymentRequested,
    Instalment,
    InstalmentFellDue,
    InstalmentHeld,
    InstalmentHoldReleased,
)
from contracts.ledger import PaymentRequested
from services.allocations import domain, holds
from services.allocations.errors import Refused

QUARTERS = (date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1), date(2027, 1, 1))
REPORT_DUE = (date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31), date(2027, 3, 31))


def quarterly_grant(value_pence: int = 40_000_00) -> domain.Allocation:
    proposal = domain.Proposal(
        allocation_id="G-1",
        allocation_type="grant",
        recipient_id="PROV-HUBS",
        purpose="family hubs",
        mission_id="M-1",
        start_date=date(2026, 4, 1),
        end_date=date(2027, 3, 31),
        value_pence=value_pence,
        financial_year="2026-27",
        proposed_by="fin",
        instalments=tuple(Instalment(due_date=d, amount_pence=value_pence // 4) for d in QUARTERS),
    )
    return domain.Allocation(
        place_id="GM",
        proposal=proposal,
        status=domain.FUNDED,
        value_pence=value_pence,
        end_date=proposal.end_date,
        purpose=proposal.purpose,
        purpose_tags=(),
        instalments=domain.schedule_of(proposal),
        reserved_pence=value_pence,
    )


def reports(*statuses: str) -> holds.Reporting:
    return holds.Reporting(
        reports=tuple(
            holds.ReportDue(number, REPORT_DUE[number - 1], status)
            for number, status in enumerate(statuses, start=1)
        )
    )


def requested(change: domain.Change) -> list[str]:
    return [e.payment_id for e in change.events if isinstance(e, PaymentRequested)]


def test_an_overdue_report_holds_the_next_instalment_and_says_why() -> None:
    grant = quarterly_grant()
    paid_two = domain.due_work(grant, date(2026, 7, 1)).allocation
    change, reporting = holds.due_work_with_holds(
        paid_two, reports("accepted", "due", "due", "due"), date(2026, 10, 1)
    )
    assert requested(change) == []
    (held,) = change.events
    assert held == InstalmentHeld(
        place_id="GM",
        allocation_id="G-1",
        instalment_number=3,
        report_number=2,
        amount_pence=10_000_00,
        reason="report 2 was due on 2026-09-30 and has not been accepted",
    )
    assert [i.status for i in change.allocation.instalments][2] == domain.SCHEDULED
    assert reporting.holds == (holds.Hold(3, 2, held.reason),)


def test_a_held_instalment_is_announced_once_however_often_due_work_runs() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    once = holds.due_work_with_holds(grant, reports("accepted", "due"), date(2026, 10, 1))
    again = holds.due_work_with_holds(once[0].allocation, once[1], date(2026, 10, 2))
    assert again[0].events == ()


def test_a_report_returned_for_changes_holds_even_before_its_due_date_passes() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    change, _ = holds.due_work_with_holds(
        grant, reports("accepted", "changes_requested"), date(2026, 10, 1)
    )
    (held,) = change.events
    assert isinstance(held, InstalmentHeld) and "returned for changes" in held.reason


def test_a_report_not_yet_due_holds_nothing() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    # Report 3 is not due until the end of December: the third instalment is paid.
    change, _ = holds.due_work_with_holds(
        grant, reports("accepted", "accepted", "due"), date(2026, 10, 1)
    )
    assert requested(change) == ["G-1/i3"]


def test_an_overdue_report_received_but_not_reviewed_still_holds_until_accepted() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    change, _ = holds.due_work_with_holds(grant, reports("accepted", "received"), date(2026, 10, 1))
    (held,) = change.events
    assert isinstance(held, InstalmentHeld)
    assert held.reason.endswith("has not been accepted (received, waiting for review)")


def test_accepting_the_report_releases_the_instalment_and_requests_its_payment() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    held_change, held = holds.due_work_with_holds(grant, reports("accepted", "due"), QUARTERS[2])
    change, after = holds.reporting_recorded(
        held_change.allocation, held, reports("accepted", "accepted"), date(2026, 10, 20)
    )
    released, payment, due = change.events
    assert released == InstalmentHoldReleased(
        place_id="GM",
        allocation_id="G-1",
        instalment_number=3,
        report_number=2,
        payment_id="G-1/i3",
    )
    assert isinstance(payment, PaymentRequested) and payment.amount_pence == 10_000_00
    assert isinstance(due, InstalmentFellDue) and due.instalment_number == 3
    assert after.holds == ()
    # Only the held instalment is paid; the fourth is not due yet.
    assert [i.status for i in change.allocation.instalments] == [
        domain.REQUESTED,
        domain.REQUESTED,
        domain.REQUESTED,
        domain.SCHEDULED,
    ]


def test_news_about_the_reports_from_an_earlier_day_does_not_release_a_hold() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    held_change, held = holds.due_work_with_holds(grant, reports("accepted", "due"), QUARTERS[2])
    change, after = holds.reporting_recorded(
        held_change.allocation, held, reports("accepted", "due", "accepted"), date(2026, 8, 1)
    )
    assert change.events == () and len(after.holds) == 1


def test_a_report_received_but_not_accepted_keeps_a_returned_report_s_hold() -> None:
    grant = domain.due_work(quarterly_grant(), date(2026, 7, 1)).allocation
    held_change, held = holds.due_work_with_holds(
        grant, reports("accepted", "changes_requested"), QUARTERS[2]
    )
    change, after = holds.reporting_recorded(
        held_change.allocation, held, reports("accepted", "changes_requested"), QUARTERS[2]
    )
    assert change.events == ()
    assert len(after.holds) == 1


def test_a_grant_paid_in_arrears_pays_no_instalment_at_all() -> None:
    arrears = holds.Reporting(paid_in_arrears=True)
    change, _ = holds.due_work_with_holds(quarterly_grant(), arrears, date(2026, 12, 1))
    assert change.events == ()


def test_an_approved_claim_within_the_remaining_money_is_paid() -> None:
    decided = holds.pay_claim(quarterly_grant(), holds.Reporting(), "CL-1", 12_345_00, 0)
    assert decided is not None
    change, reporting = decided
    payment, requested_event = change.events
    assert isinstance(payment, PaymentRequested)
    assert (payment.payment_id, payment.amount_pence) == ("G-1/c-CL-1", 12_345_00)
    assert isinstance(requested_event, GrantClaimPaymentRequested)
    assert reporting.claims_requested == (("CL-1", 12_345_00),)
    # The same claim again asks nothing more.
    assert holds.pay_claim(change.allocation, reporting, "CL-1", 12_345_00, 0) is None


def test_a_claim_beyond_what_remains_is_refused_with_the_figures() -> None:
    first = holds.pay_claim(quarterly_grant(), holds.Reporting(), "CL-1", 30_000_00, 0)
    assert first is not None
    with pytest.raises(Refused) as refused:
        holds.pay_claim(first[0].allocation, first[1], "CL-2", 10_000_01, 0)
    assert refused.value.rule == "claim_within_remaining"
    assert refused.value.figures == {"claimed_pence": 10_000_01, "remaining_pence": 10_000_00}
    assert "£10,000.01" in str(refused.value) and "£10,000.00" in str(refused.value)


def test_a_claim_payment_the_ledger_refused_no_longer_counts_against_what_remains() -> None:
    first = holds.pay_claim(quarterly_grant(), holds.Reporting(), "CL-1", 30_000_00, 0)
    assert first is not None
    allocation, reporting = first[0].allocation, first[1]
    assert holds.remaining_pence(allocation, reporting, 0) == 10_000_00
    refused = holds.claim_payment_refused(reporting, "G-1", "G-1/c-CL-1")
    assert refused is not None and refused.claims_refused == ("CL-1",)
    assert holds.remaining_pence(allocation, refused, 0) == 40_000_00
    # A second claim may now draw the money the refused one did not.
    assert holds.pay_claim(allocation, refused, "CL-2", 40_000_00, 0) is not None
    # The same refusal heard twice, and a refused instalment, change nothing.
    assert holds.claim_payment_refused(refused, "G-1", "G-1/c-CL-1") is None
    assert holds.claim_payment_refused(refused, "G-1", "G-1/i-2") is None


def test_a_red_due_diligence_rating_holds_every_due_instalment_and_every_claim() -> None:
    blocked = holds.Reporting(payments_blocked="PROV-HUBS is rated red: its charity is removed")
    change, reporting = holds.due_work_with_holds(quarterly_grant(), blocked, date(2026, 7, 1))
    assert requested(change) == []
    assert [(e.instalment_number, e.report_number) for e in change.events] == [(1, None), (2, None)]
    with pytest.raises(Refused) as refused:
        holds.pay_claim(quarterly_grant(), blocked, "CL-1", 1_00, 0)
    assert refused.value.rule == "due_diligence"
    # The accounting officer's override lifts the block: both instalments are paid.
    cleared, after = holds.reporting_recorded(
        change.allocation, reporting, holds.Reporting(), date(2026, 7, 1)
    )
    assert requested(cleared) == ["G-1/i1", "G-1/i2"] and after.holds == ()


def test_a_grant_that_is_not_funded_has_nothing_held() -> None:
    unfunded = replace(quarterly_grant(), status=domain.PROPOSED)
    change, reporting = holds.due_work_with_holds(
        unfunded, reports("due", "due"), date(2026, 10, 1)
    )
    assert not [e for e in change.events if isinstance(e, InstalmentHeld)]
    assert reporting.holds == ()
