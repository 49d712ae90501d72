"""Benchmark: the outcomes service one message per transaction against one transaction per batch.

    python -m bench.outcomes_batches [--commands 2000] [--rounds 2]

The end-to-end benchmark's evidence (one claim per command, sampling off, so every command
completes its batch and asks the ledger to pay), pre-produced once per run; each round runs one
outcomes process each way, back to back (the order alternating, since the machine is shared),
on a fresh database and topics. "one by one" is the service as it consumed before batches
(FastStream, a transaction per message); "batches" is the service as it is now. The rate is
evidence commands handled per second, from the first one's transaction to the moment all are
done (polled every 0.1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.report import Figure, publish
from contracts import Envelope, Event, topics
from contracts.allocations import AllocationApproved, AllocationFunded
from contracts.envelope import encode, wrap
from contracts.outcomes import EvidenceClaim, MetricPrice, RegisterOutcomesContract, SubmitEvidence
from services.outcomes.app import definition
from services.runtime.host import ServiceHost
from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port
from singlepot.local.stack import LocalStack, create_topics
from singlepot.system import migrate_all

BENCHMARK = "outcomes: one message per transaction against batches"
VARIANTS = ("one by one", "batches")


async def serve(variant: str) -> None:
    """One outcomes process consuming `variant`'s way until terminated."""
    service = definition()
    if variant == "one by one":
        service = dataclasses.replace(service, batch_handler=None)
    host = ServiceHost(service, RuntimeSettings())
    await host.start()
    await asyncio.Event().wait()


def contract_setup() -> list[Event]:
    """A funded outcomes contract whose cap (40,000 claims at £1) is far above the run's."""
    return [
        AllocationApproved(
            place_id="GM",
            allocation_id="A-1",
            allocation_type="outcomes_contract",
            recipient_id="P-1",
            value_pence=10**12,
            financial_year="2026-27",
            decided_by="board",
        ),
        AllocationFunded(place_id="GM", allocation_id="A-1", amount_pence=10**12),
        RegisterOutcomesContract(
            place_id="GM",
            contract_id="C-1",
            allocation_id="A-1",
            provider_id="P-1",
            prices=(MetricPrice(metric_id="JOB", price_pence=100),),
            cap_pence=4_000_000_00,  # under the £5m that asks for social-value KPIs
        ),
    ]


def evidence(number: int) -> SubmitEvidence:
    return SubmitEvidence(
        place_id="GM",
        contract_id="C-1",
        batch_id=f"E-{number}",
        provider_id="P-1",
        claims=(
            EvidenceClaim(
                participant_hash=hashlib.sha256(f"bench-{number}".encode()).hexdigest(),
                metric_id="JOB",
                achieved_on=date(2026, 5, 1),
                evidence_reference=f"bench-{number}",
            ),
        ),
    )


async def produce(bootstrap: str, prefix: str, events: Sequence[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for event in events:
            envelope: Envelope = wrap(event, producer="bench")
            key = event.partition_key().encode()
            await producer.send(prefix + event.topic, encode(envelope), key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def wait_for(
    connection: asyncpg.Connection, query: str, count: int, timeout_s: float = 120
) -> None:
    deadline = time.monotonic() + timeout_s
    while await connection.fetchval(query) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {count} from {query!r}")
        await asyncio.sleep(0.1)


async def run_variant(stack: LocalStack, commands: int, variant: str, log: Path) -> float:
    """Evidence commands per second for one outcomes process consuming `variant`'s way."""
    run_id = uuid.uuid4().hex[:8]
    prefix = f"ob-{run_id}-"
    url = stack.database_url.rsplit("/", 1)[0] + f"/ob_{run_id}"
    await migrate_all(url, create_database=True)
    names = [prefix + topic for topic in topics.ALL_TOPICS]
    await create_topics(stack.bootstrap_servers, names, partitions=1)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "SINGLEPOT_TOPIC_PREFIX": prefix,
        "SINGLEPOT_LOG_LEVEL": "WARNING",
        "SINGLEPOT_CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "SINGLEPOT_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
        "SINGLEPOT_OUTCOMES_VERIFICATION_SAMPLE_SHARE": "0",
    }
    worker = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "bench.outcomes_batches", "serve", variant],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    connection = await asyncpg.connect(url, server_settings={"search_path": "outcomes"})
    try:
        await produce(stack.bootstrap_servers, prefix, contract_setup())
        await wait_for(connection, "SELECT count(*) FROM allocations WHERE funded", 1)
        await wait_for(connection, "SELECT count(*) FROM contracts", 1)
        await produce(stack.bootstrap_servers, prefix, [evidence(n) for n in range(commands)])
        await wait_for(
            connection,
            "SELECT count(*) FROM batches WHERE status = 'payment_requested'",
            commands,
            timeout_s=900,
        )
        elapsed_s = await connection.fetchval(
            "SELECT extract(epoch FROM now() - min(processed_at))::float8 FROM inbox "
            "WHERE event_type = 'SubmitEvidence'"
        )
    finally:
        await connection.close()
        worker.terminate()
        await asyncio.to_thread(worker.wait, 30)
    return float(commands / elapsed_s)


async def benchmark(commands: int, rounds: int) -> list[Figure]:
    rates: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="singlepot-outcomes-ab-") as folder:
        stack = LocalStack(Path(folder), free_port(), free_port(), throwaway=True)
        stack.start()
        log = Path(folder) / "outcomes.log"
        try:
            for number in range(rounds):
                order = VARIANTS if number % 2 == 0 else tuple(reversed(VARIANTS))
                for variant in order:
                    rate = await run_variant(stack, commands, variant, log)
                    rates[variant].append(rate)
                    print(
                        f"round {number + 1}: {variant}: {rate:,.0f} evidence commands/s "
                        f"(load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
        finally:
            stack.stop()
    detail = f"{commands:,} one-claim commands, 1 partition, 1 process, {rounds} pairs"
    return [
        Figure(
            BENCHMARK,
            f"{variant}, mean of {len(rates[variant])} runs",
            sum(rates[variant]) / len(rates[variant]),
            "commands/s",
            detail=f"{detail}: " + " / ".join(f"{rate:,.0f}" for rate in rates[variant]),
        )
        for variant in VARIANTS
        if rates[variant]
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args(argv)
    publish(asyncio.run(benchmark(arguments.commands, arguments.rounds)))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2]))
    else:
        main()
