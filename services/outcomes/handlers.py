"""The outcomes service's message handlers: contracts and evidence in, payment requests out, and
the ledger's answers recorded against each evidence batch.

Every handler runs inside the runtime's transaction, together with the inbox row, so a message
takes effect at most once. The registry `HANDLERS` at the bottom maps event types to handlers.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

from contracts import (
    Event,
    EvidenceClaim,
    EvidenceRejected,
    EvidenceSubmitted,
    EvidenceVerified,
    OutcomesContractRegistered,
    PaymentMade,
    PaymentRejected,
    PaymentRequested,
    RegisterOutcomesContract,
    SubmitEvidence,
)
from services.outcomes import db, domain
from services.runtime.consumer import Handler, HandlerContext

log = logging.getLogger(__name__)

OUTCOME_PAYMENT: Final[Literal["outcome_payment"]] = "outcome_payment"


async def register_contract(context: HandlerContext, command: RegisterOutcomesContract) -> None:
    """Store a new contract with its prices; a repeated contract id is never stored twice."""
    if await db.contract_exists(context.connection, command.contract_id):
        # No rejection event exists for this yet, so the repeat is skipped with a warning.
        log.warning(
            "contract %s is already registered; message %s ignored",
            command.contract_id,
            context.envelope.event_id,
        )
        return
    await db.insert_contract(context.connection, _contract_of(command))
    await context.outbox.add(OutcomesContractRegistered(**command.model_dump()))


async def submit_evidence(context: HandlerContext, command: SubmitEvidence) -> None:
    """Assess a batch of claims and, for what is payable, ask the ledger to pay."""
    contract = await db.lock_contract(context.connection, command.contract_id)
    problems = domain.batch_problems(
        contract, command.contract_id, command.place_id, command.provider_id
    )
    if problems:
        await context.outbox.add(
            EvidenceRejected(
                place_id=command.place_id,
                contract_id=command.contract_id,
                batch_id=command.batch_id,
                reasons=problems,
            )
        )
        return
    assert contract is not None, "batch_problems reports a missing contract"
    if await db.batch_exists(context.connection, contract.contract_id, command.batch_id):
        log.warning(
            "batch %s of contract %s was already submitted; message %s ignored",
            command.batch_id,
            contract.contract_id,
            context.envelope.event_id,
        )
        return
    assessment = await _assess(context, contract, command)
    if assessment.amount_pence == 0:
        await db.insert_batch(
            context.connection,
            contract.contract_id,
            command.batch_id,
            "rejected",
            0,
            reason=domain.reasons_summary(assessment.rejected),
        )
        return
    await _request_payment(context, contract, command.batch_id, assessment)


async def record_payment(context: HandlerContext, result: PaymentMade) -> None:
    """The ledger paid an evidence batch: the batch is paid and the contract's total grows."""
    if result.payment_kind != OUTCOME_PAYMENT or result.contract_id is None:
        return  # a grant instalment, not ours
    assert result.claim_batch_id is not None, "an outcome payment names its batch"
    marked = await db.mark_batch_paid(
        context.connection, result.contract_id, result.claim_batch_id, result.amount_pence
    )
    if not marked:
        log.warning("payment %s names no batch waiting for payment", result.payment_id)


async def record_payment_rejection(context: HandlerContext, result: PaymentRejected) -> None:
    """The ledger refused to pay a batch; its reason is kept. Grant payments match no batch."""
    await db.mark_payment_rejected(context.connection, result.payment_id, result.reason)


async def _assess(
    context: HandlerContext, contract: domain.Contract, command: SubmitEvidence
) -> domain.Assessment:
    """Assess the claims, store the accepted ones and announce the counts."""
    claims = [_claim_of(claim) for claim in command.claims]
    # Another contract of the place may claim the same pair concurrently (its evidence is on
    # another partition); the claims table's key then fails one of them, which is retried and
    # finds the pair claimed.
    already_claimed = await db.claimed_pairs(context.connection, command.place_id, claims)
    assessment = domain.assess(contract, claims, already_claimed)
    await db.insert_claims(
        context.connection,
        command.place_id,
        contract.contract_id,
        command.batch_id,
        assessment.accepted,
    )
    for rejection in assessment.rejected:
        # EvidenceSubmitted carries counts only, so the reasons are logged for now.
        log.info("batch %s: claim rejected: %s", command.batch_id, rejection.reason)
    await context.outbox.add(
        EvidenceSubmitted(
            place_id=command.place_id,
            contract_id=contract.contract_id,
            batch_id=command.batch_id,
            provider_id=command.provider_id,
            claim_count=len(claims),
            accepted_count=len(assessment.accepted),
            rejected_count=len(assessment.rejected),
        )
    )
    return assessment


async def _request_payment(
    context: HandlerContext,
    contract: domain.Contract,
    batch_id: str,
    assessment: domain.Assessment,
) -> None:
    """Verify the batch and ask the ledger to pay it.

    The skeleton verifies every accepted claim at once; independent sampled verification
    (DOMAIN.md §4) comes later and will sit between submission and this request.
    """
    payment_id = f"{contract.contract_id}/{batch_id}"
    await db.insert_batch(
        context.connection,
        contract.contract_id,
        batch_id,
        "payment_requested",
        assessment.amount_pence,
        payment_id=payment_id,
    )
    await context.outbox.add(
        EvidenceVerified(
            place_id=contract.place_id,
            contract_id=contract.contract_id,
            batch_id=batch_id,
            verified_count=len(assessment.accepted),
            amount_pence=assessment.amount_pence,
        )
    )
    await context.outbox.add(
        PaymentRequested(
            place_id=contract.place_id,
            payment_id=payment_id,
            allocation_id=contract.allocation_id,
            provider_id=contract.provider_id,
            amount_pence=assessment.amount_pence,
            payment_kind=OUTCOME_PAYMENT,
            contract_id=contract.contract_id,
            claim_batch_id=batch_id,
            purpose=f"outcome payment for contract {contract.contract_id}, batch {batch_id}",
        )
    )


def _contract_of(command: RegisterOutcomesContract) -> domain.Contract:
    return domain.Contract(
        contract_id=command.contract_id,
        place_id=command.place_id,
        allocation_id=command.allocation_id,
        provider_id=command.provider_id,
        cap_pence=command.cap_pence,
        requested_pence=0,
        prices_pence={price.metric_id: price.price_pence for price in command.prices},
    )


def _claim_of(claim: EvidenceClaim) -> domain.Claim:
    return domain.Claim(
        participant_hash=claim.participant_hash,
        metric_id=claim.metric_id,
        achieved_on=claim.achieved_on,
        evidence_reference=claim.evidence_reference,
    )


HANDLERS: dict[type[Event], Handler] = {
    RegisterOutcomesContract: register_contract,
    SubmitEvidence: submit_evidence,
    PaymentMade: record_payment,
    PaymentRejected: record_payment_rejection,
}
