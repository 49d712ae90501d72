"""The outcomes service's message handlers: contracts, evidence, verification and clawback in;
payment and recovery requests, remittance advice and flags out.

Every handler runs inside the runtime's transaction, together with the inbox row, so a message takes
effect at most once; the messages of one fetch (each partition's in order) share one transaction and
run in order (`services.runtime.batched_handlers`), so each sees what the ones before it saved.
A command handler loads what it needs, asks the domain to decide (`domain.decide_*`), then
saves and publishes what was decided, or publishes the refusal as a `CommandRefused`
naming the rule; the rules live in `domain.py`, the events are assembled in `announcements.py`.
Every handler takes the service's settings first; the registry `HANDLERS` at the bottom maps
message types to handlers, and `app.definition` binds them to the settings.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from contracts.allocations import AllocationApproved, AllocationFunded
from contracts.base import Event
from contracts.decisions import CommandRefused, Decision
from contracts.ledger import (
    PaymentMade,
    PaymentRejected,
    RecoveryRaised,
    RecoveryRecorded,
)
from contracts.outcomes import (
    AmendMetric,
    ClaimResultsRecorded,
    ClawBackClaim,
    ClawbackSettled,
    ContractEvent,
    EngagementsRecorded,
    EvidenceHeld,
    EvidenceRejected,
    EvidenceSampled,
    OutcomePaymentRejected,
    RecordEngagements,
    RecordInvestorFlow,
    RecordReferrals,
    RecordVerificationDecision,
    ReferralsRecorded,
    RegisterOutcomesContract,
    RemittanceAdvised,
    RemittanceLine,
    SubmitEvidence,
    SubmitOpenBook,
    VerificationRuleApplied,
)
from services.outcomes import announcements, db, domain
from services.outcomes.domain import OUTCOME_PAYMENT, REASONS_LISTED_MAX
from services.outcomes.settings import OutcomesSettings
from services.runtime.consumer import HandlerContext

log = logging.getLogger(__name__)

OutcomesHandler = Callable[[OutcomesSettings, HandlerContext, Any], Awaitable[None]]
"""An outcomes handler: the service's settings, the handler context, the message."""


async def _publish(
    context: HandlerContext, command: ContractEvent, decision: Decision[Any]
) -> None:
    """Publish what was decided: its events, or the refusal in the one refusal shape."""
    if decision.refusal is not None:
        await context.outbox.add(announcements.refused(command, decision.refusal))
        return
    await _publish_events(context, decision.events)


async def _publish_events(context: HandlerContext, events: Iterable[Event]) -> None:
    for event in events:
        await context.outbox.add(event)


# --- Contracts --------------------------------------------------------------------------------


async def register_contract(
    settings: OutcomesSettings, context: HandlerContext, command: RegisterOutcomesContract
) -> None:
    """Store a new contract on its outcomes_contract allocation, or say why not."""
    connection = context.connection
    registered_before = await db.contract_exists(connection, command.contract_id)
    allocation = await db.allocation(connection, command.place_id, command.allocation_id)
    places_holding = await db.places_holding_allocation(connection, command.allocation_id)
    decision = domain.decide_registration(
        command,
        registered_before,
        allocation,
        places_holding,
        kpi_threshold_pence=settings.social_value_kpi_threshold_pence,
        kpi_count_required=settings.social_value_kpi_count,
    )
    if decision.state is not None:
        await db.insert_contract(connection, _new_contract(decision.state))
    await _publish(context, command, decision)


async def amend_metric(
    settings: OutcomesSettings, context: HandlerContext, command: AmendMetric
) -> None:
    """Add a metric's next version, agreed by the parties; earlier versions stay as they were."""
    contract = await db.lock_contract(context.connection, command.contract_id)
    decision = domain.decide_amendment(contract, command)
    if decision.state is not None:
        await db.insert_metric_version(
            context.connection,
            command.contract_id,
            command.metric_id,
            decision.state,
            command.definition.model_dump() if command.definition else None,
            command.agreed_by,
            command.reason,
        )
    await _publish(context, command, decision)


# --- Evidence ---------------------------------------------------------------------------------


async def submit_evidence(
    settings: OutcomesSettings, context: HandlerContext, command: SubmitEvidence
) -> None:
    """Check, dedupe and price one chunk of claims; when the batch is complete, draw the
    verification sample (or, with sampling off, ask the ledger to pay)."""
    connection = context.connection
    contract = await db.lock_contract(connection, command.contract_id)
    decision = domain.decide_provider_holds(contract, command)
    if decision.state is None:
        await _publish(context, command, decision)
        return
    contract = decision.state
    if not await _receive_chunk(context, contract, command):
        return
    assessment = await _assess_chunk(settings, context, contract, command)
    # The contract as stored now: this chunk's claims count against its caps.
    contract = domain.with_commitments(contract, assessment.committed_by_metric())
    chunk_count, received = await db.count_chunks(
        connection, contract.contract_id, command.batch_id, command.chunk_count
    )
    if chunk_count is not None and received >= chunk_count:
        await _complete_batch(settings, context, contract, command.batch_id)


async def _receive_chunk(
    context: HandlerContext, contract: domain.Contract, command: SubmitEvidence
) -> bool:
    """False (and nothing changes) for a chunk already received or a batch already complete:
    a resubmitted file or API batch changes nothing."""
    batch = await db.batch(context.connection, contract.contract_id, command.batch_id)
    status = batch["status"] if batch is not None else None
    received = status == "receiving" and await db.chunk_exists(
        context.connection, contract.contract_id, command.batch_id, command.chunk_index
    )
    if not domain.chunk_is_new(status, received):
        log.info(
            "batch %s chunk %d of contract %s was received before; message %s changes nothing",
            command.batch_id,
            command.chunk_index,
            contract.contract_id,
            context.envelope.event_id,
        )
        return False
    if batch is None:
        await db.start_batch(
            context.connection, contract.contract_id, command.batch_id, command.provider_id
        )
    return True


async def _assess_chunk(
    settings: OutcomesSettings,
    context: HandlerContext,
    contract: domain.Contract,
    command: SubmitEvidence,
) -> domain.Assessment:
    """Assess a chunk set-based: one query for earlier claims, COPY for what is stored."""
    claims = command.claims  # EvidenceClaim fits domain.ClaimLike: no copy of a big chunk
    # Another contract of the place may claim the same pair concurrently (its evidence is on
    # another partition); the claims table's key then fails one of them, which is retried and
    # finds the pair claimed.
    earlier = await db.earlier_claims(context.connection, contract.place_id, claims)
    assessment = domain.assess(
        contract,
        claims,
        earlier,
        batch_id=command.batch_id,
        received_on=context.envelope.occurred_at.date(),
    )
    await db.archive_failed_claims(
        context.connection, contract.place_id, command.batch_id, domain.resubmitted(assessment)
    )
    await db.store_chunk(
        context.connection, contract, command.batch_id, command.chunk_index, len(claims), assessment
    )
    await context.outbox.add(
        announcements.evidence_submitted(
            contract, command, assessment, settings.event_rejections_max
        )
    )
    # Every claim's result, encoded straight from the assessment (no model per claim).
    for payload in announcements.chunk_result_payloads(
        contract, command, assessment, settings.event_claim_results_max
    ):
        await context.outbox.add_payload(ClaimResultsRecorded, payload, contract.contract_id)
    return assessment


async def _complete_batch(
    settings: OutcomesSettings, context: HandlerContext, contract: domain.Contract, batch_id: str
) -> None:
    """Every chunk is in: reject an empty batch, or draw the sample for the verifier."""
    connection = context.connection
    accepted_count, accepted_pence = await db.batch_totals_with_work_mem(
        connection, contract.contract_id, batch_id, settings.completion_work_mem_mb
    )
    step, size = domain.on_completion(
        accepted_count, settings.verification_sample_share, settings.verification_sample_size_min
    )
    if step == "reject":
        reasons = await db.batch_rejection_reasons(
            connection, contract.contract_id, batch_id, REASONS_LISTED_MAX
        )
        summary = domain.reasons_summary(reasons)
        await db.set_batch_status(
            connection, contract.contract_id, batch_id, "rejected", 0, summary
        )
        await context.outbox.add(
            EvidenceRejected(
                place_id=contract.place_id,
                contract_id=contract.contract_id,
                batch_id=batch_id,
                reasons=(summary,),
            )
        )
        return
    if step == "pay":
        await _pay_batch(context, contract, batch_id, (accepted_count, accepted_pence))
    else:
        await _draw_sample(settings, context, contract, batch_id, accepted_count, size)
    await _run_monitors(settings, context, contract)


async def _draw_sample(
    settings: OutcomesSettings,
    context: HandlerContext,
    contract: domain.Contract,
    batch_id: str,
    accepted_count: int,
    size: int,
) -> None:
    """Draw and announce the sample. The seed is the completing message's id: unknown to the
    provider in advance, recorded with the batch, and the same on a retry of the message.
    Each part is queued before the next is read, so a large sample is never held whole."""
    seed = context.envelope.event_id.hex
    share = settings.verification_sample_share
    draw = {
        "sample_seed": seed,
        "sample_share": share,
        "sample_size": size,
        "accepted_count": accepted_count,
    }
    parts = db.draw_sample(
        context.connection,
        contract.contract_id,
        batch_id,
        seed,
        share,
        size,
        settings.event_sampled_claims_max,
    )
    part_index = 0
    async for drawn_part in parts:
        payload = announcements.evidence_sampled_part(
            contract, batch_id, draw, part_index, drawn_part
        )
        await context.outbox.add_payload(EvidenceSampled, payload, contract.contract_id)
        part_index += 1


async def record_verification_decision(
    settings: OutcomesSettings, context: HandlerContext, command: RecordVerificationDecision
) -> None:
    """Record a verifier's decisions; then pay, settle by the contract's rule, or hold the
    batch, as `domain.after_verification` says."""
    connection = context.connection
    contract = await db.lock_contract(connection, command.contract_id)
    batch = await db.batch(connection, command.contract_id, command.batch_id)
    pairs = [(d.participant_hash, d.metric_id) for d in command.decisions]
    strangers = await db.unsampled(connection, command.contract_id, command.batch_id, pairs)
    status = batch["status"] if batch is not None else None
    decision = domain.decide_verification_intake(contract, status, strangers, command)
    if decision.state is None or batch is None:
        await _publish(context, command, decision)
        return
    contract = decision.state
    await db.insert_decisions(
        connection,
        contract.contract_id,
        command.batch_id,
        command.verifier_id,
        [(d.participant_hash, d.metric_id, d.passed, d.reason) for d in command.decisions],
    )
    await _publish_events(
        context,
        announcements.verification_results(contract, command, settings.event_claim_results_max),
    )
    state = await db.sample_state(
        connection, contract.contract_id, command.batch_id, batch["sample_size"]
    )
    step = domain.after_verification(state)
    if step == "apply_rule" and await _apply_verification_rule(
        context, contract, command.batch_id, state.sample_size
    ):
        return
    if step in ("apply_rule", "hold"):
        await db.hold_batch(connection, contract.contract_id, command.batch_id, state.failures)
        await context.outbox.add(
            EvidenceHeld(
                place_id=contract.place_id,
                contract_id=contract.contract_id,
                batch_id=command.batch_id,
                verifier_id=command.verifier_id,
                failed_count=len(state.failures),
                reasons=state.failures[:2000],
            )
        )
    elif step == "pay":
        await _pay_batch(context, contract, command.batch_id)


async def _apply_verification_rule(
    context: HandlerContext, contract: domain.Contract, batch_id: str, sample_size: int
) -> bool:
    """The whole sample is decided and some claims failed: settle the batch by the contract's
    verification rule. False when the rule is to hold it for a person."""
    connection = context.connection
    rule, threshold = await db.verification_terms(connection, contract.contract_id)
    sample = await db.failed_sample(connection, contract.contract_id, batch_id, sample_size)
    outcome = domain.apply_verification_rule(rule, threshold, sample)
    if outcome is None:
        return False
    await db.settle_failed_sample(connection, contract.contract_id, batch_id, outcome)
    await context.outbox.add(
        VerificationRuleApplied(
            place_id=contract.place_id,
            contract_id=contract.contract_id,
            batch_id=batch_id,
            verification_rule=outcome.rule,
            decision=outcome.decision,
            payable_pence=outcome.payable_pence,
            reason=outcome.reason,
            figures=outcome.figures,
        )
    )
    if outcome.decision == "rejected":
        await db.set_batch_status(
            connection, contract.contract_id, batch_id, "rejected", 0, outcome.reason
        )
        await context.outbox.add(
            EvidenceRejected(
                place_id=contract.place_id,
                contract_id=contract.contract_id,
                batch_id=batch_id,
                reasons=(outcome.reason,),
            )
        )
    else:
        await _pay_batch(context, contract, batch_id)
    return True


async def _pay_batch(
    context: HandlerContext,
    contract: domain.Contract,
    batch_id: str,
    totals: tuple[int, int] | None = None,
) -> None:
    """The batch is verified: ask the ledger to pay it once its allocation is funded (see
    `domain.decide_batch_payment`). A batch settled by a verification rule is paid what the
    rule decided. `totals` (claims, pence waiting) when the caller has just read them."""
    connection = context.connection
    count, amount_pence = totals or await db.batch_totals(
        connection, contract.contract_id, batch_id
    )
    payable_pence = await db.verified_payable_pence(connection, contract.contract_id, batch_id)
    allocation = await db.allocation(connection, contract.place_id, contract.allocation_id)
    claimed_by_payer = await db.batch_pence_by_payer(connection, contract.contract_id, batch_id)
    decision = domain.decide_batch_payment(
        contract,
        batch_id,
        allocation is not None and allocation.funded,
        count,
        amount_pence if payable_pence is None else payable_pence,
        claimed_by_payer,
    )
    payment = decision.state
    assert payment is not None, "a verified batch is always paid or waits for funding"
    if payment.payment_id is None:
        await db.set_batch_status(
            connection, contract.contract_id, batch_id, payment.status, payment.amount_pence
        )
    else:
        await db.request_batch_payment(
            connection, contract.contract_id, batch_id, payment.amount_pence, payment.payment_id
        )
    await _publish_events(context, decision.events)


# --- Allocations and the ledger's answers -----------------------------------------------------


async def record_allocation_approved(
    settings: OutcomesSettings, context: HandlerContext, event: AllocationApproved
) -> None:
    """Remember an allocation's type, recipient and value, to check contracts against."""
    await db.record_allocation_approved(
        context.connection,
        event.place_id,
        event.allocation_id,
        event.allocation_type,
        event.recipient_id,
        event.value_pence,
    )


async def record_allocation_funded(
    settings: OutcomesSettings, context: HandlerContext, event: AllocationFunded
) -> None:
    """The ledger reserved the allocation: verified batches waiting for it are paid now."""
    connection = context.connection
    await db.record_allocation_funded(connection, event.place_id, event.allocation_id)
    for contract_id in await db.contracts_on_allocation(
        connection, event.place_id, event.allocation_id
    ):
        contract = await db.lock_contract(connection, contract_id)
        assert contract is not None, "the contract was just listed"
        for batch_id in await db.batches_awaiting_funding(connection, contract_id):
            await _pay_batch(context, contract, batch_id)


async def record_payment(
    settings: OutcomesSettings, context: HandlerContext, result: PaymentMade
) -> None:
    """The ledger paid a batch: mark it paid and send the provider its remittance advice."""
    if result.payment_kind != OUTCOME_PAYMENT or result.contract_id is None:
        return  # a grant instalment, not ours
    batch = await db.batch_by_payment(context.connection, result.payment_id)
    if batch is None:
        log.warning("payment %s names no batch of ours", result.payment_id)
        return
    contract_id, batch_id = batch["contract_id"], batch["batch_id"]
    lines = await db.remittance_lines(context.connection, contract_id, batch_id)
    amount_pence = await db.mark_batch_paid(
        context.connection, contract_id, batch_id, result.transfer_id
    )
    if amount_pence is None:
        log.warning("payment %s names no batch waiting for payment", result.payment_id)
        return
    await context.outbox.add(
        RemittanceAdvised(
            place_id=result.place_id,
            contract_id=contract_id,
            batch_id=batch_id,
            payment_id=result.payment_id,
            provider_id=result.provider_id,
            amount_pence=amount_pence,
            lines=tuple(RemittanceLine(**dict(line)) for line in lines),
            transfer_id=result.transfer_id,
            verification_reduction_pence=sum(line["amount_pence"] for line in lines) - amount_pence,
            payer_shares=result.payer_shares,
        )
    )
    # Participants of this batch are now paid: the funnel's last step moved.
    await _funnel_moved(context, result.place_id, contract_id)


async def record_payment_rejection(
    settings: OutcomesSettings, context: HandlerContext, result: PaymentRejected
) -> None:
    """The ledger refused to pay a batch; its reason is kept. Grant payments match no batch."""
    marked = await db.mark_payment_rejected(context.connection, result.payment_id, result.reason)
    if marked is None:
        return
    contract_id, batch_id = marked
    await context.outbox.add(
        OutcomePaymentRejected(
            place_id=result.place_id,
            contract_id=contract_id,
            batch_id=batch_id,
            payment_id=result.payment_id,
            reason=result.reason,
        )
    )


# --- Clawback ---------------------------------------------------------------------------------


async def claw_back(
    settings: OutcomesSettings, context: HandlerContext, command: ClawBackClaim
) -> None:
    """A paid claim was found invalid: ask the ledger to recover what it was paid."""
    connection = context.connection
    contract = await db.lock_contract(connection, command.contract_id)
    raised_before = await db.clawback_exists(connection, command.contract_id, command.clawback_id)
    place_id = contract.place_id if contract is not None else command.place_id
    row = await db.claim(connection, place_id, command.participant_hash, command.metric_id)
    claim = _claim_record(row) if row is not None else None
    decision = domain.decide_clawback(contract, raised_before, claim, command)
    if (clawback := decision.state) is not None:
        await db.insert_clawback(
            connection,
            clawback.recovery_id,
            clawback.clawback_id,
            clawback.contract_id,
            clawback.place_id,
            clawback.participant_hash,
            clawback.metric_id,
            clawback.payment_id,
            clawback.amount_pence,
            clawback.reason,
            clawback.raised_by,
        )
        await db.set_claim_status(
            connection,
            clawback.place_id,
            clawback.participant_hash,
            clawback.metric_id,
            "clawback_requested",
        )
    await _publish(context, command, decision)


def _claim_record(row: Any) -> domain.ClaimRecord:
    return domain.ClaimRecord(
        contract_id=row["contract_id"],
        status=row["status"],
        payment_id=row["payment_id"],
        price_pence=row["price_pence"],
        claim_period_id=row["claim_period_id"],
    )


async def record_recovery(
    settings: OutcomesSettings, context: HandlerContext, result: RecoveryRecorded
) -> None:
    """The ledger recovered a clawback: the claim is clawed back and the statement shows it."""
    settled = await db.settle_clawback(context.connection, result.recovery_id, "recovered", None)
    if settled is None:
        return  # not a recovery of ours, or already settled
    await db.set_claim_status(
        context.connection,
        settled["place_id"],
        settled["participant_hash"],
        settled["metric_id"],
        domain.claim_status_after_recovery(recovered=True),
    )
    await db.add_committed(
        context.connection, settled["contract_id"], {settled["metric_id"]: -settled["amount_pence"]}
    )
    await db.add_recovered(context.connection, settled["contract_id"], result.amount_pence)
    await context.outbox.add(
        ClawbackSettled(
            place_id=result.place_id,
            contract_id=settled["contract_id"],
            clawback_id=settled["clawback_id"],
            recovery_id=result.recovery_id,
            recovered=True,
            amount_pence=result.amount_pence,
        )
    )


async def record_request_rejection(
    settings: OutcomesSettings, context: HandlerContext, result: CommandRefused
) -> None:
    """The ledger refused a recovery: the claim counts as paid again, with the ledger's reason."""
    if result.decided_by != "ledger" or result.command_type != RecoveryRaised.event_type:
        return
    settled = await db.settle_clawback(
        context.connection, result.subject_id, "refused", result.reason
    )
    if settled is None:
        return
    await db.set_claim_status(
        context.connection,
        settled["place_id"],
        settled["participant_hash"],
        settled["metric_id"],
        domain.claim_status_after_recovery(recovered=False),
    )
    await context.outbox.add(
        ClawbackSettled(
            place_id=result.place_id,
            contract_id=settled["contract_id"],
            clawback_id=settled["clawback_id"],
            recovery_id=result.subject_id,
            recovered=False,
            amount_pence=0,
            reason=result.reason,
        )
    )


# --- Referrals, engagements and the gaming monitors -------------------------------------------


async def record_referrals(
    settings: OutcomesSettings, context: HandlerContext, command: RecordReferrals
) -> None:
    """Record referrals (a participant is referred once per contract), then run the monitors."""
    contract = await db.lock_contract(context.connection, command.contract_id)
    decision = domain.decide_provider_holds(contract, command)
    if decision.state is None:
        await _publish(context, command, decision)
        return
    recorded = await db.insert_referrals(
        context.connection,
        command.contract_id,
        [(r.participant_hash, r.difficulty_segment, r.referred_on) for r in command.referrals],
    )
    await context.outbox.add(
        ReferralsRecorded(
            place_id=command.place_id,
            contract_id=command.contract_id,
            provider_id=command.provider_id,
            recorded_count=recorded,
            repeated_count=len(command.referrals) - recorded,
        )
    )
    await _run_monitors(settings, context, decision.state)


async def record_engagements(
    settings: OutcomesSettings, context: HandlerContext, command: RecordEngagements
) -> None:
    """Record engagements of referred participants, then run the monitors."""
    contract = await db.lock_contract(context.connection, command.contract_id)
    decision = domain.decide_provider_holds(contract, command)
    if decision.state is None:
        await _publish(context, command, decision)
        return
    recorded = await db.insert_engagements(
        context.connection,
        command.contract_id,
        [(e.participant_hash, e.engaged_on) for e in command.engagements],
    )
    await context.outbox.add(
        EngagementsRecorded(
            place_id=command.place_id,
            contract_id=command.contract_id,
            provider_id=command.provider_id,
            recorded_count=recorded,
            not_referred_count=len(command.engagements) - recorded,
        )
    )
    await _run_monitors(settings, context, decision.state)


@dataclass
class _ContractMoved:
    """What a contract's monitors need once a fetch's handlers are done: the last handler's
    context (its outbox carries that message as the cause), and, if a handler ran the
    monitors, the settings and the contract as that handler stored it (else only the funnel
    moved: a payment recorded)."""

    context: HandlerContext
    place_id: str
    settings: OutcomesSettings | None = None
    contract: domain.Contract | None = None


@dataclass
class MonitorsOnce:
    """The batch path's funnel and monitors, run once per contract per fetch after its handlers
    rather than after every message: the funnel aggregates every claim of the contract, so one
    per message made a fetch cost the square of a contract's claims (bench/NOTES.md, issue 24).
    The one-message path runs them after every message, as before."""

    moved: dict[str, _ContractMoved] = field(default_factory=dict)

    def funnel_moved(self, context: HandlerContext, place_id: str, contract_id: str) -> None:
        moved = self.moved.pop(contract_id, None) or _ContractMoved(context, place_id)
        moved.context = context
        self.moved[contract_id] = moved  # re-inserted: in the order of last change

    def monitors_due(
        self, settings: OutcomesSettings, context: HandlerContext, contract: domain.Contract
    ) -> None:
        self.moved.pop(contract.contract_id, None)
        self.moved[contract.contract_id] = _ContractMoved(
            context, contract.place_id, settings, contract
        )

    async def run(self) -> None:
        moved, self.moved = self.moved, {}
        for contract_id, change in moved.items():
            if change.settings is not None and change.contract is not None:
                await _run_monitors_now(change.settings, change.context, change.contract)
            else:
                await _publish_funnel(change.context, change.place_id, contract_id)


_MONITORS_ONCE: contextvars.ContextVar[MonitorsOnce | None] = contextvars.ContextVar(
    "outcomes_monitors_once", default=None
)


@contextlib.contextmanager
def monitors_once_per_fetch() -> Iterator[MonitorsOnce]:
    """Inside the block, handlers note the contracts whose funnel and monitors are due; the
    caller runs them once (`MonitorsOnce.run`) before the fetch's outbox rows are written."""
    monitors = MonitorsOnce()
    token = _MONITORS_ONCE.set(monitors)
    try:
        yield monitors
    finally:
        _MONITORS_ONCE.reset(token)


async def _funnel_moved(context: HandlerContext, place_id: str, contract_id: str) -> None:
    """Publish the contract's funnel now, or once the fetch's handlers are done."""
    once = _MONITORS_ONCE.get()
    if once is not None:
        once.funnel_moved(context, place_id, contract_id)
        return
    await _publish_funnel(context, place_id, contract_id)


async def _run_monitors(
    settings: OutcomesSettings, context: HandlerContext, contract: domain.Contract
) -> None:
    """Run the monitors now, or once the fetch's handlers are done (`MonitorsOnce`)."""
    once = _MONITORS_ONCE.get()
    if once is not None:
        once.monitors_due(settings, context, contract)
        return
    await _run_monitors_now(settings, context, contract)


async def _run_monitors_now(
    settings: OutcomesSettings, context: HandlerContext, contract: domain.Contract
) -> None:
    """Raise each new flag once: creaming, parking, caps, outcomes clustered at deadlines.
    `contract` is locked by the caller and as stored now."""
    connection = context.connection
    contract_id = contract.contract_id
    thresholds = settings.gaming_thresholds()
    funnels = await _publish_funnel(context, contract.place_id, contract_id)
    flags = domain.funnel_flags(funnels, contract.difficulty_segments, thresholds)
    flags += domain.cap_flags(contract, thresholds)
    if contract.claim_periods:
        counts = await db.period_achievement_counts(
            connection, contract_id, thresholds.deadline_window_days
        )
        flags += domain.deadline_flags(contract, counts, thresholds)
    for flag in flags:
        if await db.insert_flag(connection, contract_id, flag):
            await context.outbox.add(announcements.gaming_flag_raised(contract, flag))


async def _publish_funnel(
    context: HandlerContext, place_id: str, contract_id: str
) -> list[domain.SegmentFunnel]:
    """Publish the contract's funnel by segment as it stands now, and return it."""
    funnels = await db.funnel(context.connection, contract_id)
    await context.outbox.add(announcements.funnel_measured(place_id, contract_id, funnels))
    return funnels


# --- Open book and investor flows -------------------------------------------------------------


async def submit_open_book(
    settings: OutcomesSettings, context: HandlerContext, command: SubmitOpenBook
) -> None:
    """Record a provider's open-book return beside the outcome payments of its period."""
    connection = context.connection
    contract = await db.lock_contract(connection, command.contract_id)
    submitted_before = await db.open_book_exists(connection, command.contract_id, command.period_id)
    paid_pence = 0
    if contract is not None:
        period_id = domain.open_book_period(contract, command.period_id)
        paid_pence = await db.paid_in_period(connection, contract.contract_id, period_id)
    decision = domain.decide_open_book(contract, submitted_before, paid_pence, command)
    if decision.state is not None:
        await db.insert_open_book(
            connection,
            command.contract_id,
            command.period_id,
            command.cost_pence,
            command.surplus_or_loss_pence,
            command.social_value_cost_pence,
            _json([k.model_dump() for k in command.kpi_results]),
            paid_pence,
        )
    await _publish(context, command, decision)


async def record_investor_flow(
    settings: OutcomesSettings, context: HandlerContext, command: RecordInvestorFlow
) -> None:
    """Record a social impact bond's investor flow; it never touches outcome payments."""
    connection = context.connection
    social_impact_bond = await db.is_social_impact_bond(connection, command.contract_id)
    recorded_before = await db.investor_flow_exists(
        connection, command.contract_id, command.flow_id
    )
    decision = domain.decide_investor_flow(social_impact_bond, recorded_before, command)
    if decision.state is not None:
        await db.insert_investor_flow(
            connection,
            command.contract_id,
            command.flow_id,
            command.investor_id,
            command.flow_kind,
            command.amount_pence,
            command.occurred_on,
        )
    await _publish(context, command, decision)


# --- Helpers ----------------------------------------------------------------------------------


def _json(value: object) -> str:
    return json.dumps(value, default=str)


def _new_contract(command: RegisterOutcomesContract) -> db.NewContract:
    definitions = {metric.metric_id: metric.model_dump() for metric in command.metrics}
    metrics = [
        db.NewMetric(
            p.metric_id, p.price_pence, p.cap_pence, p.payer_id, definitions.get(p.metric_id)
        )
        for p in command.prices
    ]
    contract = domain.Contract(
        contract_id=command.contract_id,
        place_id=command.place_id,
        allocation_id=command.allocation_id,
        provider_id=command.provider_id,
        cap_pence=command.cap_pence,
        metrics={},
        payer_caps_pence={payer.payer_id: payer.cap_pence for payer in command.payers},
        claim_periods=tuple(domain.ClaimPeriod(**p.model_dump()) for p in command.claim_periods),
        start_date=command.start_date,
        end_date=command.end_date,
        difficulty_segments=command.difficulty_segments,
        social_value_kpi_ids=tuple(kpi.kpi_id for kpi in command.social_value_kpis),
    )
    return db.NewContract(
        contract, metrics, command.social_impact_bond, command.model_dump(mode="json")
    )


HANDLERS: dict[type[Event], OutcomesHandler] = {
    RegisterOutcomesContract: register_contract,
    AmendMetric: amend_metric,
    SubmitEvidence: submit_evidence,
    RecordVerificationDecision: record_verification_decision,
    ClawBackClaim: claw_back,
    RecordReferrals: record_referrals,
    RecordEngagements: record_engagements,
    SubmitOpenBook: submit_open_book,
    RecordInvestorFlow: record_investor_flow,
    AllocationApproved: record_allocation_approved,
    AllocationFunded: record_allocation_funded,
    PaymentMade: record_payment,
    PaymentRejected: record_payment_rejection,
    RecoveryRecorded: record_recovery,
    CommandRefused: record_request_rejection,
}
"""The registry: each message type the service handles, with its handler."""
