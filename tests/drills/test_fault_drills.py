"""Fault drills against a real local stack of their own: the ledger, run as a real process, is
fed a stream of work through an upstream service's outbox while something fails. Each drill
ends with the ledger's invariants verified and every spend event delivered exactly once in
effect (as many distinct spend events as payments, however many copies the broker carried).

The drills that restart PostgreSQL or the broker have a stack of their own; the others, which
kill only service processes, use a fresh database of the session's PostgreSQL and a topic
prefix of their own on the session's broker (starting a stack and migrating from empty takes
seconds, and isolation is all they need of it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import (
    DecideAllocation,
    Event,
    FinancialYearAmount,
    PaymentRequested,
    ProposeAllocation,
    RecordSettlement,
    ReservationRequested,
    decode,
    topics,
    wrap,
)
from services.ledger.verification import verify_all
from services.runtime.db import create_pool
from services.runtime.outbox import OutboxRelay, add_row, mark_all_for_republish, row_for
from services.runtime.settings import RuntimeSettings
from singlepot.local.ports import free_port
from singlepot.local.stack import LocalStack
from singlepot.system import create_all_topics, migrate_all
from tests.conftest import Stack
from tests.integration.outcomes.outcomes_support import claim, evidence, register
from tests.support.kafka import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLACES = ("GM", "WMCA", "LCR")
# The upstream service whose outbox feeds the drilled services (it is not run itself): its
# schema exists in every database.
UPSTREAM = "gateway"


@pytest.fixture
def drill_stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A stack of the drill's own, for a drill that restarts PostgreSQL or the broker."""
    stack = LocalStack(tmp_path / "stack", free_port(), free_port(), throwaway=True)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@dataclass(frozen=True)
class SharedStack:
    """A fresh, migrated database on the session's PostgreSQL and a topic prefix of its own on
    the session's broker, for a drill that kills only service processes."""

    database_url: str
    bootstrap_servers: str
    topic_prefix: str


@pytest.fixture
def shared_stack(stack: Stack, database_url: str) -> SharedStack:
    return SharedStack(database_url, stack.bootstrap_servers, f"drill{uuid.uuid4().hex[:10]}-")


DrillStack = LocalStack | SharedStack


def drill_settings(stack: DrillStack) -> RuntimeSettings:
    return RuntimeSettings(
        database_url=stack.database_url,
        kafka_bootstrap_servers=stack.bootstrap_servers,
        topic_prefix=stack.topic_prefix if isinstance(stack, SharedStack) else "drill-",
        consumer_session_timeout_ms=2000,
        consumer_heartbeat_interval_ms=500,
        consumer_fetch_max_wait_ms=20,
        infrastructure_retry_backoff_s=0.3,
        local_defaults_allowed=True,
    )


def work(reservations: int) -> list[Event]:
    """Settlements, then reservations, with a payment after every other reservation."""
    events: list[Event] = [
        RecordSettlement(
            place_id=place,
            settlement_id="S-1",
            department_code="DWP",
            funding_stream_code="WORK",
            spending_review_period="SR2025",
            profile=(FinancialYearAmount(financial_year="2026-27", amount_pence=10**12),),
        )
        for place in PLACES
    ]
    for number in range(reservations):
        place = PLACES[number % len(PLACES)]
        events.append(
            ReservationRequested(
                place_id=place,
                allocation_id=f"A-{number}",
                financial_year="2026-27",
                amount_pence=1_000_00,
                purpose="drill",
            )
        )
        if number % 2 == 0:
            events.append(
                PaymentRequested(
                    place_id=place,
                    payment_id=f"PAY-{number}",
                    allocation_id=f"A-{number}",
                    provider_id="PROV-1",
                    amount_pence=400_00,
                    payment_kind="grant_instalment",
                    purpose="drill",
                )
            )
    return events


class Drill:
    """The stack, the ledger process and the upstream outbox with its relay."""

    def __init__(self, stack: DrillStack, tmp_path: Path) -> None:
        self.stack = stack
        self.settings = drill_settings(stack)
        self.log = tmp_path / "ledger.log"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.gateway_port = 0
        self.upstream: asyncpg.Pool | None = None
        self.relay_task: asyncio.Task[None] | None = None
        self.producer: AIOKafkaProducer | None = None

    async def prepare(self) -> None:
        await migrate_all(self.stack.database_url, create_database=True)
        await create_all_topics(self.settings)
        self.upstream = await create_pool(self.stack.database_url, UPSTREAM, 4)
        await self.start_relay()

    async def start_relay(self) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.stack.bootstrap_servers, enable_idempotence=False, acks="all"
        )
        await self.producer.start()
        assert self.upstream is not None
        relay = OutboxRelay(
            self.upstream,
            self.producer,
            topic_prefix=self.settings.topic_prefix,
            batch_size_max=200,
            poll_interval_s=0.02,
        )
        self.relay_task = asyncio.create_task(relay.run())

    async def stop_relay(self) -> None:
        if self.relay_task is not None:
            self.relay_task.cancel()
            await asyncio.gather(self.relay_task, return_exceptions=True)
        if self.producer is not None:
            await self.producer.stop()

    def start(self, service: str = "ledger", **extra_env: str) -> None:
        env = {
            **extra_env,
            **os.environ,
            "DATABASE_URL": self.stack.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.bootstrap_servers,
            "SINGLEPOT_TOPIC_PREFIX": self.settings.topic_prefix,
            # The gateway's health port is its API port.
            f"SINGLEPOT_{service.upper()}_{'PORT' if service == 'gateway' else 'HEALTH_PORT'}": str(
                free_port()
            ),
            "SINGLEPOT_CONSUMER_SESSION_TIMEOUT_MS": "2000",
            "SINGLEPOT_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
            "SINGLEPOT_CONSUMER_FETCH_MAX_WAIT_MS": "20",
            "SINGLEPOT_INFRASTRUCTURE_RETRY_BACKOFF_S": "0.3",
            "SINGLEPOT_CONSUMER_BATCH_SIZE_MAX": "50",
            "SINGLEPOT_LOCAL_DEFAULTS_ALLOWED": "true",
        }
        if service == "gateway":
            self.gateway_port = int(env["SINGLEPOT_GATEWAY_PORT"])
        command = [str(Path(sys.executable).parent / "singlepot"), "serve", service]
        with (self.log.parent / f"{service}.log").open("ab") as log:
            self.processes[service] = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self, service: str = "ledger") -> None:
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(30)

    async def send(self, events: list[Event]) -> None:
        """Write requests into the upstream outbox, as the upstream service's handlers would."""
        assert self.upstream is not None
        async with self.upstream.acquire() as connection, connection.transaction():
            for event in events:
                await add_row(connection, row_for(wrap(event, producer=UPSTREAM), event))

    async def answered(self) -> int:
        return await self.count("SELECT count(*) FROM ledger.answered_requests")

    async def count(self, query: str) -> int:
        connection = await asyncpg.connect(self.stack.database_url)
        try:
            return int(await connection.fetchval(query))
        finally:
            await connection.close()

    async def wait_until_answered(
        self,
        expected: int,
        timeout_s: float = 120,
        interval_s: float = 0.2,
        query: str = "SELECT count(*) FROM ledger.answered_requests",
    ) -> int:
        async def done() -> int:
            try:
                answered = await self.count(query)
            except (OSError, asyncpg.PostgresError):
                return 0  # PostgreSQL is restarting
            return answered if answered >= expected else 0

        return await eventually(done, timeout_s=timeout_s, interval_s=interval_s)

    async def check_invariants(self, requests: list[Event], answered: int | None = None) -> None:
        """`answered`: how many ledger requests there were, when not all of `requests` are."""
        payments = sum(isinstance(event, PaymentRequested) for event in requests)
        connection = await asyncpg.connect(self.stack.database_url)
        try:
            await connection.execute("SET search_path TO ledger")
            per_request = await connection.fetch(
                "SELECT request_event_id, count(*) AS n FROM transfers GROUP BY 1"
            )
            results = await verify_all(connection)
            conflicts = await connection.fetchval("SELECT count(*) FROM conflicting_requests")
        finally:
            await connection.close()
        # Every request posted exactly one transfer, once; no chain is broken.
        assert len(per_request) == (len(requests) if answered is None else answered)
        assert all(row["n"] == 1 for row in per_request)
        assert conflicts == 0
        assert results and all(r.intact for r in results), results
        # Every payment's spend event is on the public topic; copies share one event id.
        if payments:
            spend_ids = await eventually(lambda: self._spend_event_ids(payments), timeout_s=60)
            assert len(spend_ids) == payments

    async def _spend_event_ids(self, expected: int) -> set[uuid.UUID]:
        consumer = AIOKafkaConsumer(
            self.settings.topic(topics.LEDGER_SPEND),
            bootstrap_servers=self.stack.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            ids: set[uuid.UUID] = set()
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                if not batch:
                    break
                for records in batch.values():
                    ids.update(decode(record.value or b"").event_id for record in records)
            return ids if len(ids) >= expected else set()
        finally:
            await consumer.stop()

    async def close(self) -> None:
        self.stop_all()
        await self.stop_relay()
        if self.upstream is not None:
            await self.upstream.close()


@asynccontextmanager
async def drill(stack: DrillStack, tmp_path: Path) -> AsyncIterator[Drill]:
    running = Drill(stack, tmp_path)
    try:
        await running.prepare()
        running.start("ledger")
        yield running
    finally:
        await running.close()


async def test_the_ledger_killed_mid_stream_loses_and_duplicates_nothing(
    shared_stack, tmp_path
) -> None:
    requests = work(1200)
    async with drill(shared_stack, tmp_path) as running:
        await running.send(requests[:1500])
        await running.wait_until_answered(100, interval_s=0.01)
        running.kill("ledger")  # kill -9, in the middle of the stream
        # It really was in the middle: part of what was sent is not answered yet.
        assert await running.answered() < 1500
        await running.send(requests[1500:])
        running.start("ledger")
        await running.wait_until_answered(len(requests))
        await running.check_invariants(requests)


async def test_a_broker_that_lost_its_data_is_refilled_from_the_outboxes(
    drill_stack, tmp_path
) -> None:
    requests = work(120)
    async with drill(drill_stack, tmp_path) as running:
        await running.send(requests[:90])
        await running.wait_until_answered(90)
        # The local broker keeps nothing across a restart: topics, messages, group offsets.
        drill_stack.broker.stop()
        drill_stack.broker.start()
        await create_all_topics(running.settings)
        # What `singlepot republish` does: every service's outbox is queued again.
        assert running.upstream is not None
        await mark_all_for_republish(running.upstream)
        ledger_pool = await create_pool(drill_stack.database_url, "ledger", 1)
        try:
            await mark_all_for_republish(ledger_pool)
        finally:
            await ledger_pool.close()
        await running.send(requests[90:])
        await running.wait_until_answered(len(requests))
        await running.check_invariants(requests)


async def test_postgresql_restarting_mid_stream_loses_and_duplicates_nothing(
    drill_stack, tmp_path
) -> None:
    requests = work(1200)
    async with drill(drill_stack, tmp_path) as running:
        await running.send(requests)
        answered = await running.wait_until_answered(100, interval_s=0.01)
        drill_stack.postgres.stop()
        # It really was in the middle: part of the stream was still to be answered.
        assert answered < len(requests)
        await asyncio.sleep(1.0)
        drill_stack.postgres.start()
        await running.wait_until_answered(len(requests))
        await running.check_invariants(requests)


async def test_a_poison_message_is_dead_lettered_and_the_rest_flows_on(
    shared_stack, tmp_path
) -> None:
    requests = work(90)
    async with drill(shared_stack, tmp_path) as running:
        await running.send(requests[:60])
        assert running.producer is not None
        poison_topic = running.settings.topic(topics.LEDGER_REQUESTS)
        await running.producer.send_and_wait(poison_topic, b"\x00 not an envelope", key=b"GM")
        await running.send(requests[60:])
        await running.wait_until_answered(len(requests))
        dead_letters = await eventually(lambda: _records(running, topics.DEAD_LETTER))
        await running.check_invariants(requests)
    [dead_letter] = dead_letters
    assert dead_letter.value == b"\x00 not an envelope"
    headers = dict(dead_letter.headers)
    assert headers["dead_letter_consumer"] == b"ledger"


async def _records(running: Drill, topic: str) -> list:
    consumer = AIOKafkaConsumer(
        running.settings.topic(topic),
        bootstrap_servers=running.stack.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return [record for records in batch.values() for record in records]
    finally:
        await consumer.stop()


async def test_the_allocations_service_killed_mid_stream_funds_each_allocation_once(
    shared_stack, tmp_path
) -> None:
    allocations = 300
    commands: list[Event] = work(0)  # the settlements
    for number in range(allocations):
        place = PLACES[number % len(PLACES)]
        commands.append(
            ProposeAllocation(
                place_id=place,
                allocation_id=f"A-{number}",
                allocation_type="partnership_agreement",
                recipient_id=f"R-{number}",
                purpose="Family hubs",
                mission_id="M-START-WELL",
                start_date=date(2026, 5, 1),
                end_date=date(2027, 3, 31),
                value_pence=1_000_00,
                financial_year="2026-27",
                proposed_by="officer-1",
            )
        )
        commands.append(
            DecideAllocation(
                place_id=place, allocation_id=f"A-{number}", decision="approved", decided_by="psrb"
            )
        )
    funded = "SELECT count(*) FROM allocations.allocations WHERE status = 'funded'"
    async with drill(shared_stack, tmp_path) as running:
        running.start("allocations")
        await running.send(commands)
        so_far = await running.wait_until_answered(30, interval_s=0.01, query=funded)
        running.kill("allocations")  # kill -9, in the middle of the stream
        assert so_far < allocations
        running.start("allocations")
        await running.wait_until_answered(allocations, query=funded)
        await running.wait_until_answered(len(PLACES) + allocations)
        # Each allocation asked the ledger once for its reservation, and it was posted once.
        reservations = await running.count("SELECT count(*) FROM ledger.reservations")
        await running.check_invariants(work(0), answered=len(PLACES) + allocations)
    assert reservations == allocations


async def test_the_outcomes_service_killed_mid_stream_pays_each_batch_once(
    shared_stack, tmp_path
) -> None:
    batches = 40
    setup: list[Event] = [
        work(0)[0],  # GM's settlement
        ProposeAllocation(
            place_id="GM",
            allocation_id="A-1",
            allocation_type="outcomes_contract",
            recipient_id="P-1",
            purpose="Supported employment",
            mission_id="M-GOOD-JOBS",
            start_date=date(2026, 4, 1),
            end_date=date(2028, 3, 31),
            value_pence=90_000_00,  # under the sign-off threshold: the board alone decides
            financial_year="2026-27",
            proposed_by="officer",
        ),
        DecideAllocation(place_id="GM", allocation_id="A-1", decision="approved", decided_by="b"),
    ]
    evidence_batches: list[Event] = [
        evidence(f"B-{number}", claim(2 * number), claim(2 * number + 1))
        for number in range(batches)
    ]
    payments = "SELECT count(*) FROM ledger.payments"
    no_sampling = {
        "SINGLEPOT_OUTCOMES_VERIFICATION_SAMPLE_SHARE": "0",
        "SINGLEPOT_OUTCOMES_VERIFICATION_SAMPLE_SIZE_MIN": "0",
        # Outcomes handles a whole fetch in one transaction: with the default (up to 1,000
        # messages) all 40 batches would be paid at once and the kill would come after them.
        # Fetches of two keep the stream going long enough to kill it in the middle.
        "SINGLEPOT_CONSUMER_BATCH_SIZE_MAX": "2",
    }
    async with drill(shared_stack, tmp_path) as running:
        running.start("allocations")
        running.start("outcomes", **no_sampling)
        await running.send(setup)
        funded = "SELECT count(*) FROM allocations.allocations WHERE status = 'funded'"
        await running.wait_until_answered(1, query=funded)
        await running.send([register(cap_pence=85_000_00)])
        await running.wait_until_answered(1, query="SELECT count(*) FROM outcomes.contracts")
        # Outcomes now handles a batch in a few milliseconds, so half the stream is sent, the
        # service is killed on its own progress (the ledger's payments trail it by a hop), and
        # the other half arrives while it is down: work is outstanding whatever the timing.
        half = batches // 2
        await running.send(evidence_batches[:half])
        so_far = await running.wait_until_answered(
            5, interval_s=0.01, query="SELECT count(*) FROM outcomes.batches"
        )
        running.kill("outcomes")  # kill -9, in the middle of the stream
        await running.send(evidence_batches[half:])
        assert so_far < batches
        running.start("outcomes", **no_sampling)
        await running.wait_until_answered(batches, query=payments)
        ledger_paid = await running.count("SELECT sum(amount_pence) FROM ledger.payments")
        # The contract learns of each payment from the ledger's answer; wait until it has all.
        contract_paid = await running.wait_until_answered(
            ledger_paid, query="SELECT paid_pence FROM outcomes.contracts", timeout_s=60
        )
        # One settlement, one reservation, one payment per batch: each posted exactly once.
        await running.check_invariants(
            [*[PaymentRequested.model_construct() for _ in range(batches)]],
            answered=2 + batches,
        )
    assert ledger_paid == contract_paid == batches * 2 * 1_000_00


class WebhookReceiver:
    """A department's webhook endpoint: keeps every genuine delivery's event id."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secret = ""
        self.event_ids: list[str] = []
        self.forged = 0
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender died mid-request (the drill kills it): nothing arrived
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        signed = f"{headers.get('singlepot-timestamp', '')}.".encode() + body
        expected = "v1=" + hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, headers.get("singlepot-signature", "")):
            self.event_ids.append(headers["singlepot-event-id"])
        else:
            self.forged += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def start(self) -> None:
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        await eventually(lambda: _started(self.server))

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task


async def _started(server: uvicorn.Server | None) -> bool:
    return server is not None and server.started


def department_token(database_url: str) -> str:
    """A department service token, made with the command an administrator uses."""
    singlepot = str(Path(sys.executable).parent / "singlepot")
    env = {**os.environ, "DATABASE_URL": database_url}
    add = [singlepot, "users", "add", "dwp-feed", "--service", "--grant", "department@*:DWP"]
    subprocess.run(add, env=env, check=True, capture_output=True, timeout=60)
    issued = subprocess.run(
        [singlepot, "users", "token", "dwp-feed"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return issued.stdout.strip().splitlines()[-1]


async def test_the_gateway_killed_mid_stream_delivers_every_spend_webhook_once_in_effect(
    shared_stack, tmp_path
) -> None:
    requests = work(120)  # 60 payments, all from DWP's stream
    payments = sum(isinstance(event, PaymentRequested) for event in requests)
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        async with drill(shared_stack, tmp_path) as running:
            running.start("gateway", SINGLEPOT_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
            token = await asyncio.to_thread(department_token, shared_stack.database_url)
            gateway = f"http://127.0.0.1:{running.gateway_port}"
            async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
                await eventually(lambda: _ready(client), timeout_s=60)
                answer = await client.post(
                    "/api/v1/departments/DWP/webhooks",
                    json={"url": f"http://127.0.0.1:{receiver.port}/hook"},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "drill-1"},
                )
                assert answer.status_code == 201, answer.text
                receiver.secret = answer.json()["secret"]
            await running.send(requests)
            await eventually(lambda: _received(receiver, 5), timeout_s=60, interval_s=0.01)
            running.kill("gateway")  # kill -9, in the middle of the deliveries
            assert len(set(receiver.event_ids)) < payments
            running.start("gateway", SINGLEPOT_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
            await eventually(lambda: _received(receiver, payments), timeout_s=120)
            await running.check_invariants(requests)
    finally:
        await receiver.stop()
    assert len(set(receiver.event_ids)) == payments and receiver.forged == 0


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def _received(receiver: WebhookReceiver, count: int) -> bool:
    return len(set(receiver.event_ids)) >= count
