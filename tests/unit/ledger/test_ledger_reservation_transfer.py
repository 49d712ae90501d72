"""Moving part of one allocation's reservation to another (how a participatory budgeting
round's winners are funded from the round's reservation): stream by stream, pro rata, never
through the pot, once per transfer id, and refused with the rule when the source is short."""

from __future__ import annotations

import uuid

from contracts import (
    ClosePeriod,
    FinancialYearAmount,
    RecordSettlement,
    ReservationRequested,
    ReservationTransferred,
    ReservationTransferRequested,
)
from contracts.decisions import CommandRefused
from services.ledger import domain

PLACE = "GM"
YEAR = "2026-27"


def a_book_with_a_round() -> domain.PlaceBook:
    """A pot of £300 (DWP £100, DHSC £200) of which the round R reserves £150."""
    book = domain.PlaceBook(PLACE)
    for number, (department, stream, amount) in enumerate(
        [("DWP", "WORK", 100_00), ("DHSC", "HEALTH", 200_00)]
    ):
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
    domain.decide(
        book,
        uuid.uuid4(),
        ReservationRequested(
            place_id=PLACE,
            allocation_id="R",
            financial_year=YEAR,
            amount_pence=150_00,
            purpose="a round",
        ),
    )
    return book


def move(amount_pence: int, to: str = "W-1", move_id: str = "M-1") -> ReservationTransferRequested:
    return ReservationTransferRequested(
        place_id=PLACE,
        reservation_transfer_id=move_id,
        from_allocation_id="R",
        to_allocation_id=to,
        amount_pence=amount_pence,
        purpose="a winner",
    )


def reserved(book: domain.PlaceBook, allocation_id: str) -> int:
    return sum(share.amount_pence for share in book.shares(YEAR, f"commitment:{allocation_id}:"))


def unreserved(book: domain.PlaceBook) -> int:
    return sum(share.amount_pence for share in book.shares(YEAR, "pot:"))


def test_a_move_takes_each_stream_pro_rata_and_leaves_the_pot_alone() -> None:
    book = a_book_with_a_round()
    decision = domain.decide(book, uuid.uuid4(), move(60_00))
    [moved] = [event for event in decision.events if isinstance(event, ReservationTransferred)]
    # The round holds DWP £50 and DHSC £100 (a third and two thirds): £60 moves as £20 + £40.
    shares = {share.department_code: share.amount_pence for share in moved.attribution}
    assert shares == {"DWP": 20_00, "DHSC": 40_00}
    assert (reserved(book, "R"), reserved(book, "W-1"), unreserved(book)) == (90_00, 60_00, 150_00)
    assert book.reservations["W-1"] == YEAR


def test_the_same_transfer_id_moves_once() -> None:
    book = a_book_with_a_round()
    domain.decide(book, uuid.uuid4(), move(60_00))
    decision = domain.decide(book, uuid.uuid4(), move(10_00))
    [refusal] = decision.events
    assert isinstance(refusal, CommandRefused) and refusal.rule == "posts_once"
    assert reserved(book, "W-1") == 60_00


def test_a_move_beyond_what_the_source_holds_is_refused_with_the_figures() -> None:
    book = a_book_with_a_round()
    decision = domain.decide(book, uuid.uuid4(), move(150_01))
    [refusal] = decision.events
    assert isinstance(refusal, CommandRefused) and refusal.rule == "within_reservation"
    assert refusal.figures == {"amount_pence": 150_01, "reserved_pence": 150_00}
    assert not decision.transfers and reserved(book, "R") == 150_00


def test_a_move_from_an_unreserved_allocation_or_to_itself_is_refused() -> None:
    book = a_book_with_a_round()
    unknown = move(1_00).model_copy(update={"from_allocation_id": "NOPE"})
    [refusal] = domain.decide(book, uuid.uuid4(), unknown).events
    assert isinstance(refusal, CommandRefused) and refusal.rule == "source_reserved"
    [itself] = domain.decide(book, uuid.uuid4(), move(1_00, to="R", move_id="M-2")).events
    assert isinstance(itself, CommandRefused) and itself.rule == "transfer_between_allocations"


def test_a_move_into_a_closed_year_is_refused() -> None:
    book = a_book_with_a_round()
    domain.decide(book, uuid.uuid4(), ClosePeriod(place_id=PLACE, financial_year=YEAR))
    [refusal] = domain.decide(book, uuid.uuid4(), move(1_00)).events
    assert isinstance(refusal, CommandRefused) and refusal.rule == "period_open"
