"""Funding rules: a reservation draws pro rata from its eligible streams only, a restricted
stream is left untouched, payments and spend follow the streams actually drawn, and a shortfall
in the eligible streams is refused with the figures."""

from __future__ import annotations

import hashlib
import json
import uuid

from contracts import (
    FinancialYearAmount,
    PaymentMade,
    PaymentRequested,
    RecordSettlement,
    ReservationMade,
    ReservationRejected,
    ReservationRequested,
    SpendRecorded,
)
from contracts.envelope import wrap
from contracts.ledger import FundingStream
from contracts.refusals import refusal_of
from services.ledger import domain

PLACE = "GM"
YEAR = "2026-27"
DORMANT = FundingStream(department_code="DCMS", funding_stream_code="DORMANT-ASSETS")


def a_book() -> domain.PlaceBook:
    """A pot of £2,000,000 restricted dormant-asset money beside £300,000.03 of other money."""
    book = domain.PlaceBook(PLACE)
    settled = [
        ("DCMS", "DORMANT-ASSETS", 2_000_000_00),
        ("DWP", "WORK", 100_000_01),
        ("DHSC", "HEALTH", 200_000_02),
    ]
    for number, (department, stream, amount) in enumerate(settled):
        domain.decide(
            book,
            uuid.uuid4(),
            RecordSettlement(
                place_id=PLACE,
                settlement_id=f"S-{number}",
                department_code=department,
                funding_stream_code=stream,
                spending_review_period="SR2025",
                profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount),),
            ),
        )
    return book


def statutory_reservation(amount_pence: int, **rules: object) -> ReservationRequested:
    return ReservationRequested(
        place_id=PLACE,
        allocation_id="A-STAT",
        financial_year=YEAR,
        amount_pence=amount_pence,
        purpose="statutory adult social care",
        **rules,  # type: ignore[arg-type]
    )


def test_a_statutory_allocation_draws_only_from_eligible_streams_to_the_penny() -> None:
    book = a_book()
    decision = domain.decide(
        book, uuid.uuid4(), statutory_reservation(100_000_00, excluded_streams=(DORMANT,))
    )

    [made] = [event for event in decision.events if isinstance(event, ReservationMade)]
    # £100,000 over DWP £100,000.01 and DHSC £200,000.02 (1 : 2): £33,333.33⅓ and £66,666.66⅔;
    # the spare penny goes to the larger remainder, DHSC.
    assert {(s.department_code, s.amount_pence) for s in made.attribution} == {
        ("DWP", 33_333_33),
        ("DHSC", 66_666_67),
    }
    assert book.balance(YEAR, "pot:DCMS:DORMANT-ASSETS") == 2_000_000_00
    assert book.balance(YEAR, "pot:DWP:WORK") == 100_000_01 - 33_333_33
    assert book.balance(YEAR, "pot:DHSC:HEALTH") == 200_000_02 - 66_666_67
    assert book.balance(YEAR, "commitment:A-STAT:DCMS:DORMANT-ASSETS") == 0


def test_payments_and_spend_follow_the_streams_actually_drawn() -> None:
    book = a_book()
    domain.decide(
        book, uuid.uuid4(), statutory_reservation(100_000_00, excluded_streams=(DORMANT,))
    )
    payment = PaymentRequested(
        place_id=PLACE,
        payment_id="PAY-1",
        allocation_id="A-STAT",
        provider_id="P-1",
        amount_pence=10_000_00,
        payment_kind="grant_instalment",
        purpose="first instalment",
    )
    decision = domain.decide(book, uuid.uuid4(), payment)

    [paid] = [event for event in decision.events if isinstance(event, PaymentMade)]
    [spend] = [event for event in decision.events if isinstance(event, SpendRecorded)]
    # £10,000 over the reservation's £33,333.33 : £66,666.67 = £3,333.33 and £6,666.67.
    expected = {("DWP", 3_333_33), ("DHSC", 6_666_67)}
    assert {(s.department_code, s.amount_pence) for s in paid.attribution} == expected
    assert {(s.department_code, s.amount_pence) for s in spend.attribution} == expected
    assert book.balance(YEAR, "pot:DCMS:DORMANT-ASSETS") == 2_000_000_00


def test_named_eligible_streams_are_the_only_ones_drawn() -> None:
    book = a_book()
    work = FundingStream(department_code="DWP", funding_stream_code="WORK")
    decision = domain.decide(
        book, uuid.uuid4(), statutory_reservation(50_000_00, eligible_streams=(work,))
    )

    [made] = [event for event in decision.events if isinstance(event, ReservationMade)]
    assert [(s.department_code, s.amount_pence) for s in made.attribution] == [("DWP", 50_000_00)]
    assert book.balance(YEAR, "pot:DHSC:HEALTH") == 200_000_02


def test_eligible_streams_that_are_short_refuse_with_the_figures() -> None:
    book = a_book()
    # £300,000.04 is one penny more than the eligible £300,000.03, though the pot holds £2.3m.
    request = statutory_reservation(300_000_04, excluded_streams=(DORMANT,))
    event_id = uuid.uuid4()
    decision = domain.decide(book, event_id, request)

    [rejected] = decision.events
    assert isinstance(rejected, ReservationRejected)
    assert rejected.rule == "reservation_within_eligible_streams"
    assert rejected.figures == {
        "amount_pence": 300_000_04,
        "eligible_pence": 300_000_03,
        "unreserved_pence": 2_300_000_03,
        "excluded_pence": 2_000_000_00,
    }
    assert rejected.reason == (
        "reservation of £300,000.04 for allocation A-STAT exceeds the £300,000.03 unreserved "
        "in the streams that may fund it (GM 2026-27); the other £2,000,000.00 of the "
        "unreserved pot is in streams its funding rules exclude"
    )
    assert not decision.transfers
    refusal = refusal_of(wrap(request, producer="allocations"), rejected)
    assert refusal is not None and refusal.rule == "reservation_within_eligible_streams"
    assert refusal.figures["eligible_pence"] == 300_000_03


def test_the_whole_eligible_money_can_be_reserved() -> None:
    book = a_book()
    domain.decide(
        book, uuid.uuid4(), statutory_reservation(300_000_03, excluded_streams=(DORMANT,))
    )
    assert book.balance(YEAR, "pot:DWP:WORK") == 0
    assert book.balance(YEAR, "pot:DHSC:HEALTH") == 0
    assert book.balance(YEAR, "pot:DCMS:DORMANT-ASSETS") == 2_000_000_00


def test_a_request_without_funding_rules_hashes_as_before_they_existed() -> None:
    request = statutory_reservation(1)
    body = request.model_dump(mode="json")
    del body["eligible_streams"], body["excluded_streams"]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert domain.request_body_hash(request) == hashlib.sha256(canonical).hexdigest()
    restricted = statutory_reservation(1, excluded_streams=(DORMANT,))
    assert domain.request_body_hash(restricted) != domain.request_body_hash(request)
