"""`singlepot reconcile` as an operator runs it: against the ledger's real report API (served
on a port) and the gateway's real read models; exit 0 when every figure agrees, 1 with each
difference printed when a read-model row was corrupted; every run recorded and counted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
import uvicorn
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from contracts import (
    FinancialYearAmount,
    PaymentRequested,
    RecordSettlement,
    RecoveryRaised,
    ReservationReleaseRequested,
    ReservationRequested,
    VirementRequested,
)
from services.ledger.app import DEFINITION as LEDGER
from services.runtime import telemetry
from services.runtime.host import build_http_app
from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port
from singlepot.reconcile import LedgerReports, ReconcileSettings, reconcile
from tests.integration.reconcile.books import books_on

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLACE, YEAR = "GM", "2026-27"
# The ledger's report routes refuse callers without this token. The command finds it in the
# ledger's own variable, as the Kubernetes CronJob gives it (one Secret for every caller).
REPORT_TOKEN = "reconcile-test-report-token"
REPORT_HEADERS = {"Authorization": f"Bearer {REPORT_TOKEN}"}


@pytest.fixture(autouse=True)
def report_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger served below and the command run below both read this from the environment."""
    monkeypatch.setenv("SINGLEPOT_LEDGER_REPORT_TOKEN", REPORT_TOKEN)
    monkeypatch.delenv("SINGLEPOT_RECONCILE_LEDGER_TOKEN", raising=False)


@asynccontextmanager
async def ledger_served(settings: RuntimeSettings) -> AsyncIterator[str]:
    """The real ledger service's HTTP app (its report routes) on a free port; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        build_http_app(LEDGER, settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def a_year_of_money(database_url: str) -> None:
    """Settle two streams, reserve, pay, recover, release and vire, through the real ledger
    and gateway handlers."""

    def settle(department: str, stream: str, amount_pence: int) -> RecordSettlement:
        return RecordSettlement(
            place_id=PLACE,
            settlement_id=f"S-{department}",
            department_code=department,
            funding_stream_code=stream,
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=amount_pence),),
        )

    async with books_on(database_url) as books:
        await books.send(settle("DWP", "WORK", 30_001), settle("MHCLG", "HOUSING", 10_000))
        await books.send(
            ReservationRequested(
                place_id=PLACE,
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=20_000,
                purpose="hubs",
            )
        )
        await books.send(
            PaymentRequested(
                place_id=PLACE,
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=7_001,
                payment_kind="grant_instalment",
                purpose="first instalment",
            ),
            RecoveryRaised(
                place_id=PLACE,
                recovery_id="RC-1",
                payment_id="P-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=1_003,
                reason="evidence found invalid",
            ),
            ReservationReleaseRequested(
                place_id=PLACE, allocation_id="A-1", amount_pence=5_555, reason="varied_down"
            ),
            VirementRequested(
                place_id=PLACE,
                virement_id="V-1",
                financial_year=YEAR,
                from_funding_stream_code="WORK",
                to_funding_stream_code="SKILLS",
                amount_pence=999,
                approval_reference="BOARD-7",
            ),
        )


async def run_command(settings: RuntimeSettings, ledger_url: str, *arguments: str):
    environment = {
        **os.environ,
        "SINGLEPOT_DATABASE_URL": settings.effective_database_url(),
        "SINGLEPOT_RECONCILE_LEDGER_URL": ledger_url,
        "SINGLEPOT_METRICS_EXPORTER": "none",
        "SINGLEPOT_RECONCILE_RETRY_WAIT_S": "0.05",
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "singlepot",
        "reconcile",
        *arguments,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode, output.decode()


async def recorded_runs(database_url: str) -> list[tuple]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT place_id, differences_count, accounts_checked"
            " FROM gateway.reconciliation_runs ORDER BY run_id"
        )
    finally:
        await connection.close()
    return [tuple(row) for row in rows]


async def test_a_clean_stack_reconciles_with_exit_0_and_the_run_is_recorded(
    settings: RuntimeSettings, database_url: str
) -> None:
    await a_year_of_money(database_url)
    async with ledger_served(settings) as ledger_url:
        status, output = await run_command(settings, ledger_url)
        status_for_place, _ = await run_command(settings, ledger_url, "--place", PLACE)

    assert (status, status_for_place) == (0, 0), output
    assert "Reconciled 1 place(s)" in output and "clean" in output
    assert "DIFFERENCE" not in output
    runs = await recorded_runs(database_url)
    assert [(place, differences) for place, differences, _ in runs] == [(None, 0), (PLACE, 0)]
    assert all(checked > 10 for _, _, checked in runs)


async def test_with_the_wrong_token_the_command_cannot_reconcile_and_records_nothing(
    settings: RuntimeSettings, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_year_of_money(database_url)
    async with ledger_served(settings) as ledger_url:
        monkeypatch.setenv("SINGLEPOT_RECONCILE_LEDGER_TOKEN", "not-the-ledgers-token")
        status, output = await run_command(settings, ledger_url)

    assert status == 2, output
    assert "answered 401" in output
    assert await recorded_runs(database_url) == []


async def test_a_corrupted_read_model_row_is_found_printed_with_both_figures_and_exits_1(
    settings: RuntimeSettings, database_url: str
) -> None:
    await a_year_of_money(database_url)
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "UPDATE gateway.pot_streams SET available_pence = available_pence + 3"
            " WHERE place_id = $1 AND department_code = 'MHCLG'",
            PLACE,
        )
        available = await connection.fetchval(
            "SELECT balance_pence FROM ledger.balances"
            " WHERE place_id = $1 AND account = 'pot:MHCLG:HOUSING'",
            PLACE,
        )
    finally:
        await connection.close()
    async with ledger_served(settings) as ledger_url:
        status, output = await run_command(settings, ledger_url, "--place", PLACE)

    assert status == 1, output
    assert (
        f"DIFFERENCE GM 2026-27 pot pot:MHCLG:HOUSING: ledger {available} pence, read model "
        f"{available + 3} pence (off by +3)"
    ) in output
    assert output.count("DIFFERENCE") == 1
    assert [
        (place, differences) for place, differences, _ in await recorded_runs(database_url)
    ] == [(PLACE, 1)]


async def test_differences_are_counted_in_the_reconcile_metric(
    settings: RuntimeSettings, database_url: str
) -> None:
    await a_year_of_money(database_url)
    gateway = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert gateway is not None
    reader = InMemoryMetricReader()
    telemetry.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        async with gateway.acquire() as connection:
            await connection.execute(
                "UPDATE payments SET recovered_pence = recovered_pence + 1 WHERE place_id = $1",
                PLACE,
            )
        async with (
            ledger_served(settings) as ledger_url,
            httpx.AsyncClient(base_url=ledger_url, headers=REPORT_HEADERS) as client,
        ):
            run = await reconcile(LedgerReports(client), gateway, PLACE)
        points = {
            metric.name: [point.value for point in metric.data.data_points]
            for resource in reader.get_metrics_data().resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        }
    finally:
        telemetry.use_meter_provider(metrics.get_meter_provider())
        await gateway.close()
    # The provider's statement is off by a penny.
    assert [d.read_model for d in run.places[0].differences] == ["provider"]
    assert points["singlepot.reconcile.differences"] == [1]
    assert points["singlepot.reconcile.runs"] == [1]


def test_the_ledger_token_is_sent_as_a_bearer_header_only_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SINGLEPOT_LEDGER_REPORT_TOKEN")
    assert ReconcileSettings().ledger_headers() == {}
    settings = ReconcileSettings(reconcile_ledger_token="service-token")  # type: ignore[arg-type]
    assert settings.ledger_headers() == {"Authorization": "Bearer service-token"}
    assert settings.ledger_url(RuntimeSettings(ledger_health_port=8101)) == "http://127.0.0.1:8101"


class LedgerAheadOnce(LedgerReports):
    """The real report API, except that its first answer for balances is empty: as if the
    gateway had applied events the ledger's report did not show yet (in flight)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self.balance_calls = 0

    async def balances(self, place_id: str) -> list[dict[str, object]]:
        self.balance_calls += 1
        return [] if self.balance_calls == 1 else await super().balances(place_id)


async def test_a_difference_that_settles_before_the_next_attempt_is_not_reported(
    settings: RuntimeSettings, database_url: str
) -> None:
    await a_year_of_money(database_url)
    gateway = await asyncpg.create_pool(database_url, server_settings={"search_path": "gateway"})
    assert gateway is not None
    try:
        async with (
            ledger_served(settings) as ledger_url,
            httpx.AsyncClient(base_url=ledger_url, headers=REPORT_HEADERS) as client,
        ):
            once = await reconcile(LedgerAheadOnce(client), gateway, PLACE, attempts_max=1)
            twice = await reconcile(
                LedgerAheadOnce(client), gateway, PLACE, attempts_max=2, retry_wait_s=0
            )
    finally:
        await gateway.close()
    assert once.differences_count > 0
    assert twice.differences_count == 0
