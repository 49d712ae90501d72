"""The port through which due diligence checks arrive, with its manual-entry implementation.

Today staff type what they checked (the Charity Commission or Companies House entry, the bank's
confirmation of payee answer) and `ManualEntry` records it as they gave it. An adapter for an
external checking service has the same shape: a class with a `source` name and the two methods
below, returning the same value objects, so the rest of the room (ratings, blocks, the API)
does not change when one is plugged in. No test calls an external service.

Shape of an adapter, for whoever writes one::

    class CompaniesHouseChecks:
        source = "companies-house"

        def __init__(self, http: httpx.AsyncClient, api_key: str) -> None: ...

        async def registration(self, organisation_ref, register, number, checked_by, today):
            # GET /company/{number}: map company_status ("active", "dissolved",
            # "liquidation", "administration") onto diligence.REGISTRATION_STATUSES.
            return RegistrationCheck(register, number, status, today, checked_by)

        async def bank_details(self, organisation_ref, checked_by, today):
            # A confirmation-of-payee answer: match → "verified", no match → "failed",
            # close match or unavailable → "unverified".
            return BankCheck(status, today, checked_by)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.gateway.monitoring.diligence import BankCheck, RegistrationCheck


class DiligenceChecks(Protocol):
    """Where registration and bank-detail checks come from."""

    @property
    def source(self) -> str:
        """Recorded with every check: "manual", or the external service's name."""
        ...

    async def registration(
        self, organisation_ref: str, register: str, number: str, checked_by: str, today: date
    ) -> RegistrationCheck | None: ...

    async def bank_details(
        self, organisation_ref: str, checked_by: str, today: date
    ) -> BankCheck | None: ...


@dataclass(frozen=True)
class ManualEntry:
    """What a member of staff checked by hand and typed in, recorded as given."""

    registration_status: str | None
    registration_checked_on: date | None
    bank_status: str | None
    bank_checked_on: date | None
    source: str = "manual"

    async def registration(
        self, organisation_ref: str, register: str, number: str, checked_by: str, today: date
    ) -> RegistrationCheck | None:
        if self.registration_status is None:
            return None
        checked_on = self.registration_checked_on or today
        return RegistrationCheck(register, number, self.registration_status, checked_on, checked_by)

    async def bank_details(
        self, organisation_ref: str, checked_by: str, today: date
    ) -> BankCheck | None:
        if self.bank_status is None:
            return None
        return BankCheck(self.bank_status, self.bank_checked_on or today, checked_by)
