"""The year-end risk share from the ledger to the gateway, figures written by hand (the pool of
tests/unit/ledger/test_ledger_risk_share.py): after the ledger moves £100,000 of DWP's unreserved
money to DHSC, the gateway's pot overview shows exactly the ledger's unreserved money per stream,
`singlepot reconcile` finds no difference, and the partner figures are kept for the returns."""

from __future__ import annotations

import pytest

from contracts import ApplyRiskShare, RiskShareApplied
from services.gateway.returns import db as returns_db
from tests.integration.ledger.test_ledger_risk_share import pool_requests
from tests.integration.reconcile.books import books_on
from tests.integration.reconcile.test_release_after_payment import (
    disagreements,
    pot_beside_ledger,
)

pytestmark = pytest.mark.integration


async def test_the_gateway_agrees_with_the_ledger_after_a_risk_share(database_url: str) -> None:
    share = ApplyRiskShare(
        place_id="GM",
        risk_share_id="RS-1",
        financial_year="2026-27",
        rule="equal",
        agreement_reference="S75-2026",
    )
    async with books_on(database_url) as books:
        for request in pool_requests():
            await books.send(request)
        answers = await books.send(share)
        rows = await pot_beside_ledger(books, database_url)
        reconciled = await books.reconcile("GM")
        async with books.gateway_pool.acquire() as connection:
            kept = await returns_db.risk_share(connection, "GM", "2026-27")

    assert any(isinstance(answer, RiskShareApplied) for answer in answers)
    assert disagreements(rows) == []
    assert {row[0]: row[1] for row in rows} == {
        "DHSC/HEALTH": 200_000_00,  # £100,000 unreserved + £100,000 moved in
        "DWP/WORK": 400_000_00,  # £500,000 unreserved - £100,000 moved out
    }
    assert not reconciled.differences
    assert kept is not None and kept["pool_borne_pence"] == 400_000_00
    assert {(p["department_code"], p["adjustment_pence"]) for p in kept["partners"]} == {
        ("DWP", -100_000_00),
        ("DHSC", 100_000_00),
    }
