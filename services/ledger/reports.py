"""The ledger's read-only HTTP queries, on its internal port, for the gateway and auditors:
balances by stream and department, balances as at a date, trial balance per year, statements,
the audit export (whole or up to a chain position), verification. Each needs
the service credential `SINGLEPOT_LEDGER_REPORT_TOKEN` as a bearer token; with none configured
they refuse everyone. Auditors reach the export and trial balances through the gateway's own
permission-checked routes; `/healthz` and `/readyz` stay open."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.ledger import as_at, audit, db
from services.ledger.as_at import AsAtBasis, BalanceFilter
from services.ledger.settings import LedgerReportSettings
from services.ledger.verification import verify_place
from services.runtime.host import ServiceHost

PLACE = Path(..., min_length=1, max_length=128)
YEAR = Path(..., pattern=r"^\d{4}-\d{2}$")
REGEX_SPECIAL = frozenset(".^$*+?()[]{}|\\")


def identifier() -> Any:
    """A path id without ':' (accounts are ':'-separated). A new Path per route: FastAPI names a
    shared one after the first route's parameter, and the second route then asks for that."""
    return Path(..., min_length=1, max_length=128, pattern=r"^[^:]+$")


BEARER = Depends(HTTPBearer(auto_error=False))


def report_credential(settings: LedgerReportSettings) -> Any:
    """The dependency every report route has: 401 without the configured bearer token, 403
    for everyone when none is configured."""

    async def check(credentials: HTTPAuthorizationCredentials | None = BEARER) -> None:
        expected = settings.ledger_report_token
        if expected is None:
            raise HTTPException(
                403, "the ledger's reports are closed: set SINGLEPOT_LEDGER_REPORT_TOKEN"
            )
        sent = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(sent.encode(), expected.get_secret_value().encode()):
            raise HTTPException(
                401,
                "send the ledger's report credential as 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="singlepot-ledger"'},
            )

    return Depends(check)


def add_report_routes(
    app: FastAPI, host: ServiceHost, settings: LedgerReportSettings | None = None
) -> None:
    """Mount the queries under /ledger/v1, behind the report credential; each runs on the
    service's own pool."""
    router = APIRouter(dependencies=[report_credential(settings or LedgerReportSettings())])

    async def fetch(query: Any, *arguments: Any) -> Any:
        assert host.pool is not None
        async with host.pool.acquire() as connection:
            return await query(connection, *arguments)

    @router.get("/ledger/v1/places", tags=["ledger"])
    async def places() -> list[str]:
        """Every place the ledger has posted for."""
        found: list[str] = await fetch(db.places)
        return found

    @router.get("/ledger/v1/places/{place_id}/balances", tags=["ledger"])
    async def balances(place_id: str = PLACE) -> list[dict[str, Any]]:
        """Every account's balance in every financial year (credit-positive pence), for
        reconciling the read models built from the ledger's events."""
        rows = await fetch(db.balances_for_place, place_id)
        return [
            {
                "financial_year": row["financial_year"],
                "account": row["account"],
                "balance_pence": row["balance_pence"],
            }
            for row in rows
        ]

    @router.get("/ledger/v1/places/{place_id}/streams", tags=["ledger"])
    async def streams(place_id: str = PLACE) -> list[dict[str, Any]]:
        """By year, department and stream: received, unreserved and reserved pence."""
        rows: list[dict[str, Any]] = await fetch(db.stream_summary, place_id)
        return rows

    @router.get("/ledger/v1/places/{place_id}/trial-balance/{financial_year}", tags=["ledger"])
    async def trial_balance(place_id: str = PLACE, financial_year: str = YEAR) -> dict[str, Any]:
        """Every account's balance; the debits and credits are equal by construction."""
        rows = await fetch(db.trial_balance, place_id, financial_year)
        debits = -sum(row["balance_pence"] for row in rows if row["balance_pence"] < 0)
        credits = sum(row["balance_pence"] for row in rows if row["balance_pence"] > 0)
        return {"accounts": rows, "debits_pence": debits, "credits_pence": credits}

    @router.get("/ledger/v1/places/{place_id}/statements/providers/{provider_id}", tags=["ledger"])
    async def provider_statement(
        place_id: str = PLACE, provider_id: str = identifier()
    ) -> dict[str, Any]:
        """Payments to a provider and recoveries from it, in posting order, with what was paid,
        recovered and the net, in all and by financial year."""
        pattern = f"^provider:{_escaped(provider_id)}$"
        rows: list[dict[str, Any]] = await fetch(db.statement, place_id, pattern)
        summary = statement_summary(rows, paid=_provider_paid(provider_id))
        return {"place_id": place_id, "provider_id": provider_id, **summary, "transfers": rows}

    @router.get(
        "/ledger/v1/places/{place_id}/statements/departments/{department_code}", tags=["ledger"]
    )
    async def department_statement(
        place_id: str = PLACE, department_code: str = identifier()
    ) -> dict[str, Any]:
        """Every transfer touching one of the department's stream accounts, with what its
        streams paid to providers, what was recovered into them and the net, by year."""
        pattern = f"^(pot|settlement|received|commitment:[^:]+):{_escaped(department_code)}:"
        rows: list[dict[str, Any]] = await fetch(db.statement, place_id, pattern)
        summary = statement_summary(rows, paid=_department_paid(department_code))
        return {
            "place_id": place_id,
            "department_code": department_code,
            **summary,
            "transfers": rows,
        }

    @router.get("/ledger/v1/places/{place_id}/statements/payers/{payer_id}", tags=["ledger"])
    async def payer_statement(
        place_id: str = PLACE, payer_id: str = identifier()
    ) -> dict[str, Any]:
        """What an outcome payer funded of outcome payments (its booked share of each), what
        was recovered of its shares and the net, by year, from its memorandum account."""
        pattern = f"^payer:{_escaped(payer_id)}$"
        rows: list[dict[str, Any]] = await fetch(db.statement, place_id, pattern)
        summary = statement_summary(rows, paid=_payer_paid(payer_id))
        return {"place_id": place_id, "payer_id": payer_id, **summary, "transfers": rows}

    @router.get("/ledger/v1/places/{place_id}/balances-as-at", tags=["ledger"])
    async def balances_as_at(
        place_id: str = PLACE,
        date: date = Query(..., description="The day the balances are as at (its end, UTC)."),
        by: AsAtBasis = Query("effective", description="effective or recorded date"),
        account: str | None = Query(None, max_length=400),
        department_code: str | None = Query(None, max_length=128),
        funding_stream_code: str | None = Query(None, max_length=128),
        allocation_id: str | None = Query(None, max_length=128),
    ) -> dict[str, Any]:
        """Balances as at a date, by effective or recorded date, for any account, stream,
        department or allocation, naming the chain position they were computed to."""
        wanted = BalanceFilter(account, department_code, funding_stream_code, allocation_id)
        answer: dict[str, Any] = await fetch(as_at.balances_as_at, place_id, date, by, wanted)
        return answer

    @router.get("/ledger/v1/places/{place_id}/audit-export", tags=["ledger"])
    async def audit_export(
        place_id: str = PLACE,
        up_to_sequence: int | None = Query(
            None, ge=0, description="Stop at this chain position (a balance as at names one)."
        ),
    ) -> Response:
        """The place's transfer log with its hash chain, as JSON Lines (docs/audit-export.md)."""
        exported_at = datetime.now(UTC)

        async def body() -> AsyncIterator[str]:
            # The generator holds its own pool connection for as long as the response streams:
            # the route has returned by then. A broken stream is caught by the verifier, since
            # the header states how many transfers follow and the last one's hash.
            assert host.pool is not None
            async with host.pool.acquire() as connection:
                async for text in audit.stream_lines(
                    connection, place_id, exported_at, up_to_sequence=up_to_sequence
                ):
                    yield f"{text}\n"

        return StreamingResponse(body(), media_type="application/x-ndjson")

    @router.get("/ledger/v1/places/{place_id}/verification", tags=["ledger"])
    async def verification(place_id: str = PLACE) -> dict[str, Any]:
        """Recompute the place's hash chain and balances now."""
        result = await fetch(verify_place, place_id)
        return {
            "place_id": place_id,
            "intact": result.intact,
            "transfers_checked": result.transfers_checked,
            "summary": result.summary(),
        }

    app.include_router(router)


def _escaped(identifier: str) -> str:
    """An identifier as a literal inside a SQL/JSON path regular expression."""
    return "".join(f"\\{char}" if char in REGEX_SPECIAL else char for char in identifier)


# --- Statements' figures ----------------------------------------------------------------------

Legs = list[dict[str, Any]]
PaidAndRecovered = Callable[[Legs], tuple[int, int]]


def _provider_paid(provider_id: str) -> PaidAndRecovered:
    """Paid and recovered pence of one transfer, for a provider: credits to its account are
    payments, debits recoveries."""
    account = f"provider:{provider_id}"

    def paid(legs: Legs) -> tuple[int, int]:
        mine = [leg for leg in legs if leg["account"] == account]
        return _total(mine, "credit"), _total(mine, "debit")

    return paid


def _payer_paid(payer_id: str) -> PaidAndRecovered:
    """Paid and recovered pence of one transfer, for an outcome payer: debits to its account
    are its shares of payments, credits its shares of recoveries."""
    account = f"payer:{payer_id}"

    def paid(legs: Legs) -> tuple[int, int]:
        mine = [leg for leg in legs if leg["account"] == account]
        return _total(mine, "debit"), _total(mine, "credit")

    return paid


def _department_paid(department_code: str) -> PaidAndRecovered:
    """Paid and recovered pence of one transfer, for a department: in a transfer that pays a
    provider, the debits of its commitment accounts; in one that recovers from a provider, the
    credits to its pot accounts. Other transfers (settling, reserving) move no spend."""

    def paid(legs: Legs) -> tuple[int, int]:
        to_provider = [leg for leg in legs if leg["account"].startswith("provider:")]
        if not to_provider:
            return 0, 0
        parts = [leg["account"].split(":") for leg in legs]
        commitments = [
            leg
            for leg, part in zip(legs, parts, strict=True)
            if part[0] == "commitment" and len(part) == 4 and part[2] == department_code
        ]
        pots = [
            leg
            for leg, part in zip(legs, parts, strict=True)
            if part[0] == "pot" and len(part) == 3 and part[1] == department_code
        ]
        if _total(to_provider, "credit"):
            return _total(commitments, "debit"), 0
        return 0, _total(pots, "credit")

    return paid


def _total(legs: Legs, direction: str) -> int:
    return sum(leg["amount_pence"] for leg in legs if leg["direction"] == direction)


def statement_summary(rows: list[dict[str, Any]], paid: PaidAndRecovered) -> dict[str, Any]:
    """Paid, recovered and net pence in all and per financial year, from the transfers."""
    years: dict[str, dict[str, int]] = {}
    for row in rows:
        paid_pence, recovered_pence = paid(row["legs"])
        year = years.setdefault(row["financial_year"], {"paid_pence": 0, "recovered_pence": 0})
        year["paid_pence"] += paid_pence
        year["recovered_pence"] += recovered_pence
    by_year = [
        {
            "financial_year": financial_year,
            **figures,
            "net_pence": figures["paid_pence"] - figures["recovered_pence"],
        }
        for financial_year, figures in sorted(years.items())
    ]
    paid_pence = sum(figures["paid_pence"] for figures in years.values())
    recovered_pence = sum(figures["recovered_pence"] for figures in years.values())
    return {
        "paid_pence": paid_pence,
        "recovered_pence": recovered_pence,
        "net_pence": paid_pence - recovered_pence,
        "by_year": by_year,
    }
