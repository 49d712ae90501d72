"""The outcomes service in batches gives the same results as one message per transaction.

The same messages (the same envelopes: ids, times, bodies) go through the one-message path
(`EventConsumer`, each message in its own transaction) into one database and through the batch
path (`BatchConsumer.process`, one transaction per batch) into another; every claim is accepted,
refused and paid the same, the same events are emitted in the same order, and the money adds
up the same. One difference is by design: the batch path measures a contract's funnel and runs
its monitors once per batch, after its handlers (`handlers.MonitorsOnce`), so its
`FunnelMeasured` and `GamingFlagRaised` events come at the batch's end, one funnel per contract
per batch; the last funnel of each contract and the flags raised are the same.

Covered: duplicates within a batch, across batches and across contracts of the place, a cap
reached mid-run, a chunked file, a refused command, a repeated message, a
resubmitted batch, a payment, and a poison message that is dead-lettered while the rest of its
batch is applied.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from contracts import AttributionShare, Event, topics
from contracts.envelope import Envelope, decode, encode, unwrap, wrap
from contracts.ledger import PaymentMade
from services.outcomes.app import definition
from services.outcomes.domain import payment_id_for
from services.outcomes.settings import OutcomesSettings
from services.runtime.batch_consumer import BatchConsumer
from services.runtime.consumer import EventConsumer, IncomingMessage
from services.runtime.db import create_pool
from tests.conftest import Stack
from tests.integration.outcomes.outcomes_support import (
    claim,
    evidence,
    funded,
    person,
    register,
)

pytestmark = pytest.mark.integration

# Compared table by table, every column that does not record when a row was written.
TABLES = {
    "claims": "SELECT place_id, participant_hash, metric_id, contract_id, batch_id, status, "
    "price_pence, row_number, metric_version, claim_period_id, sampled FROM claims "
    "ORDER BY place_id, participant_hash, metric_id",
    "claim_rejections": "SELECT contract_id, batch_id, chunk_index, row_number, "
    "participant_hash, metric_id, reason FROM claim_rejections "
    "ORDER BY contract_id, batch_id, chunk_index, row_number, participant_hash, metric_id",
    "batches": "SELECT contract_id, batch_id, status, amount_pence, payment_id, chunk_count, "
    "sample_size, sample_seed, reason, transfer_id FROM batches ORDER BY contract_id, batch_id",
    "batch_chunks": "SELECT contract_id, batch_id, chunk_index, claim_count, accepted_count "
    "FROM batch_chunks ORDER BY contract_id, batch_id, chunk_index",
    "metric_prices": "SELECT contract_id, metric_id, committed_pence FROM metric_prices "
    "ORDER BY contract_id, metric_id",
    "contracts": "SELECT contract_id, paid_pence, recovered_pence FROM contracts "
    "ORDER BY contract_id",
    "gaming_flags": "SELECT contract_id, flag_kind, subject, detail FROM gaming_flags "
    "ORDER BY contract_id, flag_kind, subject",
    "inbox": "SELECT consumer, event_id, outcome FROM inbox ORDER BY event_id",
}


def as_carried(event: Event) -> Envelope:
    """The envelope as the broker carries it (through JSON and back)."""
    return decode(encode(wrap(event, producer="test")))


def paid(contract_id: str, batch_id: str, amount_pence: int) -> PaymentMade:
    return PaymentMade(
        place_id="GM",
        payment_id=payment_id_for(contract_id, batch_id),
        allocation_id="A-1",
        provider_id="P-1",
        amount_pence=amount_pence,
        payment_kind="outcome_payment",
        contract_id=contract_id,
        claim_batch_id=batch_id,
        attribution=(
            AttributionShare(
                department_code="DWP", funding_stream_code="WORK", amount_pence=amount_pence
            ),
        ),
        transfer_id=f"T-{batch_id}",
    )


def scenario() -> list[Envelope]:
    """Messages that make the paths differ if batching changed any rule."""
    chunks = [
        evidence("F-1", *[claim(n) for n in range(20, 24)]).model_copy(
            update={"chunk_index": 0, "chunk_count": None}
        ),
        evidence("F-1", claim(24), claim(1), claim(25, difficulty_segment="hard")).model_copy(
            update={"chunk_index": 1, "chunk_count": 2}
        ),
    ]
    first = as_carried(evidence("B-1", claim(1), claim(2), claim(3, difficulty_segment="hard")))
    events: list[Any] = [
        *funded(),
        *funded("A-2", "P-2"),
        register(cap_pence=9_000_00),
        register("C-2", "P-2", "A-2"),
    ]
    return [
        *map(as_carried, events),
        first,
        as_carried(evidence("B-2", claim(1), claim(4), claim(4), claim(5, metric_id="NOPE"))),
        as_carried(evidence("B-X", claim(2), claim(6), contract_id="C-2", provider_id="P-2")),
        as_carried(evidence("B-3", claim(7), provider_id="P-2")),  # not the contract's provider
        first,  # the same message again
        as_carried(evidence("B-1", claim(8))),  # the batch again, in a new message
        *map(as_carried, chunks),
        as_carried(paid("C-1", "B-1", 3_000_00)),
        as_carried(evidence("B-4", claim(9, achieved_on=date(2027, 1, 1)), claim(10))),
        as_carried(paid("C-1", "B-2", 1_000_00)),
    ]


@asynccontextmanager
async def fresh_database(stack: Stack, template_database: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.database_url("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    try:
        yield stack.database_url(name)
    finally:
        admin = await asyncpg.connect(stack.database_url("postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def incoming(envelope: Envelope, offset: int) -> IncomingMessage:
    return IncomingMessage(
        value=encode(envelope),
        key=None,
        headers={},
        topic=topics.OUTCOMES_COMMANDS,
        partition=0,
        offset=offset,
    )


@asynccontextmanager
async def consumers(
    pool: asyncpg.Pool, settings: OutcomesSettings
) -> AsyncIterator[tuple[EventConsumer, BatchConsumer]]:
    """The service's one-message consumer, and its batch consumer falling back on it."""
    service = definition(settings)
    assert service.batch_handler is not None, "outcomes consumes in batches"
    one_by_one = EventConsumer(
        name=service.name,
        pool=pool,
        handlers=service.handlers,
        attempts_max=2,
        retry_backoff_s=0.0,
    )
    batches = BatchConsumer(
        name=service.name,
        pool=pool,
        handler=service.batch_handler,
        event_types=frozenset(service.handlers),
        fallback=one_by_one,
        consumer=AIOKafkaConsumer(),  # never started: batches are handed to `process`
        batch_size_max=1000,
        infrastructure_retry_backoff_s=0.0,
    )
    try:
        yield one_by_one, batches
    finally:
        await batches.consumer.stop()


async def results(pool: asyncpg.Pool) -> dict[str, Any]:
    """Every table's rows, and the outbox as events: type, key, body and cause, in order."""
    found: dict[str, Any] = {
        table: [dict(row) for row in await pool.fetch(query)] for table, query in TABLES.items()
    }
    found["outbox"] = [
        (row["event_type"], row["topic"], row["partition_key"], envelope.causation_id, body)
        for row in await pool.fetch("SELECT * FROM outbox ORDER BY id")
        for envelope in [decode(bytes(row["value"]))]
        for body in [unwrap(envelope).model_dump(mode="json")]
    ]
    return found


# Measured once per contract per batch on the batch path (see the module's docstring).
ONCE_PER_BATCH = ("FunnelMeasured", "GamingFlagRaised")
Carried = tuple[str, str, str, Any, dict[str, Any]]


def per_message(outbox: list[Carried]) -> list[Carried]:
    return [event for event in outbox if event[0] not in ONCE_PER_BATCH]


def last_funnels(outbox: list[Carried]) -> dict[str, Any]:
    return {body["contract_id"]: body for kind, *_, body in outbox if kind == "FunnelMeasured"}


def flags_raised(outbox: list[Carried]) -> list[Any]:
    flags = [body for kind, *_, body in outbox if kind == "GamingFlagRaised"]
    return sorted(flags, key=lambda body: json.dumps(body, sort_keys=True))


async def run_one_by_one(
    url: str, settings: OutcomesSettings, messages: Sequence[Envelope]
) -> dict[str, Any]:
    pool = await create_pool(url, "outcomes", 2)
    try:
        async with consumers(pool, settings) as (one_by_one, _):
            for offset, envelope in enumerate(messages):
                await one_by_one.handle(incoming(envelope, offset))
        return await results(pool)
    finally:
        await pool.close()


async def run_in_batches(
    url: str, settings: OutcomesSettings, messages: Sequence[Envelope], batch_size: int
) -> dict[str, Any]:
    pool = await create_pool(url, "outcomes", 2)
    try:
        async with consumers(pool, settings) as (_, batches):
            for start in range(0, len(messages), batch_size):
                part = messages[start : start + batch_size]
                await batches.process([incoming(e, start + i) for i, e in enumerate(part)])
        return await results(pool)
    finally:
        await pool.close()


@pytest.mark.parametrize("batch_size", [4, 100])
@pytest.mark.parametrize("sample_share", [0.0, 0.5])
async def test_batches_accept_refuse_and_pay_every_claim_as_one_message_at_a_time_does(
    stack: Stack, template_database: str, batch_size: int, sample_share: float
) -> None:
    messages = scenario()
    settings = OutcomesSettings(verification_sample_share=sample_share, segment_referrals_min=1)
    async with (
        fresh_database(stack, template_database) as one_url,
        fresh_database(stack, template_database) as batch_url,
    ):
        expected = await run_one_by_one(one_url, settings, messages)
        actual = await run_in_batches(batch_url, settings, messages, batch_size)

    for table in TABLES:
        assert actual[table] == expected[table], table
    assert per_message(actual["outbox"]) == per_message(expected["outbox"])
    assert last_funnels(actual["outbox"]) == last_funnels(expected["outbox"])
    assert flags_raised(actual["outbox"]) == flags_raised(expected["outbox"])
    batches = -(-len(messages) // batch_size)
    measured = [event for event in actual["outbox"] if event[0] == "FunnelMeasured"]
    assert len(measured) <= batches * len(last_funnels(actual["outbox"]))
    assert len(measured) < len([e for e in expected["outbox"] if e[0] == "FunnelMeasured"])
    # The scenario did exercise what it claims to (so that equal results mean something).
    statuses = {row["status"] for row in expected["claims"]}
    assert statuses >= {"pending"} and expected["claim_rejections"]
    refusals = [event for event in expected["outbox"] if event[0] == "CommandRefused"]
    assert len(refusals) == 1
    assert len(expected["inbox"]) == len(messages) - 1  # the repeated message counted once
    if sample_share == 0:
        assert "paid" in statuses
        assert {row["batch_id"] for row in expected["batches"] if row["status"] == "paid"} == {
            "B-1",
            "B-2",
        }
    reasons = " ".join(row["reason"] for row in expected["claim_rejections"])
    assert "cap" in reasons and person(1) in str(expected["claim_rejections"])


async def test_a_poison_message_is_dead_lettered_and_the_rest_of_its_batch_applied(
    stack: Stack, template_database: str
) -> None:
    settings = OutcomesSettings(verification_sample_share=0.0)
    setup = [as_carried(event) for event in [*funded(), register()]]
    poison = as_carried(evidence("B-P", claim(1)))
    good = as_carried(evidence("B-G", claim(2)))
    async with fresh_database(stack, template_database) as url:
        pool = await create_pool(url, "outcomes", 2)
        try:
            async with consumers(pool, settings) as (_, batches):
                await batches.process([incoming(e, i) for i, e in enumerate(setup)])
                # A trigger makes the poison's claims fail to store, every time it is tried.
                await pool.execute(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.batch_id = 'B-P' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; "
                    "END $$"
                )
                await pool.execute(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON claims "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
                await batches.process([incoming(poison, 10), incoming(good, 11)])
            outcomes = dict(await pool.fetch("SELECT event_id, outcome FROM inbox"))
            good_claims = await pool.fetchval("SELECT count(*) FROM claims WHERE batch_id = 'B-G'")
            dead_letters = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE topic = $1", topics.DEAD_LETTER
            )
        finally:
            await pool.close()
    assert good_claims == 1
    assert outcomes[good.event_id] == "processed"
    assert outcomes[poison.event_id] == "dead_lettered"
    assert dead_letters == 1
