"""The year-end risk share of a pooled budget, with figures written by hand: DWP put £600,000
and DHSC £400,000 into the pool; DWP's stream bore £100,000 and DHSC's £300,000 (each
allocation restricted to one partner's stream), so DHSC overspent a 50/50 share by £100,000."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from contracts import (
    AgreedShare,
    ApplyRiskShare,
    ClosePeriod,
    CommandRefused,
    FinancialYearAmount,
    RecordSettlement,
    ReservationRequested,
    RiskShareApplied,
)
from contracts.ledger import FundingStream
from services.ledger import domain

PLACE, YEAR = "GM", "2026-27"


def a_pool() -> domain.PlaceBook:
    book = domain.PlaceBook(PLACE)
    for number, (department, stream, pence) in enumerate(
        [("DWP", "WORK", 600_000_00), ("DHSC", "HEALTH", 400_000_00)]
    ):
        settle = RecordSettlement(
            place_id=PLACE,
            settlement_id=f"S-{number}",
            department_code=department,
            funding_stream_code=stream,
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=pence),),
        )
        domain.decide(book, uuid.uuid4(), settle)
    for allocation, department, stream, pence in [
        ("A-DWP", "DWP", "WORK", 100_000_00),
        ("A-DHSC", "DHSC", "HEALTH", 300_000_00),
    ]:
        reserve = ReservationRequested(
            place_id=PLACE,
            allocation_id=allocation,
            financial_year=YEAR,
            amount_pence=pence,
            purpose="pooled services",
            eligible_streams=(
                FundingStream(department_code=department, funding_stream_code=stream),
            ),
        )
        domain.decide(book, uuid.uuid4(), reserve)
    return book


def risk_share(rule: str = "equal", **fields: object) -> ApplyRiskShare:
    return ApplyRiskShare(
        place_id=PLACE,
        risk_share_id="RS-1",
        financial_year=YEAR,
        rule=rule,  # type: ignore[arg-type]
        agreement_reference="S75-2026",
        **fields,  # type: ignore[arg-type]
    )


def applied(decision: domain.Decision) -> RiskShareApplied:
    [event] = [e for e in decision.events if isinstance(e, RiskShareApplied)]
    return event


def test_a_50_50_share_of_an_overspend_moves_the_excess_from_the_partner_that_bore_less() -> None:
    book = a_pool()
    decision = domain.decide(book, uuid.uuid4(), risk_share("equal"))
    event = applied(decision)

    figures = {
        p.department_code: (
            p.contributed_pence,
            p.borne_pence,
            p.agreed_share_pence,
            p.adjustment_pence,
        )
        for p in event.partners
    }
    assert event.pool_borne_pence == 400_000_00
    assert figures == {
        "DHSC": (400_000_00, 300_000_00, 200_000_00, 100_000_00),  # overspent by £100,000
        "DWP": (600_000_00, 100_000_00, 200_000_00, -100_000_00),
    }
    assert {(m.department_code, m.amount_pence) for m in event.moves} == {
        ("DWP", -100_000_00),
        ("DHSC", 100_000_00),
    }
    # After: each partner's streams bear £200,000 (settled less unreserved).
    assert book.balance(YEAR, "pot:DWP:WORK") == 600_000_00 - 100_000_00 - 100_000_00
    assert book.balance(YEAR, "pot:DHSC:HEALTH") == 400_000_00 - 300_000_00 + 100_000_00
    [transfer] = decision.transfers
    assert transfer.transfer_id == event.transfer_id
    assert {(leg.account, leg.direction, leg.amount_pence) for leg in transfer.legs} == {
        ("pot:DWP:WORK", "debit", 100_000_00),
        ("pot:DHSC:HEALTH", "credit", 100_000_00),
    }


def test_a_share_in_proportion_to_contributions_is_60_40() -> None:
    event = applied(domain.decide(a_pool(), uuid.uuid4(), risk_share("contributions")))
    assert {
        (p.department_code, p.agreed_share_pence, p.adjustment_pence) for p in event.partners
    } == {
        ("DWP", 240_000_00, -140_000_00),
        ("DHSC", 160_000_00, 140_000_00),
    }


def test_agreed_shares_must_name_the_partners_and_add_up() -> None:
    shares = (
        AgreedShare(department_code="DWP", basis_points=7_500),
        AgreedShare(department_code="DHSC", basis_points=2_500),
    )
    event = applied(
        domain.decide(a_pool(), uuid.uuid4(), risk_share("agreed", agreed_shares=shares))
    )
    assert {(p.department_code, p.agreed_share_pence) for p in event.partners} == {
        ("DWP", 300_000_00),
        ("DHSC", 100_000_00),
    }
    stranger = (AgreedShare(department_code="DFE", basis_points=10_000),)
    decision = domain.decide(a_pool(), uuid.uuid4(), risk_share("agreed", agreed_shares=stranger))
    [refused] = decision.events
    assert isinstance(refused, CommandRefused) and refused.rule == "risk_share_partners"
    with pytest.raises(ValidationError):
        risk_share("agreed", agreed_shares=shares[:1])


def test_a_year_is_shared_once_while_open_and_a_payer_needs_the_money_unreserved() -> None:
    book = a_pool()
    domain.decide(book, uuid.uuid4(), risk_share("equal"))
    [again] = domain.decide(book, uuid.uuid4(), risk_share("equal")).events
    assert isinstance(again, CommandRefused) and again.rule == "posts_once"

    closed = a_pool()
    domain.decide(closed, uuid.uuid4(), ClosePeriod(place_id=PLACE, financial_year=YEAR))
    [refused] = domain.decide(closed, uuid.uuid4(), risk_share("equal")).events
    assert isinstance(refused, CommandRefused) and refused.rule == "period_open"

    short = a_pool()
    # DWP reserves £450,000 more: it bore £550,000 of £850,000, so it receives; DHSC owes
    # £125,000 (bore £300,000 against £425,000) but has only £100,000 unreserved.
    domain.decide(
        short,
        uuid.uuid4(),
        ReservationRequested(
            place_id=PLACE,
            allocation_id="A-DWP-2",
            financial_year=YEAR,
            amount_pence=450_000_00,
            purpose="more",
            eligible_streams=(FundingStream(department_code="DWP", funding_stream_code="WORK"),),
        ),
    )
    [refused] = domain.decide(short, uuid.uuid4(), risk_share("equal")).events
    assert isinstance(refused, CommandRefused)
    assert refused.rule == "risk_share_within_unreserved"
    assert refused.figures == {"amount_pence": 125_000_00, "available_pence": 100_000_00}
