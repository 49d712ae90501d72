"""Due diligence on an organisation before money moves (GovS 015 requirement 7), pure: the
record (registration check, bank-detail verification, conflicts declared), its red/amber/green
rating with reasons on a given day, and whether a red rating blocks sign-off and payment (it
does, unless the accounting officer has overridden it with a recorded reason).

Rules *(choice, stated here and in README)*:
- red: the register shows the organisation other than active (removed, dissolved, in
  liquidation or administration, not found), or its bank details failed verification;
- amber: no registration check, bank details not verified, a check older than the place's
  validity period (an expired check turns amber, never green), or a conflict declared with no
  mitigation recorded;
- green: otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.gateway.errors import GatewayError

REGISTERS = ("charity", "company", "mutual", "other")
REGISTRATION_STATUSES = (
    "active",
    "removed",
    "dissolved",
    "in_liquidation",
    "in_administration",
    "not_found",
)
BANK_STATUSES = ("verified", "unverified", "failed")
RED, AMBER, GREEN = "red", "amber", "green"
CONFLICTS_MAX = 50
VALIDITY_IRRELEVANT_DAYS = 36_500
"""For questions whose answer the validity period cannot change (is it red?)."""


class DiligenceRefused(GatewayError, ValueError):
    def __init__(self, field: str, rule: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.status = status


@dataclass(frozen=True)
class RegistrationCheck:
    register: str
    number: str
    status: str
    checked_on: date
    checked_by: str


@dataclass(frozen=True)
class BankCheck:
    status: str
    checked_on: date
    checked_by: str


@dataclass(frozen=True)
class Conflict:
    person: str
    interest: str
    mitigation: str = ""


@dataclass(frozen=True)
class DueDiligence:
    """What was checked of one organisation, by whom and when, and where it came from."""

    organisation_ref: str
    registration: RegistrationCheck | None
    bank: BankCheck | None
    conflicts: tuple[Conflict, ...] = ()
    source: str = "manual"


@dataclass(frozen=True)
class Rating:
    colour: str
    reasons: tuple[str, ...]
    # The reasons that make it red (none unless it is): these alone block, and none of them
    # depends on the validity period, so a block never appears or lifts with the calendar.
    red_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Override:
    overridden_by: str
    reason: str
    overridden_on: date


def check_record(record: DueDiligence, today: date) -> None:
    """Refuse values outside the lists and checks dated in the future."""
    registration, bank = record.registration, record.bank
    if registration is not None:
        _one_of(registration.register, REGISTERS, "registration.register")
        _one_of(registration.status, REGISTRATION_STATUSES, "registration.status")
        _not_future(registration.checked_on, today, "registration.checked_on")
        if not registration.number.strip():
            raise DiligenceRefused("registration.number", "required", "give the number checked")
    if bank is not None:
        _one_of(bank.status, BANK_STATUSES, "bank.status")
        _not_future(bank.checked_on, today, "bank.checked_on")
    if len(record.conflicts) > CONFLICTS_MAX:
        raise DiligenceRefused("conflicts", "count", f"at most {CONFLICTS_MAX} conflicts")


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise DiligenceRefused(field, "one_of", f"{field} must be one of {', '.join(allowed)}")


def _not_future(day: date, today: date, field: str) -> None:
    if day > today:
        raise DiligenceRefused(field, "not_future", f"{field} cannot be after today ({today})")


def rate(record: DueDiligence, as_of: date, valid_days: int) -> Rating:
    """The rating on `as_of`, with a sentence for every reason it is not green."""
    reds: list[str] = []
    ambers: list[str] = []
    oldest_valid = as_of - timedelta(days=valid_days)
    registration = record.registration
    if registration is None:
        ambers.append("no registration check is recorded")
    elif registration.status != "active":
        status = registration.status.replace("_", " ")
        reds.append(
            f"the {registration.register} register shows {registration.number} as {status} "
            f"(checked {registration.checked_on} by {registration.checked_by})"
        )
    elif registration.checked_on < oldest_valid:
        ambers.append(
            f"the registration check of {registration.checked_on} is older than {valid_days} days"
        )
    bank = record.bank
    if bank is None or bank.status == "unverified":
        ambers.append("bank details are not verified")
    elif bank.status == "failed":
        reds.append(f"bank details failed verification on {bank.checked_on}")
    elif bank.checked_on < oldest_valid:
        ambers.append(f"the bank-detail check of {bank.checked_on} is older than {valid_days} days")
    for conflict in record.conflicts:
        if not conflict.mitigation.strip():
            ambers.append(
                f"{conflict.person} declared a conflict ({conflict.interest}) with no "
                "mitigation recorded"
            )
    if reds:
        return Rating(RED, (*reds, *ambers), tuple(reds))
    if ambers:
        return Rating(AMBER, tuple(ambers))
    return Rating(GREEN, ("every check is current and passed",))


def block(organisation_ref: str, rating: Rating, override: Override | None) -> str | None:
    """Why sign-off and payment wait for this organisation, or None when they need not."""
    if rating.colour != RED or override is not None:
        return None
    return f"{organisation_ref} is rated red in due diligence: {'; '.join(rating.red_reasons)}"


def check_override(rating: Rating, reason: str) -> None:
    if rating.colour != RED:
        raise DiligenceRefused(
            "rating", "red_only", f"the rating is {rating.colour}: only a red rating is overridden"
        )
    if not reason.strip() or len(reason) > 2_000:
        raise DiligenceRefused(
            "reason", "required", "record why the accounting officer overrides the red rating"
        )
