"""The ledger's hot path takes short cuts for speed; each must give exactly what the plain way
gives: the same transfer ids, the same chain hashes, the same bytes on the wire, and events
that still pass their contracts' validation."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pydantic_core
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import (
    PENCE_MAX,
    ClosePeriod,
    Event,
    FinancialYearAmount,
    PaymentMade,
    PaymentRequested,
    RecordReceipt,
    RecordSettlement,
    RecoveryRaised,
    ReservationMade,
    ReservationReleaseRequested,
    ReservationRequested,
    SpendRecorded,
    TransferPosted,
    VirementRequested,
)
from contracts.envelope import (
    caused_by,
    encode,
    encode_caused,
    encode_payload,
    wrap,
)
from contracts.ledger import FundingStream, PayerShare
from contracts.values import TEXT_LENGTH_MAX, AttributionShare
from services.ledger import domain
from services.runtime.outbox import answer_row, payload_answer_row, row_for

PLACE = "GM"
YEAR = "2026-27"
SPAN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRICKY_TEXT = 'naïve “quotes”, £ and a\ttab\nnewline \\ " \u0001 \u007f \u2028 😀'

# Pinned from the ledger before the hot path was rewritten (the same requests and ids): a
# changed hash here would mean that stored chains no longer verify.
PINNED_HEAD_HASH = "98b16b7e3ddff2f71e78f42907b671041a40edb7ba4ab1a97218d7b3f814b93d"
PINNED_FIRST_TRANSFER_ID = "538717bd-ec94-5bf5-9999-ebf67aae10ac"

text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
optional_text = st.none() | text


def _pinned_requests() -> list[Event]:
    return [
        RecordSettlement(
            place_id=PLACE,
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=(
                FinancialYearAmount(financial_year=YEAR, amount_pence=10_000_000),
                FinancialYearAmount(financial_year="2027-28", amount_pence=5_000_000),
            ),
        ),
        RecordSettlement(
            place_id=PLACE,
            settlement_id="S-2",
            department_code="DHSC",
            funding_stream_code="HEALTH",
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=3_333_333),),
        ),
        ReservationRequested(
            place_id=PLACE,
            allocation_id="A-1",
            financial_year=YEAR,
            amount_pence=1_000_001,
            purpose='naïve “quotes”, £ and a\ttab\nnewline \\ " \u0001 \u2028 😀',
        ),
        PaymentRequested(
            place_id=PLACE,
            payment_id="PAY-1",
            allocation_id="A-1",
            provider_id="P-1",
            amount_pence=12_345,
            payment_kind="grant_instalment",
            purpose="first instalment",
        ),
        RecoveryRaised(
            place_id=PLACE,
            recovery_id="R-1",
            payment_id="PAY-1",
            allocation_id="A-1",
            provider_id="P-1",
            amount_pence=345,
            reason="overpaid",
        ),
    ]


def _every_kind_of_answer() -> list[tuple[uuid.UUID, Event]]:
    """(request id, request) for every operation, posted and refused, in one sequence."""
    requests = _pinned_requests()
    requests += [
        ReservationReleaseRequested(
            place_id=PLACE, allocation_id="A-1", amount_pence=500, reason="varied_down"
        ),
        RecordReceipt(
            place_id=PLACE,
            receipt_id="REC-1",
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            financial_year=YEAR,
            amount_pence=123_456,
        ),
        VirementRequested(
            place_id=PLACE,
            virement_id="V-1",
            financial_year=YEAR,
            from_funding_stream_code="WORK",
            to_funding_stream_code="HEALTH",
            amount_pence=77_777,
            approval_reference="APP-1",
        ),
        ReservationRequested(
            place_id=PLACE,
            allocation_id="TOO-BIG",
            financial_year=YEAR,
            amount_pence=PENCE_MAX,
            purpose=TRICKY_TEXT,
        ),
        PaymentRequested(
            place_id=PLACE,
            payment_id="PAY-2",
            allocation_id="A-1",
            provider_id="P-1",
            amount_pence=10**14,
            payment_kind="grant_instalment",
            purpose=TRICKY_TEXT,
        ),
        ClosePeriod(place_id=PLACE, financial_year=YEAR),
        ReservationRequested(
            place_id=PLACE, allocation_id="LATE", financial_year=YEAR, amount_pence=1, purpose="x"
        ),
    ]
    return [(uuid.UUID(int=number), request) for number, request in enumerate(requests, start=1)]


def test_the_chain_and_the_transfer_ids_are_the_same_as_before_the_rewrite() -> None:
    book = domain.PlaceBook(PLACE)
    decisions = [
        domain.decide(book, uuid.UUID(int=number), request)
        for number, request in enumerate(_pinned_requests(), start=1)
    ]
    assert decisions[0].transfers[0].transfer_id == PINNED_FIRST_TRANSFER_ID
    assert (book.sequence, book.head_hash) == (6, PINNED_HEAD_HASH)


@given(request_event_id=st.uuids(), sequence=st.integers(min_value=1, max_value=10**12))
def test_a_transfer_id_is_the_uuid5_of_its_request_and_sequence(
    request_event_id: uuid.UUID, sequence: int
) -> None:
    expected = uuid.uuid5(domain.TRANSFER_NAMESPACE, f"{request_event_id}/{sequence}")
    assert domain.transfer_id_for(request_event_id, sequence) == str(expected)


@given(
    place_id=text,
    description=text,
    codes=st.tuples(optional_text, optional_text, optional_text, optional_text, optional_text),
    accounts=st.lists(text, min_size=2, max_size=6),
    amount_pence=st.integers(min_value=1, max_value=10**30),
    sequence=st.integers(min_value=1, max_value=10**9),
)
def test_the_fast_chain_hash_is_the_canonical_json_hash_for_any_text(
    place_id: str,
    description: str,
    codes: tuple[str | None, ...],
    accounts: list[str],
    amount_pence: int,
    sequence: int,
) -> None:
    department, stream, allocation, contract, claim = codes
    legs = tuple(
        domain.Leg(account, "debit" if index % 2 else "credit", amount_pence)
        for index, account in enumerate(accounts)
    )
    transfer = domain.Transfer(
        place_id=place_id,
        sequence=sequence,
        transfer_id=str(uuid.uuid4()),
        request_event_id=uuid.uuid4(),
        financial_year=YEAR,
        iati_transaction_type=2,
        department_code=department,
        funding_stream_code=stream,
        allocation_id=allocation,
        contract_id=contract,
        claim_id=claim,
        description=description,
        legs=legs,
        previous_hash=domain.GENESIS_HASH,
        chain_hash="",
    )
    plain = domain.chain_hash(domain.transfer_body(transfer))
    assert domain.transfer_hash(transfer.__dict__) == plain


def test_every_event_the_ledger_answers_with_passes_its_contract_again() -> None:
    book = domain.PlaceBook(PLACE)
    answered = []
    for event_id, request in _every_kind_of_answer():
        answered += domain.decide(book, event_id, request).events
    kinds = {event.event_type for event in answered}
    assert {"TransferPosted", "SpendRecorded", "PaymentRejected", "PeriodClosed"} <= kinds
    for event in answered:
        assert type(event).model_validate(event.model_dump()) == event


def test_an_answer_row_carries_the_same_bytes_and_headers_as_wrapping_then_encoding() -> None:
    book = domain.PlaceBook(PLACE)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    moments = [
        datetime(2026, 11, 23, 23, 4, 9, 123456, tzinfo=UTC),
        datetime(2026, 11, 23, 23, 4, 9, tzinfo=UTC),
        datetime(2026, 6, 1, 8, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
    ]
    compared = 0
    for number, (event_id, request) in enumerate(_every_kind_of_answer()):
        causation = wrap(request, producer="test", event_id=event_id)
        if number % 2:
            causation = causation.model_copy(update={"traceparent": traceparent})
        decision = domain.decide(book, event_id, request)
        for answer_id, answer in zip(decision.answer_ids(), decision.answers, strict=True):
            if isinstance(answer, domain.Payload):
                continue  # compared in the test after this one
            event = answer
            for occurred_at in moments:
                plain = wrap(
                    event,
                    producer="ledger",
                    event_id=answer_id,
                    causation=causation,
                    occurred_at=occurred_at,
                )
                fast = encode_payload(
                    type(event),
                    event,
                    producer="ledger",
                    event_id=answer_id,
                    causation=causation,
                    occurred_at=occurred_at,
                )
                assert fast == encode(plain)
                compared += 1
            row = answer_row(event, producer="ledger", event_id=answer_id, causation=causation)
            expected = row_for(
                wrap(event, producer="ledger", event_id=answer_id, causation=causation), event
            )
            assert (row.event_id, row.topic, row.partition_key, row.event_type) == (
                expected.event_id,
                expected.topic,
                expected.partition_key,
                expected.event_type,
            )
            assert dict(row.headers) == dict(expected.headers)
            assert json.loads(row.value)["payload"] == json.loads(expected.value)["payload"]
    assert compared > 15


def test_an_answer_given_as_its_payload_is_the_validated_event_byte_for_byte() -> None:
    book = domain.PlaceBook(PLACE)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    moments = [
        datetime(2026, 11, 23, 23, 4, 9, 123456, tzinfo=UTC),
        datetime(2026, 6, 1, 8, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
    ]
    compared: set[str] = set()
    for number, (event_id, request) in enumerate(_every_kind_of_answer()):
        causation = wrap(request, producer="test", event_id=event_id)
        if number % 2:
            causation = causation.model_copy(update={"traceparent": traceparent})
        decision = domain.decide(book, event_id, request)
        for answer_id, answer in zip(decision.answer_ids(), decision.answers, strict=True):
            if not isinstance(answer, domain.Payload):
                continue
            event = answer.event_class.model_validate(answer.payload)  # passes its contract
            assert pydantic_core.to_json(answer.payload) == event.model_dump_json().encode()
            assert answer.partition_key() == event.partition_key()
            for occurred_at in moments:
                fast = encode_payload(
                    answer.event_class,
                    answer.payload,
                    producer="ledger",
                    event_id=answer_id,
                    causation=causation,
                    occurred_at=occurred_at,
                )
                plain = wrap(
                    event,
                    producer="ledger",
                    event_id=answer_id,
                    causation=causation,
                    occurred_at=occurred_at,
                )
                assert fast == encode(plain)
                shared = caused_by(causation, producer="ledger", occurred_at=occurred_at)
                caused = encode_caused(
                    answer.event_class, answer.payload, event_id=str(answer_id), shared=shared
                )
                assert caused == encode(plain)
                # A span of its own (the ledger's "decide") continues the trace instead.
                shared = caused_by(
                    causation, producer="ledger", traceparent=SPAN, occurred_at=occurred_at
                )
                caused = encode_caused(
                    answer.event_class, answer.payload, event_id=str(answer_id), shared=shared
                )
                assert caused == encode(plain.model_copy(update={"traceparent": SPAN}))
            row = payload_answer_row(
                answer.event_class,
                answer.payload,
                partition_key=answer.partition_key(),
                event_id=answer_id,
                shared=caused_by(causation, producer="ledger"),
                traceparent=causation.traceparent,
            )
            expected = row_for(
                wrap(event, producer="ledger", event_id=answer_id, causation=causation), event
            )
            written, wrapped = json.loads(row.value), json.loads(expected.value)
            del written["occurred_at"], wrapped["occurred_at"]  # each says when it was made
            assert written == wrapped
            assert (row.event_id, row.topic, row.partition_key, row.event_type) == (
                expected.event_id,
                expected.topic,
                expected.partition_key,
                expected.event_type,
            )
            assert dict(row.headers) == dict(expected.headers)
            # Written with the row when there is no trace to carry, by the database layer else.
            assert (row.headers_json is None) == bool(causation.traceparent)
            if row.headers_json is not None:
                assert json.loads(row.headers_json) == dict(row.headers)
            assert json.loads(row.value)["payload"] == json.loads(expected.value)["payload"]
            compared.add(answer.event_type)
    assert compared == {"TransferPosted", "ReservationMade", "PaymentMade", "SpendRecorded"}


@pytest.mark.parametrize(
    "event_class", [TransferPosted, ReservationMade, PaymentMade, SpendRecorded]
)
def test_the_answers_given_as_payloads_are_keyed_by_place_on_their_one_topic(
    event_class: type[Event],
) -> None:
    assert event_class.partition_key is Event.partition_key
    assert event_class.published_on is Event.published_on
    assert event_class.topics == (event_class.topic,)


def test_a_payment_with_payer_shares_answers_with_them_in_its_payload() -> None:
    book = domain.PlaceBook(PLACE)
    for event_id, request in _every_kind_of_answer()[:3]:
        domain.decide(book, event_id, request)
    payment = PaymentRequested(
        place_id=PLACE,
        payment_id="PAY-SHARED",
        allocation_id="A-1",
        provider_id="P-1",
        amount_pence=1_000,
        payment_kind="outcome_payment",
        contract_id="C-1",
        claim_batch_id="B-1",
        purpose="outcomes",
        payer_shares=(
            PayerShare(payer_id="DWP", amount_pence=600),
            PayerShare(payer_id="DHSC", amount_pence=400),
        ),
    )
    decision = domain.decide(book, uuid.UUID(int=99), payment)
    [made] = [event for event in decision.events if isinstance(event, PaymentMade)]
    assert made.payer_shares == payment.payer_shares
    for answer in decision.answers:
        assert isinstance(answer, domain.Payload)
        event = answer.event()
        assert pydantic_core.to_json(answer.payload) == event.model_dump_json().encode()


def test_a_request_body_hash_of_every_kind_of_request_is_the_sorted_json_hash() -> None:
    requests = [request for _, request in _every_kind_of_answer()]
    requests += [
        ReservationRequested(
            place_id=PLACE,
            allocation_id="A-RULES",
            financial_year=YEAR,
            amount_pence=1,
            purpose="rules",
            eligible_streams=(FundingStream(department_code="DWP", funding_stream_code="WORK"),),
        ),
        PaymentRequested(
            place_id=PLACE,
            payment_id="PAY-SHARED",
            allocation_id="A-1",
            provider_id="P-1",
            amount_pence=1_000,
            payment_kind="outcome_payment",
            contract_id="C-1",
            claim_batch_id="B-1",
            purpose="outcomes",
            payer_shares=(PayerShare(payer_id="DWP", amount_pence=1_000),),
        ),
    ]
    for request in requests:
        body = request.model_dump(mode="json")
        for name in ("eligible_streams", "excluded_streams", "payer_shares"):
            if body.get(name) == []:
                del body[name]
        plain = json.dumps(body, sort_keys=True, separators=(",", ":"))
        assert domain.request_body_hash(request) == hashlib.sha256(plain.encode()).hexdigest()


@given(purpose=text, allocation_id=text, amount_pence=st.integers(min_value=1, max_value=PENCE_MAX))
def test_a_request_body_hash_is_the_sorted_json_hash_for_any_text(
    purpose: str, allocation_id: str, amount_pence: int
) -> None:
    request = ReservationRequested(
        place_id=PLACE,
        allocation_id=allocation_id,
        financial_year=YEAR,
        amount_pence=amount_pence,
        purpose=purpose,
    )
    plain = json.dumps(_hashed_body(request), sort_keys=True, separators=(",", ":"))
    assert domain.request_body_hash(request) == hashlib.sha256(plain.encode()).hexdigest()


def test_a_nested_request_body_hashes_with_its_inner_keys_sorted_too() -> None:
    [(_, settlement), *_] = _every_kind_of_answer()
    plain = json.dumps(settlement.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    assert domain.request_body_hash(settlement) == hashlib.sha256(plain.encode()).hexdigest()


def _hashed_body(request: ReservationRequested) -> dict[str, object]:
    """The request's body as the ledger fingerprints it: funding rules, added later, are left
    out while empty so that requests answered before they existed still match a resend."""
    body = request.model_dump(mode="json")
    for name in ("eligible_streams", "excluded_streams"):
        if body[name] == []:
            del body[name]
    return body


@given(namespace=st.uuids(), name=text)
def test_a_name_based_id_is_the_uuid5_of_its_namespace_and_name(
    namespace: uuid.UUID, name: str
) -> None:
    assert domain.name_based_id(namespace, name) == uuid.uuid5(namespace, name)


@pytest.mark.parametrize("character", ["\x7f", "\x00", "\x1f", '"', "\\", "\u2028", "é"])
def test_a_request_body_hash_matches_json_for_characters_the_two_encoders_escape_differently(
    character: str,
) -> None:
    request = ReservationRequested(
        place_id=PLACE,
        allocation_id=f"A{character}",
        financial_year=YEAR,
        amount_pence=1,
        purpose=f"p{character}",
    )
    plain = json.dumps(_hashed_body(request), sort_keys=True, separators=(",", ":"))
    assert domain.request_body_hash(request) == hashlib.sha256(plain.encode()).hexdigest()


def test_answers_built_without_validation_are_those_validation_gives() -> None:
    book = domain.PlaceBook(PLACE)
    events = [
        event
        for request_event_id, request in _every_kind_of_answer()
        for event in domain.decide(book, request_event_id, request).events
    ]
    assert {type(event).__name__ for event in events} >= {
        "TransferPosted",
        "ReservationMade",
        "PaymentMade",
        "SpendRecorded",
    }
    for event in events:
        validated = type(event).model_validate(event.model_dump(exclude_unset=True))
        assert validated == event
        assert validated.model_fields_set == event.model_fields_set
        assert validated.model_dump_json() == event.model_dump_json()
        assert list(vars(validated)) == list(vars(event))  # the same field order


def test_trusted_refuses_fields_that_are_not_the_models() -> None:
    with pytest.raises(AssertionError, match="AttributionShare"):
        domain.trusted(
            AttributionShare,
            {
                "department_code": "DWP",
                "funding_stream_code": "WORK",
                "amount_pence": 1,
                "extra": 2,
            },
        )
    with pytest.raises(AssertionError, match="AttributionShare"):
        domain.trusted(AttributionShare, {"department_code": "DWP", "amount_pence": 1})


def test_a_description_beyond_the_text_limit_is_still_refused_by_validation() -> None:
    book = domain.PlaceBook(PLACE)
    domain.decide(book, uuid.UUID(int=1), _pinned_requests()[0])
    too_long = ReservationRequested(
        place_id=PLACE,
        allocation_id="A-LONG",
        financial_year=YEAR,
        amount_pence=1_00,
        purpose="x" * TEXT_LENGTH_MAX,
    )
    with pytest.raises(ValidationError, match="description"):
        domain.decide(book, uuid.UUID(int=2), too_long)


@given(request_event_id=st.uuids(), count=st.integers(min_value=1, max_value=12))
def test_answer_ids_are_the_uuid5_of_the_request_and_the_answers_place(
    request_event_id: uuid.UUID, count: int
) -> None:
    decision = domain.Decision(request_event_id)
    decision.answers = [domain.Payload(TransferPosted, {})] * count
    assert decision.answer_ids() == [
        uuid.uuid5(request_event_id, f"answer/{index}") for index in range(count)
    ]


@given(request_event_id=st.uuids(), count=st.integers(min_value=1, max_value=12))
def test_answer_id_texts_are_the_answer_ids_written_out(
    request_event_id: uuid.UUID, count: int
) -> None:
    decision = domain.Decision(request_event_id)
    decision.answers = [domain.Payload(TransferPosted, {})] * count
    expected = [uuid.uuid5(request_event_id, f"answer/{index}") for index in range(count)]
    assert decision.answer_id_texts() == [str(answer_id) for answer_id in expected]
    for made, plain in zip(decision.answer_ids(), expected, strict=True):
        assert (made.int, made.version, made.variant, made.is_safe) == (
            plain.int,
            plain.version,
            plain.variant,
            plain.is_safe,
        )
        assert hash(made) == hash(plain) and made == plain


@pytest.mark.parametrize(
    "account",
    [
        domain.pot_account("DWP", "WORK"),
        domain.settlement_account("DWP", "WORK"),
        domain.received_account("DHSC", "HEALTH"),
        domain.commitment_account("A-1", "DFE", "SCHOOLS"),
        domain.provider_account("P-1"),
        domain.payer_account("DWP"),
        domain.PAYERS_FUNDED,
    ],
)
def test_an_accounts_columns_are_what_its_separate_readings_give(account: str) -> None:
    allocation_id = account.split(":")[1] if account.startswith("commitment:") else None
    assert domain.account_columns(account) == (
        *domain.stream_of(account),
        allocation_id,
        domain.must_not_go_negative(account),
    )


def test_a_transfer_made_from_its_fields_is_the_one_its_constructor_makes() -> None:
    book = domain.PlaceBook(PLACE)
    decisions = [
        domain.decide(book, event_id, request) for event_id, request in _every_kind_of_answer()
    ]
    transfers = [transfer for decision in decisions for transfer in decision.transfers]
    assert len(transfers) > 5
    for transfer in transfers:
        plain = domain.Transfer(**vars(transfer))
        assert transfer == plain
        assert list(vars(transfer)) == list(vars(plain))
        assert domain.transfer_hash(vars(transfer)) == transfer.chain_hash
        with pytest.raises(AttributeError):
            transfer.sequence = 0  # type: ignore[misc]
    with pytest.raises(AssertionError, match="in order"):
        domain.Transfer.of({"sequence": 1, "place_id": PLACE})
