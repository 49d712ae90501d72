"""`singlepot reconcile`: every money figure the gateway's read models show, compared with the
ledger's balances read through the ledger's report API (never its tables), place by place.

It prints each difference with the account and both figures, records the run in the gateway's
schema (the finance page shows the last one), counts the differences in the metric
`singlepot.reconcile.differences`, and exits 1 when there is any, 0 when every figure agrees
(2 when it could not reconcile at all: the ledger or the database unreachable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
import typer
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console

from services.gateway.projections import db
from services.gateway.projections.reconciliation import PlaceReconciliation, reconcile_place
from services.runtime import telemetry
from services.runtime.db import create_pool
from services.runtime.errors import RuntimeFailure
from services.runtime.settings import RuntimeSettings

CLEAN, DIFFERENCES_FOUND, COULD_NOT_RECONCILE = 0, 1, 2


class ReconcileSettings(BaseSettings):
    """Where `singlepot reconcile` finds the ledger's report API, and how it may call it."""

    model_config = SettingsConfigDict(
        env_prefix="SINGLEPOT_", extra="ignore", populate_by_name=True
    )

    reconcile_ledger_url: str | None = Field(
        default=None,
        description="Base URL of the ledger's report API (default: the local ledger, "
        "http://127.0.0.1:SINGLEPOT_LEDGER_HEALTH_PORT).",
    )
    # The ledger's own variable serves too, so one Secret holds the token for the ledger, the
    # gateway and this command; the reconcile-specific one wins when both are set.
    reconcile_ledger_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "SINGLEPOT_RECONCILE_LEDGER_TOKEN", "SINGLEPOT_LEDGER_REPORT_TOKEN"
        ),
        description="Bearer token sent to the ledger's report API, when its routes require one "
        "(default: SINGLEPOT_LEDGER_REPORT_TOKEN).",
    )
    reconcile_timeout_s: float = Field(
        default=30.0, gt=0, description="How long one call to the ledger's report API may take."
    )
    # Events in flight (posted by the ledger, not yet applied by the gateway) look like a
    # difference for a moment: a place that differs is compared again before it is reported.
    reconcile_attempts_max: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Comparisons of a place that differs before its differences are reported.",
    )
    reconcile_retry_wait_s: float = Field(
        default=2.0, ge=0, description="Wait before comparing a place that differed again."
    )

    def ledger_url(self, runtime: RuntimeSettings) -> str:
        return self.reconcile_ledger_url or f"http://127.0.0.1:{runtime.ledger_health_port}"

    def ledger_headers(self) -> dict[str, str]:
        if self.reconcile_ledger_token is None:
            return {}
        return {"Authorization": f"Bearer {self.reconcile_ledger_token.get_secret_value()}"}


class ReconcileFailure(Exception):
    """Reconciliation could not run: the ledger's report API or the database is unreachable."""


@dataclass(frozen=True)
class ReconciliationRun:
    """What one run compared and found, over every place it covered."""

    place_id: str | None
    started_at: datetime
    places: list[PlaceReconciliation]

    @property
    def differences_count(self) -> int:
        return sum(len(place.differences) for place in self.places)

    @property
    def figures_checked(self) -> int:
        return sum(place.figures_checked for place in self.places)


class LedgerReports:
    """The ledger's report API, as reconciliation reads it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def places(self) -> list[str]:
        found: list[str] = await self._get("/ledger/v1/places")
        return found

    async def balances(self, place_id: str) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = await self._get(f"/ledger/v1/places/{place_id}/balances")
        return rows

    async def _get(self, path: str) -> list:  # type: ignore[type-arg]
        try:
            response = await self.client.get(path)
        except httpx.HTTPError as error:
            raise ReconcileFailure(
                f"cannot reach the ledger's report API at {self.client.base_url} "
                f"({error.__class__.__name__}); check SINGLEPOT_RECONCILE_LEDGER_URL"
            ) from None
        if response.status_code != 200:
            raise ReconcileFailure(
                f"the ledger's report API answered {response.status_code} to {path}; "
                "check SINGLEPOT_RECONCILE_LEDGER_URL and SINGLEPOT_RECONCILE_LEDGER_TOKEN"
            )
        body: list = response.json()  # type: ignore[type-arg]
        return body


async def reconcile(
    reports: LedgerReports,
    gateway: asyncpg.Pool,
    place_id: str | None,
    *,
    attempts_max: int = 1,
    retry_wait_s: float = 0.0,
) -> ReconciliationRun:
    """Compare the read models with the ledger for one place or every place either side knows
    (a place that differs up to `attempts_max` times, `retry_wait_s` apart, so that events
    still in flight settle), then record the run in the gateway's schema and count what it
    found."""
    started_at = datetime.now(UTC)
    async with gateway.acquire() as connection:
        if place_id is not None:
            places = [place_id]
        else:
            places = sorted(
                set(await reports.places()) | set(await db.reconcile_places(connection))
            )
        results = []
        for place in places:
            for attempt in range(1, attempts_max + 1):
                if attempt > 1:
                    await asyncio.sleep(retry_wait_s)
                balances = await reports.balances(place)
                models = await db.money_read_models(connection, place)
                result = reconcile_place(place, balances, models)
                if not result.differences:
                    break
            results.append(result)
        run = ReconciliationRun(place_id, started_at, results)
        await db.record_reconciliation_run(
            connection, place_id, started_at, run.differences_count, run.figures_checked
        )
    _count(run)
    return run


def _count(run: ReconciliationRun) -> None:
    metrics = telemetry.instruments()
    for place in run.places:
        if place.differences:
            attributes = {telemetry.PLACE_ATTRIBUTE: place.place_id}
            metrics.reconciliation_differences.add(len(place.differences), attributes)
    metrics.reconciliation_runs.add(1, {"clean": run.differences_count == 0})


async def run_from_settings(
    runtime: RuntimeSettings, settings: ReconcileSettings, place_id: str | None
) -> ReconciliationRun:
    """Reconcile against the ledger and database the settings name."""
    telemetry.configure(runtime, service_name="singlepot-reconcile")
    try:
        pool = await create_pool(runtime.effective_database_url(), "gateway", 2)
    except RuntimeFailure as error:  # one sentence saying what to check
        raise ReconcileFailure(str(error)) from None
    try:
        async with httpx.AsyncClient(
            base_url=settings.ledger_url(runtime),
            headers=settings.ledger_headers(),
            timeout=settings.reconcile_timeout_s,
        ) as client:
            return await reconcile(
                LedgerReports(client),
                pool,
                place_id,
                attempts_max=settings.reconcile_attempts_max,
                retry_wait_s=settings.reconcile_retry_wait_s,
            )
    finally:
        await pool.close()


# --- The command ------------------------------------------------------------------------------

console = Console()


def command(
    place: str | None = typer.Option(None, help="Only this place (default: every place)."),
) -> None:
    """Compare every read model with the ledger's balances; print each difference with the
    account and both figures; exit 1 on any difference, 0 when every figure agrees."""
    try:
        runtime, settings = RuntimeSettings(), ReconcileSettings()
        run = asyncio.run(run_from_settings(runtime, settings, place))
    except (ReconcileFailure, ValueError) as error:
        console.print(f"[bold red]singlepot:[/] cannot reconcile: {error}")
        raise typer.Exit(COULD_NOT_RECONCILE) from None
    _print(run)
    raise typer.Exit(DIFFERENCES_FOUND if run.differences_count else CLEAN)


def _print(run: ReconciliationRun) -> None:
    """One line per difference (plain, so a scheduled run's log is greppable), then a total."""
    for place in run.places:
        for difference in place.differences:
            console.print(f"DIFFERENCE {difference.sentence()}", highlight=False, soft_wrap=True)
    outcome = (
        f"[bold red]{run.differences_count} difference(s)[/]"
        if run.differences_count
        else "[green]clean[/]: every figure agrees with the ledger to the penny"
    )
    console.print(
        f"Reconciled {len(run.places)} place(s), {run.figures_checked} figure(s): {outcome}"
    )
