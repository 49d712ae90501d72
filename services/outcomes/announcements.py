"""The outcomes service's outbound events, assembled from what was decided and stored.

Pure functions, no I/O: a handler loads, asks `domain` to decide, saves, and hands these events
to the outbox. Long lists (a chunk's claim results, a sample) are cut into parts of a named
size, so that no event outgrows what the broker and the gateway accept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contracts.decisions import CommandRefused, RuleBroken
from contracts.outcomes import (
    ClaimRejection,
    ClaimResult,
    ClaimResultsRecorded,
    ContractEvent,
    EvidenceSampled,
    EvidenceSubmitted,
    FunnelMeasured,
    GamingFlagRaised,
    RecordVerificationDecision,
    SampledClaim,
    SegmentFunnelCounts,
    SubmitEvidence,
)
from contracts.trusted import trusted
from services.outcomes import domain


def refused(command: ContractEvent, refusal: RuleBroken) -> CommandRefused:
    """The refusal of a command, in the one refusal event."""
    return CommandRefused(
        place_id=command.place_id,
        decided_by="outcomes",
        contract_id=command.contract_id,
        command_type=command.event_type,
        subject_id=domain.subject_of(command),
        rule=refusal.rule,
        reason=refusal.reason,
        figures=dict(refusal.figures),
    )


def evidence_submitted(
    contract: domain.Contract,
    command: SubmitEvidence,
    assessment: domain.Assessment,
    rejections_max: int,
) -> EvidenceSubmitted:
    """A chunk's counts and money, with its first `rejections_max` rejections."""
    return EvidenceSubmitted(
        place_id=contract.place_id,
        contract_id=contract.contract_id,
        batch_id=command.batch_id,
        provider_id=command.provider_id,
        claim_count=len(command.claims),
        accepted_count=len(assessment.accepted),
        rejected_count=len(assessment.rejected),
        chunk_index=command.chunk_index,
        accepted_pence=assessment.amount_pence,
        rejections=tuple(
            ClaimRejection(
                row_number=r.claim.row_number,
                participant_hash=r.claim.participant_hash,
                metric_id=r.claim.metric_id,
                reason=r.reason,
            )
            for r in assessment.rejected[:rejections_max]
        ),
    )


def chunk_results(
    contract: domain.Contract,
    command: SubmitEvidence,
    assessment: domain.Assessment,
    part_size: int,
) -> list[ClaimResultsRecorded]:
    """Every claim of the chunk, accepted (with its price) or rejected (with why), in the
    order submitted and in parts: the provider reads each claim's result, however many.
    The handler publishes the same parts as `chunk_result_payloads` (faster); this, the
    models, is what tests hold those to."""
    position = {id(claim): index for index, claim in enumerate(command.claims)}
    results = [
        (position[id(priced.claim)], claim_result(priced.claim, "accepted", priced=priced))
        for priced in assessment.accepted
    ] + [
        (position[id(rejected.claim)], claim_result(rejected.claim, "rejected", rejected))
        for rejected in assessment.rejected
    ]
    results.sort(key=lambda pair: pair[0])
    return [
        ClaimResultsRecorded(
            place_id=contract.place_id,
            contract_id=contract.contract_id,
            batch_id=command.batch_id,
            chunk_index=command.chunk_index,
            first_position=start,
            results=tuple(result for _, result in results[start : start + part_size]),
        )
        for start in range(0, len(results), part_size)
    ]


def chunk_result_payloads(
    contract: domain.Contract,
    command: SubmitEvidence,
    assessment: domain.Assessment,
    part_size: int,
) -> list[dict[str, Any]]:
    """`chunk_results` as JSON-ready payloads, for `Outbox.add_payload`: the same parts and
    bytes (tests/unit/outcomes compares them), built in one pass over the chunk with no model
    per claim. A million-row file makes a million results; building, dumping and encoding a
    model for each was a third of the file's time."""
    results = _result_values_in_submitted_order(command.claims, assessment)
    return [
        {
            "place_id": contract.place_id,
            "contract_id": contract.contract_id,
            "batch_id": command.batch_id,
            "chunk_index": command.chunk_index,
            "first_position": start,
            "results": results[start : start + part_size],
        }
        for start in range(0, len(results), part_size)
    ]


def _result_values_in_submitted_order(
    claims: Sequence[domain.ClaimLike], assessment: domain.Assessment
) -> list[dict[str, Any]]:
    """Each claim's result as ClaimResult's fields in its order. `domain.assess` keeps each of
    its two lists in the order submitted and puts every claim in one, so they merge by
    following the claims, with no sort."""
    accepted, rejected = assessment.accepted, assessment.rejected
    next_accepted = next_rejected = 0
    results: list[dict[str, Any]] = []
    for claim in claims:
        if next_accepted < len(accepted) and accepted[next_accepted].claim is claim:
            results.append(_accepted_values(accepted[next_accepted]))
            next_accepted += 1
        elif next_rejected < len(rejected) and rejected[next_rejected].claim is claim:
            results.append(_rejected_values(rejected[next_rejected]))
            next_rejected += 1
    assert (next_accepted, next_rejected) == (len(accepted), len(rejected)), (
        "every assessed claim is one of the chunk's, in the order submitted"
    )
    return results


def _accepted_values(priced: domain.PricedClaim) -> dict[str, Any]:
    claim = priced.claim
    note = domain.resubmission_note(priced) if priced.resubmits is not None else None
    return {
        "participant_hash": claim.participant_hash,
        "metric_id": claim.metric_id,
        "status": "accepted",
        "row_number": claim.row_number,
        "achieved_on": claim.achieved_on,
        "reason": note,
        "rule": domain.RESUBMITTED if note else None,
        "amount_pence": priced.price_pence,
    }


def _rejected_values(rejected: domain.RejectedClaim) -> dict[str, Any]:
    claim = rejected.claim
    return {
        "participant_hash": claim.participant_hash,
        "metric_id": claim.metric_id,
        "status": "rejected",
        "row_number": claim.row_number,
        "achieved_on": claim.achieved_on,
        "reason": rejected.reason,
        "rule": rejected.rule,
        "amount_pence": None,
    }


def claim_result(
    claim: domain.ClaimLike,
    status: str,
    rejected: domain.RejectedClaim | None = None,
    priced: domain.PricedClaim | None = None,
) -> ClaimResult:
    """One claim's result, built without validating again: every value comes from the validated
    command or the domain's own rules and figures, and validating a model per claim was a
    fifth of a million-row file's time (tests/unit/outcomes compares it with the validated)."""
    note = domain.resubmission_note(priced) if priced else None
    return trusted(
        ClaimResult,
        {
            "participant_hash": claim.participant_hash,
            "metric_id": claim.metric_id,
            "status": status,
            "row_number": claim.row_number,
            "achieved_on": claim.achieved_on,
            "reason": rejected.reason if rejected else note,
            "rule": rejected.rule if rejected else (domain.RESUBMITTED if note else None),
            "amount_pence": priced.price_pence if priced else None,
        },
    )


def evidence_sampled(
    contract: domain.Contract,
    batch_id: str,
    draw: Mapping[str, Any],
    drawn: Sequence[Mapping[str, Any]],
    part_size: int,
) -> list[EvidenceSampled]:
    """The drawn sample in parts; `draw` holds sample_seed, sample_share, sample_size and
    accepted_count, the same in every part. The handler publishes the same parts one at a
    time as `evidence_sampled_part` payloads; this, the models, is what tests hold those to."""
    return [
        EvidenceSampled(
            place_id=contract.place_id,
            contract_id=contract.contract_id,
            batch_id=batch_id,
            part_index=part_index,
            claims=tuple(
                SampledClaim(
                    participant_hash=row["participant_hash"],
                    metric_id=row["metric_id"],
                    evidence_reference=row["evidence_reference"],
                    row_number=row["row_number"],
                )
                for row in drawn[start : start + part_size]
            ),
            **draw,
        )
        for part_index, start in enumerate(range(0, len(drawn), part_size))
    ]


def evidence_sampled_part(
    contract: domain.Contract,
    batch_id: str,
    draw: Mapping[str, Any],
    part_index: int,
    drawn_part: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One part of `evidence_sampled` as its JSON-ready payload, for `Outbox.add_payload`: the
    same bytes (tests/unit/outcomes compares them), with no model per sampled claim and
    nothing kept once queued, so the handler can announce a large sample a part at a time
    (a million-row file samples 48,867 claims)."""
    return {
        "place_id": contract.place_id,
        "contract_id": contract.contract_id,
        "batch_id": batch_id,
        "sample_seed": draw["sample_seed"],
        "sample_share": draw["sample_share"],
        "sample_size": draw["sample_size"],
        "accepted_count": draw["accepted_count"],
        "part_index": part_index,
        "claims": [
            {
                "participant_hash": row["participant_hash"],
                "metric_id": row["metric_id"],
                "evidence_reference": row["evidence_reference"],
                "row_number": row["row_number"],
            }
            for row in drawn_part
        ],
    }


def verification_results(
    contract: domain.Contract, command: RecordVerificationDecision, part_size: int
) -> list[ClaimResultsRecorded]:
    """Each decided claim as verified, or failed verification with the verifier's reason."""
    results = [
        ClaimResult(
            participant_hash=decision.participant_hash,
            metric_id=decision.metric_id,
            status="verified" if decision.passed else "failed_verification",
            reason=decision.reason,
            rule=None if decision.passed else "verified_by_sample",
        )
        for decision in command.decisions
    ]
    return [
        ClaimResultsRecorded(
            place_id=contract.place_id,
            contract_id=contract.contract_id,
            batch_id=command.batch_id,
            results=tuple(results[start : start + part_size]),
        )
        for start in range(0, len(results), part_size)
    ]


def funnel_measured(
    place_id: str, contract_id: str, funnels: Sequence[domain.SegmentFunnel]
) -> FunnelMeasured:
    """The contract's funnel by difficulty segment as it stands now."""
    return FunnelMeasured(
        place_id=place_id,
        contract_id=contract_id,
        segments=tuple(
            SegmentFunnelCounts(
                segment=funnel.segment,
                referred=funnel.referred,
                engaged=funnel.engaged,
                achieved=funnel.achieved,
                paid=funnel.paid,
            )
            for funnel in funnels
        ),
    )


def gaming_flag_raised(contract: domain.Contract, flag: domain.Flag) -> GamingFlagRaised:
    return GamingFlagRaised(
        place_id=contract.place_id,
        contract_id=contract.contract_id,
        flag_kind=flag.kind,  # type: ignore[arg-type]
        subject=flag.subject,
        detail=flag.detail,
    )
