"""Pure rules of telling people what happened: a command's progress from its saga's events,
refusals in one shape from every service, statuses in words, landing pages and the year a page
opens on."""

from __future__ import annotations

from datetime import date

from contracts import AllocationApproved, ReservationRejected, SettlementRecorded
from contracts.decisions import CommandRefused
from contracts.envelope import wrap
from contracts.outcomes import CommandRejected
from contracts.refusals import refusal_of
from contracts.values import financial_year_on
from services.gateway.command_log.status import DONE, REFUSED, WAITING_FOR_LEDGER, progress_of
from services.gateway.domain import Grant, Principal, Role
from services.gateway.projections.views import default_year
from services.gateway.web.routes import landing_page
from services.gateway.web.words import status_tag, status_words

COMMAND = wrap(
    SettlementRecorded(
        place_id="GM",
        settlement_id="S-1",
        department_code="DWP",
        funding_stream_code="WORK",
        spending_review_period="SR2025",
        profile=[{"financial_year": "2026-27", "amount_pence": 100}],
        transfer_id="T-1",
    ),
    producer="gateway",
)
COMMAND_EVENT = SettlementRecorded.model_validate(COMMAND.payload)


def answer(event, producer: str = "ledger"):
    return wrap(event, producer=producer, causation=COMMAND), event


def test_a_ledger_refusal_reads_as_the_shared_refusal_of_the_command_with_its_figures() -> None:
    envelope, event = answer(
        CommandRefused(
            place_id="GM",
            decided_by="ledger",
            command_type="RecordReceipt",
            subject_id=str(COMMAND.event_id),
            reason="receipt of £2.00 exceeds the £1.00 still owed",
            rule="receipt_within_owed",
            figures={"amount_pence": 200, "owed_pence": 100},
        )
    )

    refusal = refusal_of(envelope, event)

    assert refusal is not None
    assert refusal.command_id == COMMAND.correlation_id
    assert (refusal.rule, refusal.decided_by) == ("receipt_within_owed", "ledger")
    assert refusal.figures == {"amount_pence": 200, "owed_pence": 100}


def test_an_old_refusal_without_a_rule_still_reads_with_a_named_rule() -> None:
    envelope, event = answer(
        CommandRejected(
            place_id="GM", contract_id="C-1", command_type="AmendMetric", reasons=("a", "b")
        ),
        producer="outcomes",
    )

    refusal = refusal_of(envelope, event)

    assert refusal is not None
    assert (refusal.rule, refusal.reason, refusal.subject_id) == (
        "outcomes_command_valid",
        "a; b",
        "C-1",
    )


def test_an_approval_the_ledger_must_fund_keeps_the_command_waiting() -> None:
    approved = AllocationApproved(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="grant",
        recipient_id="TRUST",
        value_pence=100,
        financial_year="2026-27",
        decided_by="board",
        sign_off_required=False,
    )

    progress = progress_of(*answer(approved, "allocations"))

    assert progress is not None
    assert (progress.status, progress.waiting_for) == ("accepted", WAITING_FOR_LEDGER)
    assert progress.made == {"allocation_id": "A-1", "financial_year": "2026-27"}


def test_a_reservation_refused_refuses_the_command_and_a_result_makes_it_done() -> None:
    refused = ReservationRejected(
        place_id="GM", allocation_id="A-1", amount_pence=300, reason="short", unreserved_pence=100
    )

    refusal = progress_of(*answer(refused))
    done = progress_of(COMMAND, COMMAND_EVENT)

    assert refusal is not None and refusal.status == REFUSED
    assert refusal.refusal is not None
    assert refusal.refusal["figures"] == {"amount_pence": 300, "unreserved_pence": 100}
    assert done is not None and done.status == DONE
    assert done.made["settlement_id"] == "S-1"


def test_statuses_read_as_words_in_tags() -> None:
    assert status_words("awaiting_verification") == "Awaiting verification"
    assert status_words("something_new") == "Something new"
    assert status_tag("paid") == '<strong class="govuk-tag govuk-tag--green">Paid</strong>'
    assert "&lt;b&gt;" in status_tag("<b>")


def test_a_person_lands_on_their_own_page_after_signing_in() -> None:
    provider = Principal("prov", (Grant(Role.PROVIDER, "GM", "PROV-A"),))
    auditor = Principal("audit", (Grant(Role.AUDITOR),))
    nobody = Principal("nobody", ())

    finance_and_board = Principal(
        "both", (Grant(Role.FINANCE, "GM"), Grant(Role.BOARD_MEMBER, "GM"))
    )

    assert landing_page(provider, ["GM"]) == "/places/GM/providers/PROV-A"
    assert landing_page(auditor, ["GM"]) == "/places/GM/finance"
    # Several pages of their own: the person chooses from the list of them.
    assert landing_page(auditor, ["GM", "WM"]) == "/account"
    assert landing_page(finance_and_board, ["GM"]) == "/account"
    assert landing_page(nobody, ["GM"]) == "/account"


def test_a_page_opens_on_the_current_financial_year_when_it_has_figures() -> None:
    years = ["2025-26", "2026-27", "2027-28"]

    assert financial_year_on(date(2026, 12, 7)) == "2026-27"
    assert financial_year_on(date(2027, 3, 31)) == "2026-27"
    assert financial_year_on(date(2027, 4, 1)) == "2027-28"
    assert default_year(years, date(2026, 12, 7)) == "2026-27"
    assert default_year(years, date(2030, 1, 1)) == "2027-28"
    assert default_year([], date(2026, 12, 7)) is None
    assert default_year(years, None) == "2027-28"
