"""Prompt-payment figures from figures written by hand: days to pay, the half year's bands and
average, the payments later than 30 days, and the quarter's payments over £30,000."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.gateway.returns.prompt_payment import (
    ContractPayment,
    Period,
    compliance_notice,
    half_year,
    large_payments,
)


def on(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 11, tzinfo=UTC)


def paid(
    payment_id: str, received: datetime | None, when: datetime, pence: int = 1_000_00
) -> ContractPayment:
    return ContractPayment(payment_id, "OC-1", "PROV-WW", pence, "B-" + payment_id, received, when)


PAYMENTS = [
    paid("P-1", on(4, 1), on(4, 21), 30_000_00),  # 20 days; exactly £30,000: not over
    paid("P-2", on(4, 1), on(5, 1), 30_000_01),  # 30 days
    paid("P-3", on(5, 1), on(6, 1), 45_000_00),  # 31 days
    paid("P-4", on(6, 1), on(7, 31)),  # 60 days
    paid("P-5", on(6, 1), on(8, 1), 100_000_00),  # 61 days
    paid("P-6", None, on(9, 1)),  # no claim date: counted apart
    paid("P-7", on(9, 20), on(10, 2)),  # paid in the second half
]


def test_the_first_half_years_notice_has_the_bands_and_average_worked_by_hand() -> None:
    notice = compliance_notice(PAYMENTS, half_year("2026-27", 1))

    assert [(p["payment_id"], p["days_to_pay"]) for p in notice["payments"]] == [
        ("P-1", 20),
        ("P-2", 30),
        ("P-3", 31),
        ("P-4", 60),
        ("P-5", 61),
    ]
    assert notice["payments_timed"] == 5
    assert notice["payments_without_claim_date"] == 1
    assert notice["average_days_to_pay"] == "40.4"  # (20 + 30 + 31 + 60 + 61) / 5
    assert notice["paid_within_days"] == {"1_to_30": 2, "31_to_60": 2, "61_or_more": 1}
    assert notice["paid_within_days_percent"] == {
        "1_to_30": "40.0",
        "31_to_60": "40.0",
        "61_or_more": "20.0",
    }
    assert [p["payment_id"] for p in notice["later_than_30_days"]] == ["P-3", "P-4", "P-5"]
    assert (notice["first_day"], notice["last_day"]) == ("2026-04-01", "2026-09-30")


def test_shares_round_half_up_to_one_place_and_a_same_day_payment_is_within_30_days() -> None:
    payments = [
        paid("Q-1", on(10, 5), on(10, 5)),  # 0 days
        paid("Q-2", on(10, 5), on(10, 6)),  # 1 day
        paid("Q-3", on(10, 5), on(12, 5)),  # 61 days
    ]
    notice = compliance_notice(payments, half_year("2026-27", 2))

    assert notice["paid_within_days"] == {"1_to_30": 2, "31_to_60": 0, "61_or_more": 1}
    assert notice["paid_within_days_percent"] == {
        "1_to_30": "66.7",
        "31_to_60": "0.0",
        "61_or_more": "33.3",
    }
    assert notice["average_days_to_pay"] == "20.7"  # 62 / 3 = 20.67


def test_a_half_year_with_no_timed_payments_has_no_average() -> None:
    notice = compliance_notice([paid("P-6", None, on(9, 1))], half_year("2026-27", 1))

    assert notice["average_days_to_pay"] is None
    assert notice["paid_within_days_percent"] == {
        "1_to_30": None,
        "31_to_60": None,
        "61_or_more": None,
    }


def test_the_quarters_payments_over_30000_are_listed_in_the_order_paid() -> None:
    quarter = Period("2026-27-Q1", date(2026, 4, 1), date(2026, 6, 30))

    listed = large_payments(PAYMENTS, quarter)

    assert [(p["payment_id"], p["paid_on"], p["amount_pence"]) for p in listed] == [
        ("P-2", "2026-05-01", 30_000_01),
        ("P-3", "2026-06-01", 45_000_00),
    ]


def test_half_years_run_april_to_september_and_october_to_march() -> None:
    second = half_year("2026-27", 2)
    assert (second.first_day, second.last_day) == (date(2026, 10, 1), date(2027, 3, 31))
