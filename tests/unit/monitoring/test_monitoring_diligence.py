"""Due diligence ratings: red for a register that does not show the organisation active or for
failed bank details, amber for what is missing, unmitigated or expired, green otherwise; and a
red rating blocks unless the accounting officer overrides it."""

from __future__ import annotations

from datetime import date

import pytest

from services.gateway.monitoring import diligence
from services.gateway.monitoring.checks import ManualEntry
from services.gateway.monitoring.diligence import (
    BankCheck,
    Conflict,
    DiligenceRefused,
    DueDiligence,
    Override,
    RegistrationCheck,
)

TODAY = date(2026, 12, 7)


def record(
    status: str = "active",
    checked_on: date = date(2026, 11, 1),
    bank: str = "verified",
    conflicts: tuple[Conflict, ...] = (),
) -> DueDiligence:
    return DueDiligence(
        organisation_ref="PROV-HUBS",
        registration=RegistrationCheck("charity", "1123456", status, checked_on, "fin-1"),
        bank=BankCheck(bank, checked_on, "fin-1"),
        conflicts=conflicts,
    )


def test_current_passed_checks_are_green() -> None:
    rating = diligence.rate(record(), TODAY, valid_days=365)
    assert rating == diligence.Rating("green", ("every check is current and passed",))


def test_a_charity_removed_from_the_register_is_red_and_says_who_checked_when() -> None:
    rating = diligence.rate(record(status="removed"), TODAY, valid_days=365)
    assert rating.colour == "red"
    assert rating.reasons == (
        "the charity register shows 1123456 as removed (checked 2026-11-01 by fin-1)",
    )
    assert diligence.block("PROV-HUBS", rating, None) == (
        "PROV-HUBS is rated red in due diligence: the charity register shows 1123456 as removed "
        "(checked 2026-11-01 by fin-1)"
    )


def test_failed_bank_details_are_red() -> None:
    assert diligence.rate(record(bank="failed"), TODAY, 365).colour == "red"


def test_a_check_older_than_the_place_s_period_turns_amber() -> None:
    old = record(checked_on=date(2025, 12, 1))
    assert diligence.rate(old, TODAY, valid_days=400).colour == "green"
    rating = diligence.rate(old, TODAY, valid_days=365)
    assert rating.colour == "amber"
    assert rating.reasons == (
        "the registration check of 2025-12-01 is older than 365 days",
        "the bank-detail check of 2025-12-01 is older than 365 days",
    )
    assert diligence.block("PROV-HUBS", rating, None) is None


def test_an_unmitigated_conflict_and_unverified_bank_details_are_amber() -> None:
    conflicts = (
        Conflict("Cllr Ahmed", "trustee of the charity"),
        Conflict("J Smith", "spouse employed", "left the decision"),
    )
    rating = diligence.rate(record(bank="unverified", conflicts=conflicts), TODAY, 365)
    assert rating.colour == "amber"
    assert rating.reasons == (
        "bank details are not verified",
        "Cllr Ahmed declared a conflict (trustee of the charity) with no mitigation recorded",
    )


def test_the_accounting_officer_s_override_lifts_the_block_of_a_red_rating_only() -> None:
    red = diligence.rate(record(status="dissolved"), TODAY, 365)
    override = Override("ca-chief-executive", "Re-registered; CC confirms by letter", TODAY)
    assert diligence.block("PROV-HUBS", red, override) is None
    diligence.check_override(red, "Re-registered; CC confirms by letter")
    with pytest.raises(DiligenceRefused) as no_reason:
        diligence.check_override(red, "  ")
    assert no_reason.value.rule == "required"
    with pytest.raises(DiligenceRefused) as not_red:
        diligence.check_override(diligence.rate(record(), TODAY, 365), "just in case")
    assert not_red.value.rule == "red_only"


async def test_manual_entry_records_what_staff_typed_dated_today_unless_told() -> None:
    entry = ManualEntry("active", None, "verified", date(2026, 12, 1))
    registration = await entry.registration("PROV-HUBS", "charity", "1123456", "fin-1", TODAY)
    bank = await entry.bank_details("PROV-HUBS", "fin-1", TODAY)
    assert registration == RegistrationCheck("charity", "1123456", "active", TODAY, "fin-1")
    assert bank == BankCheck("verified", date(2026, 12, 1), "fin-1")
    assert await ManualEntry(None, None, None, None).bank_details("P", "fin-1", TODAY) is None


def test_a_check_dated_in_the_future_is_refused() -> None:
    with pytest.raises(DiligenceRefused) as refused:
        diligence.check_record(record(checked_on=date(2027, 1, 1)), TODAY)
    assert (refused.value.field, refused.value.rule) == ("registration.checked_on", "not_future")
