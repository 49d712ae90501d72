"""Benchmark: the ledger's sustained throughput and latency, against the limit of this stack.

    python -m bench.ledger_throughput [--requests 200000] [--places 10]
        [--layouts 1x1,4x1,4x2] [--no-pipe] [--latency-seconds 15] [--latency-rate 1000]

(`--no-pipe --latency-seconds 0` leaves only the ledger runs: for profiling the ledger.)

In one run, on an embedded PostgreSQL and the local broker started for it:
1. For each layout (1 and 4 partitions; 1 and 2 ledger processes): pre-produce the workload,
   start `singlepot serve ledger` process(es), and time from the first committed batch until
   every request is answered and every answer is published. Most requests are reservations,
   which all hit the same few pot accounts of their place (hot accounts); the rest are
   payments from earlier reservations.
2. The no-logic pipe: process(es) that consume the same messages, COPY the same rows the
   ledger writes per request (transfer, answer record, outbox rows) and produce the same
   number of output events. Its rate is the ceiling of broker + database + Python here. It
   runs with as many processes as the best ledger layout, so that the ratio compares like
   with like (and with one process too, when that differs, for the record).
3. Latency: requests offered at 1,000/s; time from publishing a request to consuming the
   TransferPosted it caused, p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.report import Figure, Target, publish
from contracts import (
    Envelope,
    FinancialYearAmount,
    PaymentRequested,
    RecordSettlement,
    ReservationRequested,
    decode,
    encode,
    topics,
    wrap,
)
from services.ledger.db import TRANSFER_COLUMNS
from services.runtime.db import ensure_database, migrate_schema, migrations_for
from singlepot.local.ports import free_port
from singlepot.local.stack import LocalStack, create_topics
from singlepot.system import service_definition

BENCHMARK = "ledger throughput and latency"
YEAR = "2026-27"
STREAMS = (("DWP", "WORK"), ("DHSC", "HEALTH"), ("DFE", "SCHOOLS"))


@dataclass
class Figures:
    label: str
    requests: int
    transfers: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.transfers / self.seconds if self.seconds else 0.0


def workload(requests: int, places: int) -> list[Envelope]:
    """Settlements first, then 70% reservations (hot pot accounts) and 30% payments."""
    envelopes = []
    for place_number in range(places):
        for department, stream in STREAMS:
            envelopes.append(
                wrap(
                    RecordSettlement(
                        place_id=f"PLACE-{place_number}",
                        settlement_id=f"S-{department}",
                        department_code=department,
                        funding_stream_code=stream,
                        spending_review_period="SR2025",
                        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=10**13),),
                    ),
                    producer="bench",
                )
            )
    reserved: list[tuple[str, str]] = []
    for number in range(requests - len(envelopes)):
        place = f"PLACE-{number % places}"
        if number % 10 < 7 or not reserved:
            allocation = f"A-{number}"
            request: ReservationRequested | PaymentRequested = ReservationRequested(
                place_id=place,
                allocation_id=allocation,
                financial_year=YEAR,
                amount_pence=10_000_00 + number,
                purpose="benchmark",
            )
            reserved.append((place, allocation))
        else:
            place, allocation = reserved[number % len(reserved)]
            request = PaymentRequested(
                place_id=place,
                payment_id=f"PAY-{number}",
                allocation_id=allocation,
                provider_id=f"PROV-{number % 50}",
                amount_pence=1_00,
                payment_kind="grant_instalment",
                purpose="benchmark",
            )
        envelopes.append(wrap(request, producer="bench"))
    return envelopes


async def produce(bootstrap: str, topic: str, envelopes: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5, acks="all"
    )
    await producer.start()
    try:
        pending = []
        for envelope in envelopes:
            key = envelope.payload["place_id"].encode()
            pending.append(await producer.send(topic, encode(envelope), key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def prepare_database(admin_url: str, name: str) -> str:
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    await ensure_database(url)
    connection = await asyncpg.connect(url)
    try:
        definition = service_definition("ledger")
        await migrate_schema(connection, "ledger", migrations_for(definition.migrations))
        await connection.execute(PIPE_TABLES)
    finally:
        await connection.close()
    return url


PIPE_TABLES = """
CREATE TABLE IF NOT EXISTS public.pipe_transfers (LIKE ledger.transfers INCLUDING DEFAULTS);
CREATE TABLE IF NOT EXISTS public.pipe_outbox
    (LIKE ledger.outbox INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE IF NOT EXISTS public.pipe_answers (LIKE ledger.answered_requests INCLUDING DEFAULTS);
"""


async def wait_until_done(url: str, expected: int, *, table: str, drained: bool) -> float:
    """Seconds from the first batch's commit to the last answer (for the ledger: to the last
    answer published), from PostgreSQL's own timestamps. Progress is polled once a second so
    that the polling costs the database nothing worth measuring."""
    connection = await asyncpg.connect(url)
    try:
        # Polling is the point here: another process fills the database.
        while await connection.fetchval(f"SELECT count(*) FROM {table}") < expected or (  # noqa: ASYNC110
            drained
            and await connection.fetchval(
                "SELECT count(*) FROM ledger.outbox WHERE published_at IS NULL"
            )
        ):
            await asyncio.sleep(1.0)
        finished = (
            "(SELECT max(published_at) FROM ledger.outbox)"
            if drained
            else f"(SELECT max(answered_at) FROM {table})"
        )
        seconds = await connection.fetchval(
            f"SELECT extract(epoch FROM {finished} - min(answered_at)) FROM {table}"
        )
        answering = await connection.fetchval(
            f"SELECT extract(epoch FROM max(answered_at) - min(answered_at)) FROM {table}"
        )
        print(f"  answered in {answering:.1f} s, done in {seconds:.1f} s", flush=True)
        return float(seconds)
    finally:
        await connection.close()


def serve_ledger(url: str, bootstrap: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SINGLEPOT_TOPIC_PREFIX": prefix,
        "SINGLEPOT_LEDGER_HEALTH_PORT": str(free_port()),
        "SINGLEPOT_LOG_LEVEL": "WARNING",
        "SINGLEPOT_CONSUMER_SESSION_TIMEOUT_MS": "3000",
        "SINGLEPOT_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "singlepot", "serve", "ledger"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def run_ledger(
    stack: LocalStack, envelopes: Sequence[Envelope], partitions: int, processes: int, log: Path
) -> Figures:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench-{run_id}-"
    url = await prepare_database(stack.database_url, f"bench_{run_id}")
    names = [prefix + topic for topic in topics.ALL_TOPICS]
    await create_topics(stack.bootstrap_servers, names, partitions=partitions)
    await produce(stack.bootstrap_servers, prefix + topics.LEDGER_REQUESTS, envelopes)
    workers = [serve_ledger(url, stack.bootstrap_servers, prefix, log) for _ in range(processes)]
    try:
        seconds = await wait_until_done(
            url, len(envelopes), table="ledger.answered_requests", drained=True
        )
        connection = await asyncpg.connect(url)
        transfers = await connection.fetchval("SELECT count(*) FROM ledger.transfers")
        await connection.close()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    label = f"ledger, {partitions} partition(s), {processes} process(es)"
    return Figures(label, len(envelopes), transfers, seconds)


async def run_pipe(
    stack: LocalStack, envelopes: Sequence[Envelope], partitions: int, processes: int
) -> Figures:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"pipe-{run_id}-"
    url = await prepare_database(stack.database_url, f"pipe_{run_id}")
    names = [prefix + topic for topic in topics.ALL_TOPICS]
    await create_topics(stack.bootstrap_servers, names, partitions=partitions)
    await produce(stack.bootstrap_servers, prefix + topics.LEDGER_REQUESTS, envelopes)
    workers = [start_pipe_worker(url, stack.bootstrap_servers, prefix) for _ in range(processes)]
    try:
        seconds = await wait_until_done(
            url, len(envelopes), table="public.pipe_answers", drained=False
        )
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    label = f"no-logic pipe, {partitions} partition(s), {processes} process(es)"
    return Figures(label, len(envelopes), len(envelopes), seconds)


def start_pipe_worker(url: str, bootstrap: str, prefix: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench.ledger_throughput", "pipe-worker", url, bootstrap]
    return subprocess.Popen([*command, prefix])


async def pipe_worker(url: str, bootstrap: str, prefix: str) -> None:
    """Consume, COPY the rows the ledger would write for each request, produce as many events
    as the ledger would (transfer posted + result, and a spend event for payments)."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    consumer = AIOKafkaConsumer(
        prefix + topics.LEDGER_REQUESTS,
        bootstrap_servers=bootstrap,
        group_id="pipe",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=2)
    await consumer.start()
    await producer.start()
    output = prefix + topics.LEDGER_TRANSFERS
    while True:
        batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
        for partition, records in batches.items():
            transfers, outbox, answers, events = [], [], [], []
            for record in records:
                envelope = decode(record.value or b"")
                request_id = envelope.event_id
                count = 3 if envelope.event_type == "PaymentRequested" else 2
                legs = json.dumps([{"account": "pot:A:B", "direction": "debit", "amount_pence": 1}])
                transfers.append(
                    (
                        envelope.payload["place_id"],
                        record.offset + 1,
                        str(uuid.uuid4()),
                        request_id,
                        YEAR,
                        2,
                        None,
                        None,
                        None,
                        None,
                        None,
                        "pipe",
                        legs,
                        "0" * 64,
                        "0" * 64,
                    )
                )
                ids = [uuid.uuid4() for _ in range(count)]
                for event_id in ids:
                    body = record.value or b""
                    outbox.append((event_id, output, "k", "E", body, "{}"))
                    events.append(body)
                answers.append((request_id, "p", "t", "h", ids))
            async with pool.acquire() as connection, connection.transaction():
                await connection.copy_records_to_table(
                    "pipe_transfers",
                    records=transfers,
                    columns=TRANSFER_COLUMNS,
                    schema_name="public",
                )
                await connection.copy_records_to_table(
                    "pipe_outbox",
                    records=outbox,
                    columns=(
                        "event_id",
                        "topic",
                        "partition_key",
                        "event_type",
                        "value",
                        "headers",
                    ),
                    schema_name="public",
                )
                await connection.copy_records_to_table(
                    "pipe_answers",
                    records=answers,
                    columns=(
                        "event_id",
                        "place_id",
                        "request_type",
                        "body_hash",
                        "answer_event_ids",
                    ),
                    schema_name="public",
                )
            sends = [await producer.send(output, body, key=b"k") for body in events]
            await asyncio.gather(*sends)
            await consumer.commit({partition: records[-1].offset + 1})


async def run_latency(stack: LocalStack, log: Path, rate: int, seconds: int) -> list[float]:
    """Offer `rate` requests/s for `seconds`; milliseconds from publish to TransferPosted."""
    run_id = uuid.uuid4().hex[:8]
    prefix = f"latency-{run_id}-"
    url = await prepare_database(stack.database_url, f"latency_{run_id}")
    names = [prefix + topic for topic in topics.ALL_TOPICS]
    await create_topics(stack.bootstrap_servers, names, partitions=4)
    setup = workload(30, 10)[:30]
    await produce(stack.bootstrap_servers, prefix + topics.LEDGER_REQUESTS, setup)
    worker = serve_ledger(url, stack.bootstrap_servers, prefix, log)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    reader = AIOKafkaConsumer(
        prefix + topics.LEDGER_TRANSFERS,
        bootstrap_servers=stack.bootstrap_servers,
        auto_offset_reset="latest",
        fetch_max_wait_ms=5,
    )
    await reader.start()
    try:
        await wait_until_done(url, len(setup), table="ledger.answered_requests", drained=True)

        async def read() -> None:
            async for record in reader:
                # Only the id of the request it answers: the bench shares the machine's cores
                # with the ledger, so it validates nothing it does not measure.
                started = sent.get(json.loads(record.value or b"{}").get("causation_id"))
                if started is not None:
                    latencies.append((time.monotonic() - started) * 1000)

        reading = asyncio.create_task(read())
        producer = AIOKafkaProducer(
            bootstrap_servers=stack.bootstrap_servers, enable_idempotence=False, linger_ms=0
        )
        await producer.start()
        topic = prefix + topics.LEDGER_REQUESTS
        requests = latency_requests(rate * seconds)
        begin = time.monotonic()
        for number, (event_id, key, value) in enumerate(requests):
            due = begin + number / rate
            if (pause := due - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            sent[event_id] = time.monotonic()
            await producer.send(topic, value, key=key)
        await producer.stop()
        deadline = time.monotonic() + 30
        while len(latencies) < len(sent) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        reading.cancel()
    finally:
        await reader.stop()
        worker.terminate()
        worker.wait(30)
    return latencies


def latency_requests(count: int) -> list[tuple[str, bytes, bytes]]:
    """Each request's id, key and bytes, built before the clock starts (building them while
    offering them cost the bench a fifth of a core, taken from the ledger it measures)."""
    requests = []
    for number in range(count):
        envelope = wrap(
            ReservationRequested(
                place_id=f"PLACE-{number % 10}",
                allocation_id=f"L-{number}",
                financial_year=YEAR,
                amount_pence=1_00,
                purpose="latency",
            ),
            producer="bench",
        )
        key = envelope.payload["place_id"].encode()
        requests.append((str(envelope.event_id), key, encode(envelope)))
    return requests


def best_processes(best: Figures | None) -> int:
    """How many processes the best ledger layout ran (1 when there was no ledger run)."""
    if best is None:
        return 1
    return int(best.label.split(", ")[-1].split()[0])


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def benchmark(
    requests: int,
    places: int,
    layouts: Sequence[tuple[int, int]],
    *,
    pipe: bool = True,
    latency_seconds: int = 15,
    latency_rate: int = 1000,
) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="singlepot-bench-") as folder:
        stack = LocalStack(Path(folder), free_port(), free_port(), throwaway=True)
        stack.start()
        log = Path(folder) / "ledger.log"
        try:
            envelopes = workload(requests, places)
            results = []
            for partitions, processes in layouts:
                figures = await run_ledger(stack, envelopes, partitions, processes, log)
                results.append(figures)
                print(f"{figures.label}: {figures.per_second:,.0f} transfers/s", flush=True)
            best = max(results, key=lambda figures: figures.per_second, default=None)
            processes = best_processes(best)
            counts = sorted({1, processes}) if pipe else []
            pipes = [await run_pipe(stack, envelopes, 4, count) for count in counts]
            for other in pipes:
                print(f"{other.label}: {other.per_second:,.0f} requests/s", flush=True)
            # The yardstick: the pipe with as many processes as the best ledger layout.
            yardstick = pipes[-1] if pipes else Figures("no pipe run", 0, 0, 0)
            latencies = (
                await run_latency(stack, log, rate=latency_rate, seconds=latency_seconds)
                if latency_seconds
                else []
            )
        finally:
            stack.stop()
    workload_detail = (
        f"{requests:,} requests over {places} places: 70% reservations on hot pot accounts, "
        "30% payments"
    )
    figures_out = [
        Figure(
            BENCHMARK,
            figures.label,
            figures.per_second,
            "transfers/s",
            detail=f"{figures.transfers:,} transfers in {figures.seconds:.1f} s",
        )
        for figures in results
    ]
    best = max(results, key=lambda figures: figures.per_second, default=Figures("-", 0, 0, 0))
    figures_out += [
        Figure(BENCHMARK, other.label, other.per_second, "requests/s")
        for other in pipes
        if other is not yardstick
    ]
    figures_out.append(
        Figure(
            BENCHMARK,
            "best ledger layout",
            best.per_second,
            "transfers/s",
            Target(">=", 10_000, "issue 3"),
            detail=f"{best.label}; {workload_detail}",
        )
    )
    if pipes:
        figures_out += yardstick_figures(best, yardstick)
        fastest = max(pipes, key=lambda other: other.per_second)
        if fastest is not yardstick:
            # In a short run the pipe with more processes can be the slower (the consumer
            # group's rebalance when a process joins costs seconds), which flatters the ledger.
            figures_out.append(
                Figure(
                    BENCHMARK,
                    "ratio best ledger / the faster no-logic pipe",
                    best.per_second / fastest.per_second,
                    "ratio",
                    detail=f"{best.label} against {fastest.label}",
                )
            )
    if latencies:
        detail = f"{len(latencies):,} requests measured at {latency_rate:,} requests/s offered"
        figures_out.append(
            Figure(
                BENCHMARK,
                "request published → TransferPosted consumed, p50",
                percentile(latencies, 0.5),
                "ms",
                detail=detail,
            )
        )
        figures_out.append(
            Figure(
                BENCHMARK,
                "request published → TransferPosted consumed, p99",
                percentile(latencies, 0.99),
                "ms",
                Target("<=", 50, "issue 3"),
                detail=detail,
            )
        )
    return figures_out


def yardstick_figures(best: Figures, yardstick: Figures) -> list[Figure]:
    """The pipe at the best ledger layout's process count, and the ledger's ratio to it."""
    ratio = best.per_second / yardstick.per_second if yardstick.per_second else 0.0
    return [
        Figure(
            BENCHMARK,
            "no-logic pipe, same processes as the best ledger layout",
            yardstick.per_second,
            "requests/s",
            detail=f"{yardstick.label}, in the same run as the ledger layouts",
        ),
        Figure(
            BENCHMARK,
            "ratio best ledger / no-logic pipe",
            ratio,
            "ratio",
            Target(">=", 0.5, "issue 3"),
            detail=f"{best.label} against {yardstick.label}",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--places", type=int, default=10)
    parser.add_argument(
        "--layouts",
        default="1x1,4x1,4x2",
        help="ledger runs as PARTITIONSxPROCESSES, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--no-pipe", action="store_true", help="skip the no-logic pipe (for profiling the ledger)"
    )
    parser.add_argument(
        "--latency-seconds",
        type=int,
        default=15,
        help="how long requests are offered for the latency figures (0: skip)",
    )
    parser.add_argument(
        "--latency-rate",
        type=int,
        default=1000,
        help="requests/s offered for the latency figures (1,000 is the issue's; a lower rate "
        "shows the latency below the ledger's capacity on a loaded machine)",
    )
    arguments = parser.parse_args(argv)
    layouts = [
        (int(partitions), int(processes))
        for partitions, processes in (
            layout.split("x") for layout in arguments.layouts.split(",") if layout
        )
    ]
    figures = asyncio.run(
        benchmark(
            arguments.requests,
            arguments.places,
            layouts,
            pipe=not arguments.no_pipe,
            latency_seconds=arguments.latency_seconds,
            latency_rate=arguments.latency_rate,
        )
    )
    publish(figures)
    return figures


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "pipe-worker":
        asyncio.run(pipe_worker(*sys.argv[2:5]))
    else:
        main()
