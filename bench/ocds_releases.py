"""Benchmark: the gateway projector's OCDS release work as one contract's payments grow.

    python -m bench.ocds_releases [--batches 200 1000 3000] [--fetch-events 100]
                                  [--events-per-s 800] [--release-interval-s 5]

A projector-only run: the gateway's batch handler (`services.gateway.app.handle_batch`, on its
default settings) fed a funded outcomes contract and then evidence batches of that one contract,
each submitted, verified, paid and remitted (four events), in fetches of `--fetch-events`
events, one transaction per fetch, on a fresh database per count; `--events-per-s` paces the
fetches as a consumer keeping up with that rate would see them (the end-to-end run's 200
evidence commands a second are about 800 of these events a second), and
`--release-interval-s` overrides the release interval setting. After the last fetch the
projector's periodic task keeps whatever change is still waiting for its release (where the
code has one), so every run ends with the latest release showing every payment.

Prints per count: the bench process's CPU seconds (`time.process_time`: the handlers, the
releases' rendering and digests) and its PostgreSQL backend's (from /proc), the first, median
and slowest fetch in wall-clock ms, the releases kept and the bytes of `ocds_releases` (with its
TOAST), and the load average. Nothing here is asserted: it is a measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import asyncpg

from contracts import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
    AttributionShare,
    Event,
    EvidenceSubmitted,
    EvidenceVerified,
    OutcomesContractRegistered,
    PaymentMade,
    ReservationMade,
)
from contracts.envelope import Envelope, wrap
from contracts.outcomes import ClaimPeriod, MetricPrice, RemittanceAdvised, RemittanceLine
from services.gateway import app
from services.gateway.settings import GatewaySettings
from services.runtime.batch_consumer import BatchHandler
from singlepot.local.ports import free_port
from singlepot.local.postgres import EmbeddedPostgres
from singlepot.system import migrate_all

PLACE, ALLOCATION, CONTRACT, PROVIDER = "GM", "A-1", "C-1", "P-1"
PRICE_PENCE = 100
VALUE_PENCE = 10**12


def contract_setup() -> list[Event]:
    """A funded outcomes contract whose value is far above any run's payments."""
    attribution = (
        AttributionShare(
            department_code="DWP", funding_stream_code="WORK", amount_pence=VALUE_PENCE
        ),
    )
    return [
        AllocationProposed(
            place_id=PLACE,
            allocation_id=ALLOCATION,
            allocation_type="outcomes_contract",
            recipient_id=PROVIDER,
            purpose="Supported employment",
            mission_id="M-GOOD-JOBS",
            start_date=date(2026, 5, 1),
            end_date=date(2028, 3, 31),
            value_pence=VALUE_PENCE,
            financial_year="2026-27",
            proposed_by="finance",
        ),
        AllocationApproved(
            place_id=PLACE,
            allocation_id=ALLOCATION,
            allocation_type="outcomes_contract",
            recipient_id=PROVIDER,
            value_pence=VALUE_PENCE,
            financial_year="2026-27",
            decided_by="board",
        ),
        ReservationMade(
            place_id=PLACE,
            allocation_id=ALLOCATION,
            financial_year="2026-27",
            amount_pence=VALUE_PENCE,
            attribution=attribution,
            transfer_id="T-R-1",
        ),
        AllocationFunded(place_id=PLACE, allocation_id=ALLOCATION, amount_pence=VALUE_PENCE),
        OutcomesContractRegistered(
            place_id=PLACE,
            contract_id=CONTRACT,
            allocation_id=ALLOCATION,
            provider_id=PROVIDER,
            prices=(MetricPrice(metric_id="JOB", price_pence=PRICE_PENCE),),
            cap_pence=4_000_000_00,
            start_date=date(2026, 6, 1),
            end_date=date(2028, 3, 31),
            claim_periods=(
                ClaimPeriod(
                    claim_period_id="Q2", starts_on=date(2026, 7, 1), ends_on=date(2026, 9, 30)
                ),
            ),
        ),
    ]


def evidence_batch(number: int) -> list[Event]:
    """One evidence batch of one claim: submitted, verified, paid, remitted."""
    batch_id, payment_id = f"E-{number}", f"PAY-{number}"
    attribution = (
        AttributionShare(
            department_code="DWP", funding_stream_code="WORK", amount_pence=PRICE_PENCE
        ),
    )
    return [
        EvidenceSubmitted(
            place_id=PLACE,
            contract_id=CONTRACT,
            batch_id=batch_id,
            provider_id=PROVIDER,
            claim_count=1,
            accepted_count=1,
            rejected_count=0,
        ),
        EvidenceVerified(
            place_id=PLACE,
            contract_id=CONTRACT,
            batch_id=batch_id,
            verified_count=1,
            amount_pence=PRICE_PENCE,
        ),
        PaymentMade(
            place_id=PLACE,
            payment_id=payment_id,
            allocation_id=ALLOCATION,
            provider_id=PROVIDER,
            amount_pence=PRICE_PENCE,
            payment_kind="outcome_payment",
            contract_id=CONTRACT,
            claim_batch_id=batch_id,
            attribution=attribution,
            transfer_id=f"T-{payment_id}",
        ),
        RemittanceAdvised(
            place_id=PLACE,
            contract_id=CONTRACT,
            batch_id=batch_id,
            payment_id=payment_id,
            provider_id=PROVIDER,
            amount_pence=PRICE_PENCE,
            lines=(
                RemittanceLine(
                    claim_period_id="Q2",
                    metric_id="JOB",
                    metric_version=1,
                    outcome_count=1,
                    amount_pence=PRICE_PENCE,
                ),
            ),
            transfer_id=f"T-{payment_id}",
        ),
    ]


def backend_cpu_s(pid: int) -> float:
    """A PostgreSQL backend's user + system CPU seconds, from /proc (same machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / 100  # USER_HZ is 100 on Linux


async def keep_waiting_releases(connection: asyncpg.Connection) -> None:
    """The projector's periodic task, run once: keep every release still waiting (none where
    the code keeps a release in every fetch)."""
    try:
        from services.gateway.opendata import pending_releases
    except ImportError:
        return
    await pending_releases.keep_all_waiting(connection)


def batch_handler(release_interval_s: float | None) -> BatchHandler:
    """The projector's batch handler, with the release interval given (where the code has one)."""
    if release_interval_s is None or not hasattr(app, "projector_batch_handler"):
        return app.handle_batch
    settings = GatewaySettings.model_construct(opendata_release_interval_s=release_interval_s)
    return app.projector_batch_handler(settings)


async def run(
    server_url: str,
    batches: int,
    fetch_events: int,
    events_per_s: float | None = None,
    release_interval_s: float | None = None,
) -> dict[str, float]:
    url = server_url.rsplit("/", 1)[0] + f"/ocds_{uuid.uuid4().hex[:8]}"
    await migrate_all(url, create_database=True)
    events = contract_setup() + [e for n in range(batches) for e in evidence_batch(n)]
    messages: list[tuple[Envelope, Event]] = [(wrap(e, producer="bench"), e) for e in events]
    fetches = [messages[i : i + fetch_events] for i in range(0, len(messages), fetch_events)]
    connection = await asyncpg.connect(url, server_settings={"search_path": "gateway"})
    try:
        backend = await connection.fetchval("SELECT pg_backend_pid()")
        cpu_before, backend_before = time.process_time(), backend_cpu_s(backend)
        handle_batch = batch_handler(release_interval_s)
        wall_ms = []
        started = time.perf_counter()
        for number, fetch in enumerate(fetches):
            if events_per_s:  # the fetch arrives when its events would have
                due_s = number * fetch_events / events_per_s
                await asyncio.sleep(max(0.0, started + due_s - time.perf_counter()))
            began = time.perf_counter()
            async with connection.transaction():
                await handle_batch(connection, fetch)
            wall_ms.append((time.perf_counter() - began) * 1000)
        await keep_waiting_releases(connection)
        cpu_s = time.process_time() - cpu_before
        backend_s = backend_cpu_s(backend) - backend_before
        kept = await connection.fetchval("SELECT count(*) FROM ocds_releases")
        size = await connection.fetchval("SELECT pg_total_relation_size('ocds_releases')")
        transactions = await connection.fetchval(
            "SELECT json_array_length(release -> 'contracts' -> 0 -> 'implementation' "
            "-> 'transactions') FROM ocds_releases ORDER BY sequence DESC LIMIT 1"
        )
    finally:
        await connection.close()
    return {
        "events": len(messages),
        "fetches": len(fetches),
        "cpu_s": cpu_s,
        "backend_cpu_s": backend_s,
        "first_fetch_ms": wall_ms[1] if len(wall_ms) > 1 else wall_ms[0],
        "median_fetch_ms": statistics.median(wall_ms),
        "slowest_fetch_ms": max(wall_ms),
        "last_fetch_ms": wall_ms[-1],
        "releases": kept,
        "releases_bytes": size,
        "latest_transactions": transactions or 0,
    }


async def benchmark(
    counts: Sequence[int],
    fetch_events: int,
    events_per_s: float | None,
    release_interval_s: float | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="singlepot-ocds-releases-") as folder:
        server = EmbeddedPostgres(Path(folder), free_port(), throwaway=True)
        server.start()
        try:
            for batches in counts:
                load = os.getloadavg()[0]
                found = await run(
                    server.url, batches, fetch_events, events_per_s, release_interval_s
                )
                print(
                    f"{batches:>5} batches ({found['events']:,.0f} events, "
                    f"{found['fetches']:.0f} fetches): "
                    f"CPU {found['cpu_s']:.2f} s + PostgreSQL backend "
                    f"{found['backend_cpu_s']:.2f} s; fetch ms first/median/slowest/last "
                    f"{found['first_fetch_ms']:.0f}/{found['median_fetch_ms']:.0f}/"
                    f"{found['slowest_fetch_ms']:.0f}/{found['last_fetch_ms']:.0f}; "
                    f"{found['releases']:.0f} releases, {found['releases_bytes'] / 1e6:.1f} MB; "
                    f"latest shows {found['latest_transactions']:.0f} payments "
                    f"(load {load:.1f} -> {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[200, 1000, 3000])
    parser.add_argument("--fetch-events", type=int, default=100)
    parser.add_argument("--events-per-s", type=float, default=None)
    parser.add_argument("--release-interval-s", type=float, default=None)
    arguments = parser.parse_args(argv)
    asyncio.run(
        benchmark(
            arguments.batches,
            arguments.fetch_events,
            arguments.events_per_s,
            arguments.release_interval_s,
        )
    )


if __name__ == "__main__":
    main()
