"""The outcomes service's database access: the only outcomes module that talks to asyncpg.

Evidence is handled a chunk at a time and set-based: one anti-join finds every earlier claim of
a chunk's participant-metric pairs, accepted claims and rejections go in with COPY, and the
verification sample is drawn by one ordered UPDATE.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from contracts.outcomes import VerificationRule
from services.outcomes import domain
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

CLAIM_COLUMNS = (
    "place_id",
    "participant_hash",
    "metric_id",
    "contract_id",
    "batch_id",
    "achieved_on",
    "evidence_reference",
    "price_pence",
    "status",
    "row_number",
    "metric_version",
    "claim_period_id",
    "referral_date",
    "difficulty_segment",
)
REJECTION_COLUMNS = (
    "contract_id",
    "batch_id",
    "chunk_index",
    "row_number",
    "participant_hash",
    "metric_id",
    "reason",
)


@dataclass(frozen=True)
class NewMetric:
    """A metric as registered: its first version's price, its cap, payer and definition."""

    metric_id: str
    price_pence: int
    cap_pence: int | None
    payer_id: str | None
    definition: Mapping[str, Any] | None


@dataclass(frozen=True)
class NewContract:
    """Everything stored when a contract is registered."""

    contract: domain.Contract
    metrics: Sequence[NewMetric]
    social_impact_bond: bool
    terms: Mapping[str, Any]


# --- Contracts --------------------------------------------------------------------------------


async def contract_exists(connection: asyncpg.Connection, contract_id: str) -> bool:
    return bool(await connection.fetchval(QUERIES.contract_exists, contract_id))


async def insert_contract(connection: asyncpg.Connection, new: NewContract) -> None:
    """Store a new contract: its metrics (version 1 each), payers and claim periods."""
    contract = new.contract
    await connection.execute(
        QUERIES.insert_contract,
        contract.contract_id,
        contract.place_id,
        contract.allocation_id,
        contract.provider_id,
        contract.cap_pence,
        contract.start_date,
        contract.end_date,
        list(contract.difficulty_segments),
        list(contract.social_value_kpi_ids),
        new.social_impact_bond,
        json.dumps(new.terms, default=str),
    )
    await connection.executemany(
        QUERIES.insert_metric_price,
        [
            (
                contract.contract_id,
                m.metric_id,
                m.price_pence,
                m.cap_pence,
                m.payer_id,
                json.dumps(m.definition) if m.definition else None,
            )
            for m in new.metrics
        ],
    )
    await connection.executemany(
        QUERIES.insert_metric_version,
        [
            (
                contract.contract_id,
                m.metric_id,
                1,
                None,
                m.price_pence,
                json.dumps(m.definition) if m.definition else None,
                [],
                None,
            )
            for m in new.metrics
        ],
    )
    await connection.executemany(
        QUERIES.insert_payer,
        [(contract.contract_id, payer, cap) for payer, cap in contract.payer_caps_pence.items()],
    )
    await connection.executemany(
        QUERIES.insert_claim_period,
        [
            (
                contract.contract_id,
                p.claim_period_id,
                p.starts_on,
                p.ends_on,
                p.claim_deadline,
                p.planned_payment_pence,
            )
            for p in contract.claim_periods
        ],
    )


async def lock_contract(connection: asyncpg.Connection, contract_id: str) -> domain.Contract | None:
    """The contract with its metrics, versions, payers and periods, locked until commit, so
    one contract's evidence is priced against caps one chunk at a time."""
    row = await connection.fetchrow(QUERIES.lock_contract, contract_id)
    if row is None:
        return None
    versions: dict[str, list[domain.MetricVersion]] = {}
    for metric_id, version, effective_from, price_pence in json.loads(row["versions"]):
        versions.setdefault(metric_id, []).append(
            domain.MetricVersion(version, _day(effective_from), price_pence)
        )
    metrics = {
        metric_id: domain.Metric(
            metric_id=metric_id,
            versions=tuple(versions.get(metric_id, ())),
            cap_pence=cap_pence,
            payer_id=payer_id,
            committed_pence=committed_pence,
        )
        for metric_id, cap_pence, payer_id, committed_pence in json.loads(row["metrics"])
    }
    periods = [
        domain.ClaimPeriod(period_id, _date(starts), _date(ends), _day(deadline), planned_pence)
        for period_id, starts, ends, deadline, planned_pence in json.loads(row["claim_periods"])
    ]
    return domain.Contract(
        contract_id=row["contract_id"],
        place_id=row["place_id"],
        allocation_id=row["allocation_id"],
        provider_id=row["provider_id"],
        cap_pence=row["cap_pence"],
        metrics=metrics,
        payer_caps_pence=dict(json.loads(row["payers"])),
        claim_periods=tuple(periods),
        start_date=row["start_date"],
        end_date=row["end_date"],
        difficulty_segments=tuple(row["difficulty_segments"]),
        social_value_kpi_ids=tuple(row["social_value_kpi_ids"]),
    )


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


async def is_social_impact_bond(connection: asyncpg.Connection, contract_id: str) -> bool:
    value = await connection.fetchval(
        "SELECT social_impact_bond FROM contracts WHERE contract_id = $1", contract_id
    )
    return bool(value)


async def insert_metric_version(
    connection: asyncpg.Connection,
    contract_id: str,
    metric_id: str,
    version: domain.MetricVersion,
    definition: Mapping[str, Any] | None,
    agreed_by: Sequence[str],
    reason: str,
) -> None:
    await connection.execute(
        QUERIES.insert_metric_version,
        contract_id,
        metric_id,
        version.version,
        version.effective_from,
        version.price_pence,
        json.dumps(definition) if definition else None,
        list(agreed_by),
        reason,
    )


async def add_committed(
    connection: asyncpg.Connection, contract_id: str, by_metric: Mapping[str, int]
) -> None:
    """Add (or, with negative amounts, release) what claims commit against each metric."""
    if by_metric:
        await connection.execute(
            QUERIES.add_committed, contract_id, list(by_metric), list(by_metric.values())
        )


async def contracts_on_allocation(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> list[str]:
    rows = await connection.fetch(QUERIES.contracts_on_allocation, place_id, allocation_id)
    return [row["contract_id"] for row in rows]


# --- Allocations ------------------------------------------------------------------------------


async def allocation(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> domain.AllocationView | None:
    row = await connection.fetchrow(QUERIES.allocation, place_id, allocation_id)
    return domain.AllocationView(**dict(row)) if row else None


async def places_holding_allocation(
    connection: asyncpg.Connection, allocation_id: str
) -> tuple[str, ...]:
    rows = await connection.fetch(QUERIES.places_holding_allocation, allocation_id)
    return tuple(row["place_id"] for row in rows)


async def record_allocation_approved(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    allocation_type: str,
    recipient_id: str,
    value_pence: int,
) -> None:
    await connection.execute(
        QUERIES.record_allocation_approved,
        place_id,
        allocation_id,
        allocation_type,
        recipient_id,
        value_pence,
    )


async def record_allocation_funded(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> None:
    await connection.execute(QUERIES.record_allocation_funded, place_id, allocation_id)


# --- Batches and claims -----------------------------------------------------------------------


async def batch(
    connection: asyncpg.Connection, contract_id: str, batch_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(QUERIES.batch, contract_id, batch_id)
    return row


async def batch_by_payment(connection: asyncpg.Connection, payment_id: str) -> asyncpg.Record:
    row: asyncpg.Record | None = await connection.fetchrow(QUERIES.batch_by_payment, payment_id)
    return row


async def start_batch(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, provider_id: str
) -> None:
    await connection.execute(QUERIES.insert_batch, contract_id, batch_id, provider_id)


async def chunk_exists(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, chunk_index: int
) -> bool:
    return bool(await connection.fetchval(QUERIES.chunk_exists, contract_id, batch_id, chunk_index))


async def earlier_claims(
    connection: asyncpg.Connection, place_id: str, claims: Sequence[domain.ClaimLike]
) -> dict[domain.ParticipantMetric, domain.EarlierClaim]:
    """Where any of the claims' participant-metric pairs was claimed before in the place."""
    rows = await connection.fetch(
        QUERIES.earlier_claims,
        place_id,
        [claim.participant_hash for claim in claims],
        [claim.metric_id for claim in claims],
    )
    return {
        (row["participant_hash"], row["metric_id"]): domain.EarlierClaim(
            row["contract_id"],
            row["batch_id"],
            row["row_number"],
            row["status"],
            row["evidence_reference"],
        )
        for row in rows
    }


async def archive_failed_claims(
    connection: asyncpg.Connection,
    place_id: str,
    batch_id: str,
    keys: Sequence[domain.ParticipantMetric],
) -> None:
    """Move claims that failed verification aside; their resubmissions in `batch_id` replace
    them (see domain.resubmitted)."""
    if not keys:
        return
    await connection.execute(
        QUERIES.archive_failed_claims,
        place_id,
        batch_id,
        [participant for participant, _ in keys],
        [metric for _, metric in keys],
    )


async def store_chunk(
    connection: asyncpg.Connection,
    contract: domain.Contract,
    batch_id: str,
    chunk_index: int,
    claim_count: int,
    assessment: domain.Assessment,
) -> None:
    """Accepted claims and rejections by COPY, the metrics' commitments, the chunk's receipt."""
    place_id, contract_id = contract.place_id, contract.contract_id
    if assessment.accepted:
        await connection.copy_records_to_table(
            "claims",
            columns=CLAIM_COLUMNS,
            records=[
                (
                    place_id,
                    p.claim.participant_hash,
                    p.claim.metric_id,
                    contract_id,
                    batch_id,
                    p.claim.achieved_on,
                    p.claim.evidence_reference,
                    p.price_pence,
                    "pending",
                    p.claim.row_number,
                    p.metric_version,
                    p.claim_period_id,
                    p.claim.referral_date,
                    p.claim.difficulty_segment,
                )
                for p in assessment.accepted
            ],
        )
    if assessment.rejected:
        await connection.copy_records_to_table(
            "claim_rejections",
            columns=REJECTION_COLUMNS,
            records=[
                (
                    contract_id,
                    batch_id,
                    chunk_index,
                    r.claim.row_number,
                    r.claim.participant_hash,
                    r.claim.metric_id,
                    r.reason,
                )
                for r in assessment.rejected
            ],
        )
    await add_committed(connection, contract_id, assessment.committed_by_metric())
    await connection.execute(
        QUERIES.insert_chunk,
        contract_id,
        batch_id,
        chunk_index,
        claim_count,
        len(assessment.accepted),
    )


async def count_chunks(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, chunk_count: int | None
) -> tuple[int | None, int]:
    """(the batch's chunk count, chunks received), setting the count when `chunk_count` is
    given, in one round trip."""
    row = await connection.fetchrow(QUERIES.count_chunks, contract_id, batch_id, chunk_count)
    return row["chunk_count"], row["received"]


async def batch_totals_with_work_mem(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, megabytes: int
) -> tuple[int, int]:
    """`batch_totals`, in the round trip that raises the transaction's work_mem for the sorts
    and groupings of a batch's completion (at a million claims 4 MB spills to disk)."""
    row = await connection.fetchrow(
        QUERIES.batch_totals_with_work_mem, contract_id, batch_id, f"{megabytes}MB"
    )
    return row["claim_count"], row["amount_pence"]


async def batch_totals(
    connection: asyncpg.Connection, contract_id: str, batch_id: str
) -> tuple[int, int]:
    """(claims, pence) of a batch's accepted claims still waiting to be paid."""
    row = await connection.fetchrow(QUERIES.batch_totals, contract_id, batch_id)
    return row["claim_count"], row["amount_pence"]


async def batch_rejection_reasons(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, limit: int
) -> list[str]:
    rows = await connection.fetch(QUERIES.batch_rejection_reasons, contract_id, batch_id, limit)
    return [row["reason"] for row in rows]


async def set_batch_status(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    status: str,
    amount_pence: int = 0,
    reason: str | None = None,
) -> None:
    await connection.execute(
        QUERIES.set_batch_status, contract_id, batch_id, status, amount_pence, reason
    )


async def draw_sample(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    seed: str,
    share: float,
    size: int,
    part_size: int,
) -> AsyncIterator[list[asyncpg.Record]]:
    """Mark the sample (the first `size` claims ordered by md5(seed:pair)) and yield it in
    parts of `part_size` claims, in the order of their rows.

    The parts come through a cursor, one fetch each, so that a large sample is never held
    whole: the caller queues each part before the next is read (a million-row file samples
    48,867 claims; held whole with every part's event, they were the service's peak memory,
    bench/NOTES.md). The statement marks the whole sample at the first fetch (PostgreSQL
    keeps a data-modifying statement's rows for its cursor), so the caller reads every part
    inside its transaction."""
    await connection.execute(QUERIES.set_batch_sample, contract_id, batch_id, seed, share, size)
    cursor = await connection.cursor(QUERIES.draw_sample, contract_id, batch_id, seed, size)
    while True:
        part = await cursor.fetch(part_size)
        if part:
            yield part
        if len(part) < part_size:
            return


async def unsampled(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    decisions: Sequence[tuple[str, str]],
) -> list[tuple[str, str]]:
    """The (participant, metric) pairs among decisions that were not drawn for this batch."""
    rows = await connection.fetch(
        QUERIES.sampled_keys,
        contract_id,
        batch_id,
        [pair[0] for pair in decisions],
        [pair[1] for pair in decisions],
    )
    sampled = {(row["participant_hash"], row["metric_id"]) for row in rows}
    return [pair for pair in decisions if pair not in sampled]


async def insert_decisions(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    verifier_id: str,
    decisions: Sequence[tuple[str, str, bool, str | None]],
) -> None:
    await connection.execute(
        QUERIES.insert_decisions,
        contract_id,
        batch_id,
        verifier_id,
        [d[0] for d in decisions],
        [d[1] for d in decisions],
        [d[2] for d in decisions],
        [d[3] for d in decisions],
    )


async def sample_state(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, sample_size: int
) -> domain.SampleState:
    row = await connection.fetchrow(QUERIES.sample_state, contract_id, batch_id)
    return domain.SampleState(sample_size, row["decided"], tuple(row["failures"]))


async def hold_batch(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, reasons: Sequence[str]
) -> None:
    await connection.execute(QUERIES.hold_batch, contract_id, batch_id, list(reasons))


async def verification_terms(
    connection: asyncpg.Connection, contract_id: str
) -> tuple[VerificationRule, int | None]:
    """The contract's verification rule and threshold ("hold" for contracts without one)."""
    row = await connection.fetchrow(QUERIES.contract_verification_terms, contract_id)
    return row["verification_rule"], row["threshold_basis_points"]


async def failed_sample(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, sample_size: int
) -> domain.FailedSample:
    row = await connection.fetchrow(QUERIES.failed_sample, contract_id, batch_id)
    return domain.FailedSample(
        accepted_count=row["accepted_count"],
        accepted_pence=int(row["accepted_pence"]),
        sample_size=sample_size,
        sample_pence=int(row["sample_pence"]),
        failed_count=row["failed_count"],
        failed_pence=int(row["failed_pence"]),
    )


async def settle_failed_sample(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    outcome: domain.VerificationOutcome,
) -> None:
    """Keep the rule's decision on the batch and refuse the failed claims, which stop counting
    against the caps; a rejected batch's other claims are refused with it."""
    failed = await connection.fetch(QUERIES.refuse_failed_sample_claims, contract_id, batch_id)
    released: dict[str, int] = {}
    for row in failed:
        released[row["metric_id"]] = released.get(row["metric_id"], 0) - row["price_pence"]
    if outcome.decision == "rejected":
        for row in await connection.fetch(QUERIES.batch_committed_by_metric, contract_id, batch_id):
            released[row["metric_id"]] = released.get(row["metric_id"], 0) - row["pence"]
        await connection.execute(
            QUERIES.set_batch_claims_status,
            contract_id,
            batch_id,
            "pending",
            "verification_rejected",
        )
    await add_committed(connection, contract_id, released)
    document = {
        "verification_rule": outcome.rule,
        "decision": outcome.decision,
        "payable_pence": outcome.payable_pence,
        "reason": outcome.reason,
        "figures": outcome.figures,
    }
    await connection.execute(
        QUERIES.set_verification_outcome, contract_id, batch_id, json.dumps(document)
    )


async def verified_payable_pence(
    connection: asyncpg.Connection, contract_id: str, batch_id: str
) -> int | None:
    """What a verification rule decided to pay for the batch, or None when no rule applied."""
    document = await connection.fetchval(QUERIES.verification_outcome, contract_id, batch_id)
    return None if document is None else int(json.loads(document)["payable_pence"])


async def batch_pence_by_payer(
    connection: asyncpg.Connection, contract_id: str, batch_id: str
) -> dict[str | None, int]:
    rows = await connection.fetch(QUERIES.batch_pence_by_payer, contract_id, batch_id)
    return {row["payer_id"]: int(row["pence"]) for row in rows}


async def request_batch_payment(
    connection: asyncpg.Connection,
    contract_id: str,
    batch_id: str,
    amount_pence: int,
    payment_id: str,
) -> None:
    await connection.execute(
        QUERIES.request_batch_payment, contract_id, batch_id, amount_pence, payment_id
    )


async def batches_awaiting_funding(connection: asyncpg.Connection, contract_id: str) -> list[str]:
    rows = await connection.fetch(QUERIES.batches_awaiting_funding, contract_id)
    return [row["batch_id"] for row in rows]


async def remittance_lines(
    connection: asyncpg.Connection, contract_id: str, batch_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(
        QUERIES.remittance_lines, contract_id, batch_id
    )
    return rows


async def mark_batch_paid(
    connection: asyncpg.Connection, contract_id: str, batch_id: str, transfer_id: str
) -> int | None:
    """Mark a batch and its claims paid; the batch's amount, or None if it was not waiting."""
    amount_pence = await connection.fetchval(
        QUERIES.mark_batch_paid, contract_id, batch_id, transfer_id
    )
    if amount_pence is None:
        return None
    await connection.execute(
        QUERIES.set_batch_claims_status, contract_id, batch_id, "pending", "paid"
    )
    await connection.execute(QUERIES.add_paid, contract_id, amount_pence)
    return int(amount_pence)


async def mark_payment_rejected(
    connection: asyncpg.Connection, payment_id: str, reason: str
) -> tuple[str, str] | None:
    """The batch of a refused payment: its claims stop counting against the caps."""
    row = await connection.fetchrow(QUERIES.mark_payment_rejected, payment_id, reason)
    if row is None:
        return None
    contract_id, batch_id = row["contract_id"], row["batch_id"]
    committed = await connection.fetch(QUERIES.batch_committed_by_metric, contract_id, batch_id)
    await add_committed(connection, contract_id, {r["metric_id"]: -r["pence"] for r in committed})
    await connection.execute(
        QUERIES.set_batch_claims_status, contract_id, batch_id, "pending", "payment_rejected"
    )
    return contract_id, batch_id


# --- Clawback ---------------------------------------------------------------------------------


async def claim(
    connection: asyncpg.Connection, place_id: str, participant_hash: str, metric_id: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        QUERIES.claim, place_id, participant_hash, metric_id
    )
    return row


async def set_claim_status(
    connection: asyncpg.Connection,
    place_id: str,
    participant_hash: str,
    metric_id: str,
    status: str,
) -> None:
    await connection.execute(
        QUERIES.set_claim_status, place_id, participant_hash, metric_id, status
    )


async def clawback_exists(
    connection: asyncpg.Connection, contract_id: str, clawback_id: str
) -> bool:
    return bool(await connection.fetchval(QUERIES.clawback_exists, contract_id, clawback_id))


async def insert_clawback(connection: asyncpg.Connection, *values: Any) -> None:
    """recovery_id, clawback_id, contract_id, place_id, participant_hash, metric_id,
    payment_id, amount_pence, reason, raised_by."""
    await connection.execute(QUERIES.insert_clawback, *values)


async def settle_clawback(
    connection: asyncpg.Connection, recovery_id: str, status: str, ledger_reason: str | None
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(
        QUERIES.settle_clawback, recovery_id, status, ledger_reason
    )
    return row


async def add_recovered(
    connection: asyncpg.Connection, contract_id: str, amount_pence: int
) -> None:
    await connection.execute(QUERIES.add_recovered, contract_id, amount_pence)


# --- Funnel, monitors, open book, investors ---------------------------------------------------


async def insert_referrals(
    connection: asyncpg.Connection, contract_id: str, referrals: Sequence[tuple[str, str, date]]
) -> int:
    return int(
        await connection.fetchval(
            QUERIES.insert_referrals,
            contract_id,
            [r[0] for r in referrals],
            [r[1] for r in referrals],
            [r[2] for r in referrals],
        )
    )


async def insert_engagements(
    connection: asyncpg.Connection, contract_id: str, engagements: Sequence[tuple[str, date]]
) -> int:
    return int(
        await connection.fetchval(
            QUERIES.insert_engagements,
            contract_id,
            [e[0] for e in engagements],
            [e[1] for e in engagements],
        )
    )


async def funnel(connection: asyncpg.Connection, contract_id: str) -> list[domain.SegmentFunnel]:
    rows = await connection.fetch(QUERIES.funnel, contract_id)
    return [domain.SegmentFunnel(**dict(row)) for row in rows]


async def period_achievement_counts(
    connection: asyncpg.Connection, contract_id: str, window_days: int
) -> dict[str, tuple[int, int]]:
    rows = await connection.fetch(QUERIES.period_achievement_counts, contract_id, window_days)
    return {row["claim_period_id"]: (row["total"], row["late"]) for row in rows}


async def insert_flag(connection: asyncpg.Connection, contract_id: str, flag: domain.Flag) -> bool:
    """Record a flag; False when the same kind was already raised for the same subject."""
    raised = await connection.fetchval(
        QUERIES.insert_flag, contract_id, flag.kind, flag.subject, flag.detail
    )
    return raised is not None


async def open_book_exists(
    connection: asyncpg.Connection, contract_id: str, period_id: str
) -> bool:
    return bool(await connection.fetchval(QUERIES.open_book_exists, contract_id, period_id))


async def paid_in_period(
    connection: asyncpg.Connection, contract_id: str, claim_period_id: str | None
) -> int:
    return int(await connection.fetchval(QUERIES.paid_in_period, contract_id, claim_period_id))


async def insert_open_book(connection: asyncpg.Connection, *values: Any) -> None:
    """contract_id, period_id, cost, surplus_or_loss, social_value_cost, kpi_results json,
    outcome_payments."""
    await connection.execute(QUERIES.insert_open_book, *values)


async def investor_flow_exists(
    connection: asyncpg.Connection, contract_id: str, flow_id: str
) -> bool:
    return bool(await connection.fetchval(QUERIES.investor_flow_exists, contract_id, flow_id))


async def insert_investor_flow(connection: asyncpg.Connection, *values: Any) -> bool:
    """contract_id, flow_id, investor_id, flow_kind, amount_pence, occurred_on; False if the
    flow id was recorded before."""
    return await connection.fetchval(QUERIES.insert_investor_flow, *values) is not None


# --- Reports ----------------------------------------------------------------------------------


async def claim_period_report(
    connection: asyncpg.Connection, contract_id: str
) -> list[asyncpg.Record]:
    """Planned against actual (paid, of which recovered) payments per claim period."""
    rows: list[asyncpg.Record] = await connection.fetch(QUERIES.claim_period_report, contract_id)
    return rows


async def provider_statement(connection: asyncpg.Connection, contract_id: str) -> dict[str, Any]:
    """Payments and recoveries of a contract, with the totals, as the provider sees them."""
    totals = await connection.fetchrow(QUERIES.contract_totals, contract_id)
    payments = await connection.fetch(QUERIES.statement_payments, contract_id)
    recoveries = await connection.fetch(QUERIES.statement_recoveries, contract_id)
    return {
        "paid_pence": totals["paid_pence"],
        "recovered_pence": totals["recovered_pence"],
        "net_pence": totals["paid_pence"] - totals["recovered_pence"],
        "payments": [dict(row) for row in payments],
        "recoveries": [dict(row) for row in recoveries],
    }
