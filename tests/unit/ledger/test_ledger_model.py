"""A Hypothesis state machine drives random request sequences through the ledger's real rules
(`domain.decide`) beside a deliberately simple model, and checks the seven invariants of
ARCHITECTURE.md §4 after every step."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pydantic_core
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from contracts import (
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
    ReservationTransferred,
    ReservationTransferRequested,
    SpendRecorded,
    VirementRequested,
)
from services.ledger import domain

PLACE = "GM"
YEARS = ("2026-27", "2027-28")
STREAMS = (("DWP", "WORK"), ("DHSC", "HEALTH"), ("MOJ", "JUSTICE"))
ALLOCATIONS = ("A-1", "A-2", "A-3")
PROVIDERS = ("P-1", "P-2")

# Settlements are large and the rest small, so that most sequences get as far as payments and
# recoveries; over-spends still happen once a pot has been drawn down.
settled_pence = st.integers(min_value=1_000_000, max_value=50_000_000)
pence = st.integers(min_value=1, max_value=4_000_000)
years = st.sampled_from(YEARS)


@dataclass
class Model:
    """The ledger as a finance clerk would keep it on paper: a few totals, nothing clever."""

    unreserved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(YEARS, 0))
    reserved: dict[str, int] = field(default_factory=dict)
    reservation_year: dict[str, str] = field(default_factory=dict)
    paid: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # id -> alloc, prov, £
    recovered: dict[str, int] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    settlements: dict[str, tuple[str, str]] = field(default_factory=dict)
    owed: dict[tuple[str, str, str], int] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = domain.PlaceBook(PLACE)
        self.model = Model()
        self.transfers: list[domain.Transfer] = []
        self.sent: list[tuple[uuid.UUID, Event]] = []
        self.counter = 0
        self.last_events: list[Event] = []
        self.last_answers: list[Event | domain.Payload] = []

    # --- sending ---------------------------------------------------------------------------

    def send(self, request: Event, event_id: uuid.UUID | None = None) -> domain.Decision:
        event_id = event_id or uuid.uuid4()
        decision = domain.decide(self.book, event_id, request)
        closed_before = set(self.model.closed)
        for transfer in decision.transfers:
            # Invariant 5: nothing posts into a year that was closed before the request.
            assert transfer.financial_year not in closed_before
        self.transfers += decision.transfers
        self.last_events = decision.events  # payloads validated against their contracts
        self.last_answers = decision.answers
        if not decision.conflict:
            self.sent.append((event_id, request))
        return decision

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def posted(self, decision: domain.Decision) -> bool:
        return bool(decision.transfers) or any(
            type(event).__name__ == "PeriodClosed" for event in decision.events
        )

    # --- rules -----------------------------------------------------------------------------

    @rule(stream=st.sampled_from(STREAMS), amounts=st.lists(settled_pence, min_size=1, max_size=2))
    def settle(self, stream: tuple[str, str], amounts: list[int]) -> None:
        settlement_id = self.next_id("S")
        profile = tuple(
            FinancialYearAmount(financial_year=year, amount_pence=amount)
            for year, amount in zip(YEARS, amounts, strict=False)
        )
        decision = self.send(
            RecordSettlement(
                place_id=PLACE,
                settlement_id=settlement_id,
                department_code=stream[0],
                funding_stream_code=stream[1],
                spending_review_period="SR2025",
                profile=profile,
            )
        )
        expected = not any(entry.financial_year in self.model.closed for entry in profile)
        assert self.posted(decision) == expected
        if expected:
            self.model.settlements[settlement_id] = stream
            for entry in profile:
                self.model.unreserved[entry.financial_year] += entry.amount_pence
                key = (*stream, entry.financial_year)
                self.model.owed[key] = self.model.owed.get(key, 0) + entry.amount_pence

    @precondition(lambda self: self.model.settlements)
    @rule(data=st.data(), year=years, amount=pence)
    def receive(self, data: st.DataObject, year: str, amount: int) -> None:
        settlement_id = data.draw(st.sampled_from(sorted(self.model.settlements)))
        department, stream = self.model.settlements[settlement_id]
        decision = self.send(
            RecordReceipt(
                place_id=PLACE,
                receipt_id=self.next_id("R"),
                settlement_id=settlement_id,
                department_code=department,
                funding_stream_code=stream,
                financial_year=year,
                amount_pence=amount,
            )
        )
        owed = self.model.owed.get((department, stream, year), 0)
        expected = year not in self.model.closed and amount <= owed
        assert self.posted(decision) == expected, decision.events
        if expected:
            self.model.owed[(department, stream, year)] = owed - amount

    @rule(allocation=st.sampled_from(ALLOCATIONS), year=years, amount=pence)
    def reserve(self, allocation: str, year: str, amount: int) -> None:
        decision = self.send(
            ReservationRequested(
                place_id=PLACE,
                allocation_id=allocation,
                financial_year=year,
                amount_pence=amount,
                purpose="a programme",
            )
        )
        year_ok = self.model.reservation_year.get(allocation, year) == year
        expected = (
            year_ok and year not in self.model.closed and amount <= self.model.unreserved[year]
        )
        assert self.posted(decision) == expected, decision.events
        if expected:
            self.model.unreserved[year] -= amount
            self.model.reserved[allocation] = self.model.reserved.get(allocation, 0) + amount
            self.model.reservation_year[allocation] = year
            [made] = [event for event in decision.events if isinstance(event, ReservationMade)]
            assert made.amount_pence == amount

    @rule(allocation=st.sampled_from(ALLOCATIONS), amount=pence)
    def release(self, allocation: str, amount: int) -> None:
        decision = self.send(
            ReservationReleaseRequested(
                place_id=PLACE, allocation_id=allocation, amount_pence=amount, reason="cancelled"
            )
        )
        year = self.model.reservation_year.get(allocation)
        expected = (
            year is not None
            and year not in self.model.closed
            and amount <= self.model.reserved[allocation]
        )
        assert self.posted(decision) == expected, decision.events
        if expected:
            assert year is not None
            self.model.reserved[allocation] -= amount
            self.model.unreserved[year] += amount

    @rule(
        source=st.sampled_from(ALLOCATIONS), destination=st.sampled_from(ALLOCATIONS), amount=pence
    )
    def move_reservation(self, source: str, destination: str, amount: int) -> None:
        decision = self.send(
            ReservationTransferRequested(
                place_id=PLACE,
                reservation_transfer_id=self.next_id("MOVE"),
                from_allocation_id=source,
                to_allocation_id=destination,
                amount_pence=amount,
                purpose="a round's winner",
            )
        )
        year = self.model.reservation_year.get(source)
        expected = (
            year is not None
            and source != destination
            and self.model.reservation_year.get(destination, year) == year
            and year not in self.model.closed
            and amount <= self.model.reserved[source]
        )
        assert self.posted(decision) == expected, decision.events
        if expected:
            assert year is not None
            self.model.reserved[source] -= amount
            self.model.reserved[destination] = self.model.reserved.get(destination, 0) + amount
            self.model.reservation_year[destination] = year
            [moved] = [e for e in decision.events if isinstance(e, ReservationTransferred)]
            assert moved.amount_pence == amount

    @rule(
        allocation=st.sampled_from(ALLOCATIONS), provider=st.sampled_from(PROVIDERS), amount=pence
    )
    def pay(self, allocation: str, provider: str, amount: int) -> None:
        payment_id = self.next_id("PAY")
        decision = self.send(_payment(payment_id, allocation, provider, amount))
        year = self.model.reservation_year.get(allocation)
        expected = (
            year is not None
            and year not in self.model.closed
            and amount <= self.model.reserved[allocation]
        )
        assert self.posted(decision) == expected, decision.events
        if expected:
            self.model.reserved[allocation] -= amount
            self.model.paid[payment_id] = (allocation, provider, amount)
            [spend] = [event for event in decision.events if isinstance(event, SpendRecorded)]
            assert spend.amount_pence == amount

    @precondition(lambda self: self.model.paid)
    @rule(data=st.data(), share=st.floats(min_value=0.01, max_value=1.5))
    def recover(self, data: st.DataObject, share: float) -> None:
        payment_id = data.draw(st.sampled_from(sorted(self.model.paid)))
        allocation, provider, paid = self.model.paid[payment_id]
        amount = max(1, int(paid * share))
        decision = self.send(
            RecoveryRaised(
                place_id=PLACE,
                recovery_id=self.next_id("REC"),
                payment_id=payment_id,
                allocation_id=allocation,
                provider_id=provider,
                amount_pence=amount,
                reason="evidence found invalid",
            )
        )
        year = self.book.payments[payment_id].financial_year
        if year in self.model.closed:
            year = domain.next_financial_year(year)
        left = paid - self.model.recovered.get(payment_id, 0)
        expected = amount <= left and year not in self.model.closed
        assert self.posted(decision) == expected, decision.events
        if expected:
            self.model.recovered[payment_id] = self.model.recovered.get(payment_id, 0) + amount
            if year in self.model.unreserved:
                self.model.unreserved[year] += amount

    @rule(
        source=st.sampled_from(STREAMS),
        destination=st.sampled_from(STREAMS),
        year=years,
        amount=pence,
    )
    def vire(
        self, source: tuple[str, str], destination: tuple[str, str], year: str, amount: int
    ) -> None:
        if source[1] == destination[1]:
            return
        available = sum(
            share.amount_pence
            for share in self.book.shares(year, "pot:")
            if share.funding_stream_code == source[1]
        )
        decision = self.send(
            VirementRequested(
                place_id=PLACE,
                virement_id=self.next_id("V"),
                financial_year=year,
                from_funding_stream_code=source[1],
                to_funding_stream_code=destination[1],
                amount_pence=amount,
                approval_reference="BOARD-1",
            )
        )
        expected = year not in self.model.closed and amount <= available
        assert self.posted(decision) == expected, decision.events

    @rule(year=years)
    def close(self, year: str) -> None:
        decision = self.send(ClosePeriod(place_id=PLACE, financial_year=year))
        assert self.posted(decision) == (year not in self.model.closed)
        self.model.closed.add(year)

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def resend_the_same_request(self, data: st.DataObject) -> None:
        event_id, request = data.draw(st.sampled_from(self.sent))
        before = self.book.sequence
        decision = self.send(request, event_id)
        # Invariant 3: a repeat posts nothing and is answered with the original answer.
        assert decision.replay_of == self.book.requests[event_id]
        assert not decision.transfers and self.book.sequence == before

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def reuse_an_id_for_a_different_request(self, data: st.DataObject) -> None:
        event_id, _ = data.draw(st.sampled_from(self.sent))
        before = self.book.sequence
        decision = self.send(ClosePeriod(place_id=PLACE, financial_year="2030-31"), event_id)
        assert decision.conflict and not decision.transfers and self.book.sequence == before
        assert "already used for a different request" in decision.events[0].reason  # type: ignore[attr-defined]

    # --- the seven invariants, after every step ---------------------------------------------

    @invariant()
    def every_transfer_balances(self) -> None:
        for transfer in self.transfers:
            assert sum(leg.signed_pence for leg in transfer.legs) == 0

    @invariant()
    def flagged_accounts_never_go_negative(self) -> None:
        for (_, account), balance in self.book.balances.items():
            if domain.must_not_go_negative(account):
                assert balance >= 0, account

    @invariant()
    def the_chain_verifies_and_nothing_was_rewritten(self) -> None:
        assert domain.first_broken_link(self.transfers) is None
        assert [t.sequence for t in self.transfers] == list(range(1, len(self.transfers) + 1))

    @invariant()
    def balances_are_derivable_from_transfers(self) -> None:
        stored = {key: balance for key, balance in self.book.balances.items() if balance}
        assert stored == domain.derive_balances(self.transfers)

    @invariant()
    def the_ledger_agrees_with_the_model(self) -> None:
        for year in YEARS:
            pot = sum(s.amount_pence for s in self.book.shares(year, "pot:"))
            assert pot == self.model.unreserved[year], year
        for allocation, reserved in self.model.reserved.items():
            year = self.model.reservation_year[allocation]
            held = sum(s.amount_pence for s in self.book.shares(year, f"commitment:{allocation}:"))
            assert held == reserved

    @invariant()
    def every_answer_passes_its_contract(self) -> None:
        # The ledger builds its answers without validating them again (domain.trusted): each
        # must be exactly what validating the same fields gives.
        for event in self.last_events:
            assert type(event).model_validate(event.model_dump()) == event
            assert event.model_dump_json() == type(event)(**dict(event)).model_dump_json()
        # An answer given as its payload is what its validated event dumps, byte for byte.
        for answer, event in zip(self.last_answers, self.last_events, strict=True):
            if isinstance(answer, domain.Payload):
                assert pydantic_core.to_json(answer.payload) == event.model_dump_json().encode()

    @invariant()
    def attributions_add_up_to_the_penny(self) -> None:
        for event in self.last_events:
            if isinstance(
                event, ReservationMade | ReservationTransferred | PaymentMade | SpendRecorded
            ):
                assert sum(s.amount_pence for s in event.attribution) == event.amount_pence
        for payment in self.book.payments.values():
            assert sum(share.amount_pence for share in payment.attribution) == payment.amount_pence


def _payment(payment_id: str, allocation: str, provider: str, amount: int) -> PaymentRequested:
    return PaymentRequested(
        place_id=PLACE,
        payment_id=payment_id,
        allocation_id=allocation,
        provider_id=provider,
        amount_pence=amount,
        payment_kind="grant_instalment",
        purpose="instalment",
    )


LedgerMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_ledger_keeps_its_invariants_under_random_requests = LedgerMachine.TestCase


def test_payment_attribution_follows_the_reservation_mix_to_the_penny() -> None:
    book = domain.PlaceBook(PLACE)
    for number, (department, stream, amount) in enumerate(
        [("DWP", "WORK", 100_001), ("DHSC", "HEALTH", 200_003), ("MOJ", "JUSTICE", 1)]
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
                profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=amount),),
            ),
        )
    reservation = ReservationRequested(
        place_id=PLACE,
        allocation_id="A-1",
        financial_year="2026-27",
        amount_pence=300_005,
        purpose="p",
    )
    domain.decide(book, uuid.uuid4(), reservation)
    decision = domain.decide(book, uuid.uuid4(), _payment("PAY-1", "A-1", "P-1", 7))
    [made] = [event for event in decision.events if isinstance(event, PaymentMade)]
    shares = {share.department_code: share.amount_pence for share in made.attribution}
    assert sum(shares.values()) == 7
    # 7 × 100001/300005 = 2.33, 7 × 200003/300005 = 4.67, 7 × 1/300005 ≈ 0: largest remainder
    # gives DHSC the spare penny.
    assert shares == {"DWP": 2, "DHSC": 5}


def test_a_rejection_reads_as_a_sentence_with_the_numbers() -> None:
    book = domain.PlaceBook("Greater Manchester")
    decision = domain.decide(
        book,
        uuid.uuid4(),
        ReservationRequested(
            place_id="Greater Manchester",
            allocation_id="A-17",
            financial_year="2026-27",
            amount_pence=25_000_000,
            purpose="p",
        ),
    )
    [rejected] = decision.events
    assert rejected.reason == (  # type: ignore[attr-defined]
        "reservation of £250,000.00 for allocation A-17 exceeds the unreserved pot of £0.00 "
        "for Greater Manchester 2026-27"
    )
    assert not decision.transfers and book.sequence == 0
