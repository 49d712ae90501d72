"""The Transparency Code return, from figures written by hand: a quarter with payments above,
at and below £500, a recovery published as a credit note, a payment to a person redacted, and
payments outside the quarter left out."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime

from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import Allocation, Payment, PlaceData, Recovery
from services.gateway.opendata.transparency import (
    COLUMNS,
    Quarter,
    QuarterRefused,
    csv_text,
    quarter_of,
    return_rows,
)

WORKWELL = Organisation(
    "PROV-WW", "provider", "Workwell Community Interest Company", "social_enterprise",
    "GB-COH", "12345678",
)  # fmt: skip


def at(day: int, month: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 14, tzinfo=UTC)


def allocation(allocation_id: str, allocation_type: str, purpose: str) -> Allocation:
    return Allocation(
        allocation_id=allocation_id,
        allocation_type=allocation_type,
        recipient_id="PROV-WW",
        purpose=purpose,
        mission_id="M-1",
        start_date=date(2026, 4, 1),
        end_date=date(2027, 3, 31),
        value_pence=100_000_00,
        financial_year="2026-27",
        status="funded",
        funded_pence=100_000_00,
        updated_at=at(1, 4),
    )


def payment(payment_id: str, provider_id: str, pence: int, when: datetime, **rest: str) -> Payment:
    return Payment(
        payment_id=payment_id,
        allocation_id=rest.get("allocation_id", "A-GRANT"),
        provider_id=provider_id,
        contract_id=None,
        claim_batch_id=None,
        amount_pence=pence,
        payment_kind="instalment",
        status=rest.get("status", "made"),
        recovered_pence=0,
        recorded_at=when,
    )


def quarter_one() -> PlaceData:
    return PlaceData(
        place_id="GM",
        organisations={"PROV-WW": WORKWELL},
        allocations=(
            allocation("A-GRANT", "grant", "Employment support in Salford"),
            allocation("A-OC", "outcomes_contract", "Sustained work outcomes"),
        ),
        payments=(
            payment("P-1", "PROV-WW", 1_200_00, at(15, 4)),  # over £500: published
            payment("P-2", "PROV-WW", 500_00, at(16, 4)),  # exactly £500: not over
            payment("P-3", "PROV-WW", 499_99, at(17, 4)),  # below: not published
            payment("P-4", "PROV-JSMITH", 800_00, at(20, 5)),  # a person: redacted
            # Paid on 30 June, recorded by the gateway on 2 July: it is a Q1 payment.
            replace(
                payment("P-5", "PROV-WW", 2_500_00, at(2, 7), allocation_id="A-OC"),
                paid_at=at(30, 6),
            ),
            payment("P-6", "PROV-WW", 9_000_00, at(1, 7)),  # next quarter
            payment("P-7", "PROV-WW", 700_00, at(3, 4), status="refused"),  # never paid
        ),
        recoveries=(
            # £300 of P-1 recovered on 10 June: a credit note.
            Recovery("C-1", "OC-1", "P-1", "MET-1", None, 300_00, at(10, 6)),
            # £100 of P-3 (not published) recovered: no credit note either.
            Recovery("C-2", "OC-1", "P-3", "MET-1", None, 100_00, at(11, 6)),
        ),
    )


def test_quarter_one_publishes_payments_over_500_credit_notes_and_redacts_a_person() -> None:
    rows = return_rows(quarter_one(), Quarter("2026-27", 1))

    assert [(r["Date"], r["Transaction number"], r["Amount"]) for r in rows] == [
        ("2026-04-15", "P-1", "1200.00"),
        ("2026-05-20", "P-4", "800.00"),
        ("2026-06-10", "P-1", "-300.00"),
        ("2026-06-30", "P-5", "2500.00"),
    ]
    first, person, credit_note, outcome = rows
    assert first["Body"] == "Greater Manchester Combined Authority"
    assert first["Beneficiary"] == "Workwell Community Interest Company"
    assert first["Beneficiary registration number"] == "GB-COH-12345678"
    assert first["Summary of purpose"] == "Employment support in Salford"
    assert first["Merchant category"] == "Grants"
    assert person["Beneficiary"] == "REDACTED"
    assert person["Beneficiary registration number"] == ""
    assert "PROV-JSMITH" not in csv_text(rows)
    assert credit_note["Summary of purpose"].startswith("Credit note: recovery C-1 of payment P-1")
    assert outcome["Merchant category"] == "Outcomes payments (payment by results)"
    assert (
        sum(int(r["Amount"].replace(".", "")) for r in rows)
        == 1_200_00 + 800_00 - 300_00 + 2_500_00
    )


def test_the_next_quarter_holds_only_its_own_payments() -> None:
    rows = return_rows(quarter_one(), Quarter("2026-27", 2))

    assert [(r["Date"], r["Transaction number"], r["Amount"]) for r in rows] == [
        ("2026-07-01", "P-6", "9000.00")
    ]


def test_the_csv_has_the_codes_columns_in_order_and_reads_back() -> None:
    text = csv_text(return_rows(quarter_one(), Quarter("2026-27", 1)))

    read = list(csv.DictReader(io.StringIO(text)))
    assert tuple(read[0]) == COLUMNS
    assert [row["Amount"] for row in read] == ["1200.00", "800.00", "-300.00", "2500.00"]
    assert text.endswith("\r\n")


def test_quarters_run_april_to_march() -> None:
    assert (Quarter("2026-27", 1).first_day, Quarter("2026-27", 1).last_day) == (
        date(2026, 4, 1),
        date(2026, 6, 30),
    )
    assert (Quarter("2026-27", 4).first_day, Quarter("2026-27", 4).last_day) == (
        date(2027, 1, 1),
        date(2027, 3, 31),
    )
    assert Quarter("2026-27", 3).last_day == date(2026, 12, 31)


def test_a_financial_year_or_quarter_that_is_not_one_is_refused_naming_the_field() -> None:
    refusals = {}
    for year, quarter in (("2026-28", "Q1"), ("0000-01", "Q1"), ("26-27", "Q1"), ("2026-27", "Q5")):
        try:
            quarter_of(year, quarter)
        except QuarterRefused as refusal:
            refusals[(year, quarter)] = refusal.field
    assert refusals == {
        ("2026-28", "Q1"): "financial_year",
        ("0000-01", "Q1"): "financial_year",
        ("26-27", "Q1"): "financial_year",
        ("2026-27", "Q5"): "quarter",
    }
    assert quarter_of("2026-27", "Q2") == Quarter("2026-27", 2)
