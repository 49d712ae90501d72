"""Helpers for tests that drive the real ledger: settlements to start from, a probe that waits
for its answers on a topic, and a client of its report routes, as a department or an auditor
would call them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from contracts import FinancialYearAmount, RecordSettlement
from services.ledger.reports import add_report_routes
from services.ledger.settings import LedgerReportSettings
from services.runtime.host import ServiceHost
from tests.support.kafka import TopicReader


def settlement(
    department: str, stream: str, amount_pence: int, financial_year: str = "2026-27"
) -> RecordSettlement:
    """A department's settlement of one stream into GM's pot, for one year."""
    return RecordSettlement(
        place_id="GM",
        settlement_id=f"S-{department}",
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=financial_year, amount_pence=amount_pence),),
    )


def seen(
    reader: TopicReader, event_type: type, count: int = 1
) -> Callable[[], Awaitable[list[Any]]]:
    """A probe for `eventually`: the events of this type on the reader's topics, once there are
    at least `count` of them."""

    async def probe() -> list[Any]:
        found: list[Any] = reader.events(event_type)
        return found if len(found) >= count else []

    return probe


@asynccontextmanager
async def ledger_reports(host: ServiceHost, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running ledger's report routes (`/ledger/v1/...`), holding the token."""
    app = FastAPI()
    add_report_routes(app, host, LedgerReportSettings(ledger_report_token=token))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://ledger",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client
