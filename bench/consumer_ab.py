"""Benchmark: the ledger consuming through FastStream's batch subscriber or a hand-written loop.

    python -m bench.consumer_ab [--requests 40000] [--rounds 2] [--partitions 4]

The same workload as `bench.ledger_throughput`, pre-produced once per run; each round runs one
ledger process with each consumer, back to back (the order alternates between rounds, since the
machine is shared), on a fresh database and topics. Both variants do the same work per batch
(`BatchConsumer.process_fetch`) and differ only in the consume loop: FastStream's batch
subscriber, which every batch service runs (`services/runtime/faststream_batches.py`), against
the hand-written aiokafka `getmany` loop they ran before (`BatchConsumer.run`), kept as the
reference so that the cost of the framework stays measured.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.ledger_throughput import Figures, prepare_database, produce, wait_until_done, workload
from bench.report import Figure, publish
from contracts import Envelope, topics
from services.runtime.batch_consumer import BatchConsumer
from services.runtime.consumer import EventConsumer
from services.runtime.host import ServiceHost
from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port
from singlepot.local.stack import LocalStack, create_topics
from singlepot.system import service_definition

BENCHMARK = "ledger consumer: aiokafka against FastStream"
VARIANTS = ("aiokafka", "faststream")


async def serve(variant: str) -> None:
    """One ledger process consuming with `variant` until terminated."""
    settings = RuntimeSettings()
    definition = service_definition("ledger")
    if variant == "faststream":
        # The service as it runs in production: the host's FastStream batch subscriber.
        host = ServiceHost(definition, settings)
        await host.start()
        await asyncio.Event().wait()
    # The reference: the host without a consumer of its own, and the hand-written loop
    # (`BatchConsumer.run`) the batch services used before, doing the same per-batch work.
    host = ServiceHost(dataclasses.replace(definition, subscriptions=()), settings)
    await host.start()
    assert host.pool is not None and definition.batch_handler is not None
    fallback = EventConsumer(
        name=definition.name,
        pool=host.pool,
        handlers=definition.handlers,
        attempts_max=settings.handler_attempts_max,
        retry_backoff_s=settings.handler_retry_backoff_s,
        infrastructure_retry_backoff_s=settings.infrastructure_retry_backoff_s,
    )
    consumer = AIOKafkaConsumer(
        *[settings.topic(topic) for topic in definition.subscriptions],
        bootstrap_servers=settings.effective_bootstrap_servers(),
        group_id=settings.consumer_group(definition.name),
        client_id=f"{definition.name}-batches",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        max_poll_records=settings.consumer_batch_size_max,
    )
    batches = BatchConsumer(
        name=definition.name,
        pool=host.pool,
        handler=definition.batch_handler,
        event_types=frozenset(definition.handlers),
        fallback=fallback,
        consumer=consumer,
        batch_size_max=settings.consumer_batch_size_max,
        infrastructure_retry_backoff_s=settings.infrastructure_retry_backoff_s,
    )
    await batches.run()  # tunes the collector as the host does for FastStream's


async def run_variant(
    stack: LocalStack, envelopes: Sequence[Envelope], partitions: int, variant: str, log: Path
) -> Figures:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"ab-{run_id}-"
    url = await prepare_database(stack.database_url, f"ab_{run_id}")
    names = [prefix + topic for topic in topics.ALL_TOPICS]
    await create_topics(stack.bootstrap_servers, names, partitions=partitions)
    await produce(stack.bootstrap_servers, prefix + topics.LEDGER_REQUESTS, envelopes)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "SINGLEPOT_TOPIC_PREFIX": prefix,
        "SINGLEPOT_LOG_LEVEL": "WARNING",
        "SINGLEPOT_CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "SINGLEPOT_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
    }
    worker = start_worker(variant, env, log)
    try:
        seconds = await wait_until_done(
            url, len(envelopes), table="ledger.answered_requests", drained=True
        )
        connection = await asyncpg.connect(url)
        transfers = await connection.fetchval("SELECT count(*) FROM ledger.transfers")
        await connection.close()
    finally:
        worker.terminate()
        worker.wait(30)
    return Figures(f"{variant}, {partitions} partition(s)", len(envelopes), transfers, seconds)


def start_worker(variant: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.consumer_ab", "serve", variant],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def benchmark(requests: int, places: int, rounds: int, partitions: int) -> list[Figure]:
    rates: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="singlepot-ab-") as folder:
        stack = LocalStack(Path(folder), free_port(), free_port(), throwaway=True)
        stack.start()
        log = Path(folder) / "ledger.log"
        try:
            envelopes = workload(requests, places)
            for number in range(rounds):
                order = VARIANTS if number % 2 == 0 else tuple(reversed(VARIANTS))
                for variant in order:
                    figures = await run_variant(stack, envelopes, partitions, variant, log)
                    rates[variant].append(figures.per_second)
                    load = os.getloadavg()[0]
                    print(
                        f"round {number + 1}: {figures.label}: {figures.per_second:,.0f} "
                        f"transfers/s ({figures.transfers:,} in {figures.seconds:.1f} s, "
                        f"load {load:.1f})",
                        flush=True,
                    )
        finally:
            stack.stop()
    detail = f"{requests:,} requests, {partitions} partitions, 1 process, {rounds} pairs"
    figures_out = [
        Figure(
            BENCHMARK,
            f"{variant}, mean of {len(rates[variant])} runs",
            sum(rates[variant]) / len(rates[variant]),
            "transfers/s",
            detail=f"{detail}: " + " / ".join(f"{rate:,.0f}" for rate in rates[variant]),
        )
        for variant in VARIANTS
        if rates[variant]
    ]
    if all(rates.values()):
        ratio = sum(rates["faststream"]) / sum(rates["aiokafka"])
        figures_out.append(
            Figure(BENCHMARK, "ratio FastStream / aiokafka", ratio, "ratio", detail=detail)
        )
    return figures_out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--places", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    arguments = parser.parse_args(argv)
    figures = asyncio.run(
        benchmark(arguments.requests, arguments.places, arguments.rounds, arguments.partitions)
    )
    publish(figures)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2]))
    else:
        main()
