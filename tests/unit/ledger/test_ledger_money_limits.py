"""The ledger refuses, with a refusal event, a request that would take a total over the limit."""

import uuid

from contracts import PENCE_MAX, CommandRefused, RecordSettlement, SettlementRecorded
from services.ledger import domain


def _settle(
    book: domain.PlaceBook, settlement_id: str, stream: str, amount: int
) -> domain.Decision:
    settlement = RecordSettlement(
        place_id=book.place_id,
        settlement_id=settlement_id,
        department_code="DWP",
        funding_stream_code=stream,
        spending_review_period="SR25",
        profile=({"financial_year": "2026-27", "amount_pence": amount},),  # type: ignore[arg-type]
    )
    return domain.decide(book, uuid.uuid4(), settlement)


def test_a_stream_may_be_settled_up_to_the_limit() -> None:
    book = domain.PlaceBook("GM")
    _settle(book, "S-1", "WORK", PENCE_MAX - 1)
    decision = _settle(book, "S-2", "WORK", 1)
    assert isinstance(decision.events[-1], SettlementRecorded)
    assert book.balance("2026-27", domain.pot_account("DWP", "WORK")) == PENCE_MAX


def test_a_settlement_taking_a_stream_over_the_limit_is_refused_not_posted() -> None:
    book = domain.PlaceBook("GM")
    _settle(book, "S-1", "WORK", PENCE_MAX)
    decision = _settle(book, "S-2", "WORK", 1)
    [refusal] = decision.events
    assert isinstance(refusal, CommandRefused)
    assert "DWP WORK's money settled for 2026-27" in refusal.reason
    assert str(PENCE_MAX) in refusal.reason
    assert decision.transfers == []
    assert book.balance("2026-27", domain.pot_account("DWP", "WORK")) == PENCE_MAX


def test_a_settlement_taking_the_pot_over_the_limit_is_refused_even_on_a_new_stream() -> None:
    book = domain.PlaceBook("GM")
    _settle(book, "S-1", "WORK", PENCE_MAX - 5)
    decision = _settle(book, "S-2", "SKILLS", 6)
    [refusal] = decision.events
    assert isinstance(refusal, CommandRefused)
    assert "GM's pot" in refusal.reason


def test_a_receipt_after_a_full_settlement_keeps_the_total_settled() -> None:
    book = domain.PlaceBook("GM")
    _settle(book, "S-1", "WORK", PENCE_MAX)
    receipt = domain.RecordReceipt(
        place_id="GM",
        receipt_id="R-1",
        settlement_id="S-1",
        department_code="DWP",
        funding_stream_code="WORK",
        financial_year="2026-27",
        amount_pence=PENCE_MAX,
    )
    domain.decide(book, uuid.uuid4(), receipt)
    assert book.settled_pence("2026-27", ("DWP", "WORK")) == PENCE_MAX
    assert book.settled_pence("2026-27") == PENCE_MAX
    assert isinstance(_settle(book, "S-2", "WORK", 1).events[0], CommandRefused)
