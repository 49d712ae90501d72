"""An outcome payment split by payer: the ledger books the split with the payment and answers
with it, and a split that does not add up to the payment never reaches it."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from contracts import FinancialYearAmount, PaymentMade, RecordSettlement, ReservationRequested
from contracts.ledger import PayerShare, PaymentRequested
from services.ledger import domain

PLACE = "GM"
SPLIT = (
    PayerShare(payer_id="GM-POT", amount_pence=2_000_00),
    PayerShare(payer_id="NATIONAL", amount_pence=3_000_00),
)


def outcome_payment(**changes: object) -> PaymentRequested:
    fields: dict[str, object] = {
        "place_id": PLACE,
        "payment_id": "OP-1",
        "allocation_id": "A-1",
        "provider_id": "P-1",
        "amount_pence": 5_000_00,
        "payment_kind": "outcome_payment",
        "contract_id": "C-1",
        "claim_batch_id": "B-1",
        "purpose": "outcome payment",
        "payer_shares": SPLIT,
    }
    return PaymentRequested(**(fields | changes))  # type: ignore[arg-type]


def test_the_payment_made_carries_the_payers_split() -> None:
    book = domain.PlaceBook(PLACE)
    settlement = RecordSettlement(
        place_id=PLACE,
        settlement_id="S-1",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=10_000_00),),
    )
    reservation = ReservationRequested(
        place_id=PLACE,
        allocation_id="A-1",
        financial_year="2026-27",
        amount_pence=10_000_00,
        purpose="outcomes contract",
    )
    domain.decide(book, uuid.uuid4(), settlement)
    domain.decide(book, uuid.uuid4(), reservation)
    decision = domain.decide(book, uuid.uuid4(), outcome_payment())
    [made] = [event for event in decision.events if isinstance(event, PaymentMade)]
    assert made.payer_shares == SPLIT


def test_a_split_that_does_not_add_up_to_the_payment_is_invalid() -> None:
    with pytest.raises(ValidationError, match="payer_shares add up to 500000 pence"):
        outcome_payment(amount_pence=5_000_01)


def test_a_payer_named_twice_is_invalid() -> None:
    twice = (SPLIT[0], PayerShare(payer_id="GM-POT", amount_pence=3_000_00))
    with pytest.raises(ValidationError, match="each payer once"):
        outcome_payment(payer_shares=twice)


def test_each_payers_share_is_booked_on_its_own_account_and_a_recovery_credits_it_back() -> None:
    from contracts.ledger import RecoveryRaised, RecoveryRecorded

    book = domain.PlaceBook(PLACE)
    domain.decide(
        book,
        uuid.uuid4(),
        RecordSettlement(
            place_id=PLACE,
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=10_000_00),),
        ),
    )
    domain.decide(
        book,
        uuid.uuid4(),
        ReservationRequested(
            place_id=PLACE,
            allocation_id="A-1",
            financial_year="2026-27",
            amount_pence=10_000_00,
            purpose="outcomes contract",
        ),
    )
    domain.decide(book, uuid.uuid4(), outcome_payment())
    recovery = domain.decide(
        book,
        uuid.uuid4(),
        RecoveryRaised(
            place_id=PLACE,
            recovery_id="R-1",
            payment_id="OP-1",
            allocation_id="A-1",
            provider_id="P-1",
            amount_pence=1_000_00,
            reason="a job start found invalid",
            payer_shares=(PayerShare(payer_id="GM-POT", amount_pence=1_000_00),),
        ),
    )

    # Credit-positive balances: each payer's account is debited with what it funded.
    assert book.balance("2026-27", "payer:GM-POT") == -(2_000_00 - 1_000_00)
    assert book.balance("2026-27", "payer:NATIONAL") == -3_000_00
    assert book.balance("2026-27", domain.PAYERS_FUNDED) == 5_000_00 - 1_000_00
    # The memorandum moves no money: the provider and the pot see the payment as before.
    assert book.balance("2026-27", "provider:P-1") == 4_000_00
    [recorded] = [e for e in recovery.events if isinstance(e, RecoveryRecorded)]
    assert recorded.payer_shares == (PayerShare(payer_id="GM-POT", amount_pence=1_000_00),)


def test_a_payment_without_payers_books_no_payer_legs() -> None:
    assert domain.payer_legs((), paid=True) == []
    assert domain.payer_accounts(()) == []
