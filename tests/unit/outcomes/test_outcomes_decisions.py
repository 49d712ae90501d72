"""The outcomes domain's decisions, one per command: pure (no database), each returning the
state to save and the events, or a refusal naming the rule with a sentence and the figures."""

from __future__ import annotations

from datetime import date

from contracts.ledger import PaymentRequested, RecoveryRaised
from contracts.outcomes import (
    AmendMetric,
    ClawBackClaim,
    ClawbackRaised,
    EvidenceVerified,
    RecordInvestorFlow,
    RecordVerificationDecision,
    VerificationDecision,
)
from services.outcomes import domain
from tests.unit.outcomes.test_outcomes_domain import ALICE, a_claim, a_contract, assess


def clawback(clawback_id: str = "CB-1") -> ClawBackClaim:
    return ClawBackClaim(
        place_id="GM",
        contract_id="C-1",
        clawback_id=clawback_id,
        participant_hash=ALICE,
        metric_id="employed",
        reason="the job ended in a week",
        raised_by="auditor",
    )


def a_claim_record(status: str = "paid", **changes: object) -> domain.ClaimRecord:
    fields: dict = {
        "contract_id": "C-1",
        "status": status,
        "payment_id": "C-1/B-1",
        "price_pence": 100_00,
        "claim_period_id": "2026-Q1",
    }
    return domain.ClaimRecord(**(fields | changes))


def test_a_paid_claim_is_clawed_back_for_what_it_was_paid() -> None:
    decision = domain.decide_clawback(a_contract(), False, a_claim_record(), clawback())

    assert decision.state is not None
    assert (decision.state.payment_id, decision.state.amount_pence) == ("C-1/B-1", 100_00)
    recovery, raised = decision.events
    assert isinstance(recovery, RecoveryRaised) and recovery.amount_pence == 100_00
    assert isinstance(raised, ClawbackRaised) and raised.claim_period_id == "2026-Q1"


def test_only_a_paid_claim_can_be_clawed_back() -> None:
    decision = domain.decide_clawback(a_contract(), False, a_claim_record("pending"), clawback())

    assert decision.refusal is not None
    assert decision.refusal.rule == "clawback_of_a_paid_claim"
    assert decision.refusal.reason == (
        "the claim is pending, not paid: only a paid claim can be clawed back"
    )
    assert decision.state is None and decision.events == ()


def test_a_clawback_id_used_before_is_refused() -> None:
    decision = domain.decide_clawback(a_contract(), True, a_claim_record(), clawback())

    assert decision.refusal is not None and decision.refusal.rule == "clawback_id_unique"


def test_a_clawback_of_another_contracts_claim_is_refused() -> None:
    other = a_claim_record(contract_id="C-2")

    decision = domain.decide_clawback(a_contract(), False, other, clawback())

    assert decision.refusal is not None and decision.refusal.rule == "claim_exists"


def test_an_amendment_that_skips_a_version_is_refused_with_the_version() -> None:
    command = AmendMetric(
        place_id="GM",
        contract_id="C-1",
        metric_id="employed",
        version=3,
        effective_from=date(2026, 7, 1),
        price_pence=120_00,
        agreed_by=("council", "provider"),
        reason="inflation",
    )

    decision = domain.decide_amendment(a_contract(), command)

    assert decision.refusal is not None
    assert decision.refusal.rule == "metric_version_follows"
    assert decision.refusal.reason == "metric employed is at version 1; the next is 2, not 3"
    assert decision.refusal.figures == {"version": 3}


def test_an_amendment_of_an_unregistered_contract_is_refused() -> None:
    command = AmendMetric(
        place_id="GM",
        contract_id="C-9",
        metric_id="employed",
        version=2,
        effective_from=date(2026, 7, 1),
        price_pence=120_00,
        agreed_by=("council", "provider"),
        reason="inflation",
    )

    decision = domain.decide_amendment(None, command)

    assert decision.refusal is not None
    assert (decision.refusal.rule, decision.refusal.reason) == (
        "contract_registered",
        "contract C-9 is not registered",
    )


def verdicts(batch_id: str = "B-1") -> RecordVerificationDecision:
    return RecordVerificationDecision(
        place_id="GM",
        contract_id="C-1",
        batch_id=batch_id,
        verifier_id="V-1",
        decisions=(
            VerificationDecision(participant_hash=ALICE, metric_id="employed", passed=True),
        ),
    )


def test_decisions_on_a_batch_already_paid_are_refused() -> None:
    decision = domain.decide_verification_intake(a_contract(), "paid", [], verdicts())

    assert decision.refusal is not None
    assert decision.refusal.rule == "batch_awaiting_verification"
    assert decision.refusal.reason == "batch B-1 is paid, not awaiting verification"


def test_decisions_on_claims_outside_the_sample_are_refused_and_counted() -> None:
    strangers = [(ALICE, "employed")]

    decision = domain.decide_verification_intake(
        a_contract(), "awaiting_verification", strangers, verdicts()
    )

    assert decision.refusal is not None
    assert decision.refusal.rule == "decided_claims_sampled"
    assert decision.refusal.figures == {"not_sampled": 1}


def test_a_sample_all_passed_is_paid_and_one_with_failures_awaits_its_rule() -> None:
    assert domain.after_verification(domain.SampleState(2, 2, ())) == "pay"
    assert domain.after_verification(domain.SampleState(2, 1, ())) == "wait"
    assert domain.after_verification(domain.SampleState(2, 1, ("no payslip",))) == "hold"
    assert domain.after_verification(domain.SampleState(2, 2, ("no payslip",))) == "apply_rule"


def test_a_verified_batch_waits_while_its_allocation_is_unfunded() -> None:
    decision = domain.decide_batch_payment(a_contract(), "B-1", False, 2, 200_00, {None: 200_00})

    assert decision.state == domain.BatchPayment("awaiting_funding", 200_00, None)
    [verified] = decision.events
    assert isinstance(verified, EvidenceVerified) and verified.amount_pence == 200_00


def test_a_verified_batch_of_a_funded_allocation_is_paid_split_by_payer() -> None:
    decision = domain.decide_batch_payment(
        a_contract(), "B-1", True, 3, 300_00, {"council": 200_00, "national-fund": 100_00}
    )

    assert decision.state is not None and decision.state.status == "payment_requested"
    _, requested = decision.events
    assert isinstance(requested, PaymentRequested)
    assert [(s.payer_id, s.amount_pence) for s in requested.payer_shares] == [
        ("council", 200_00),
        ("national-fund", 100_00),
    ]


def test_an_investor_flow_of_a_contract_that_is_not_a_social_impact_bond_is_refused() -> None:
    command = RecordInvestorFlow(
        place_id="GM",
        contract_id="C-1",
        flow_id="F-1",
        investor_id="INV",
        flow_kind="investment",
        amount_pence=1_000_00,
        occurred_on=date(2026, 4, 1),
    )

    refused = domain.decide_investor_flow(False, False, command)
    repeated = domain.decide_investor_flow(True, True, command)

    assert refused.refusal is not None and refused.refusal.rule == "social_impact_bond"
    assert repeated.refusal is not None and repeated.refusal.rule == "flow_id_unique"


def test_a_refusal_names_the_most_specific_subject_of_its_command() -> None:
    assert domain.subject_of(clawback("CB-7")) == "CB-7"
    assert domain.subject_of(verdicts("B-9")) == "B-9"


# --- Resubmission of a claim that failed verification -----------------------------------------


def failed_earlier(evidence_reference: str = "evidence/1") -> domain.EarlierClaim:
    return domain.EarlierClaim("C-1", "B-1", None, "failed_verification", evidence_reference)


def test_a_claim_that_failed_verification_may_come_back_with_new_evidence() -> None:
    earlier = {(ALICE, "employed"): failed_earlier("evidence/old")}

    assessment = assess(a_contract(), [a_claim(ALICE)], earlier)

    [priced] = assessment.accepted
    assert priced.price_pence == 100_00
    assert domain.resubmitted(assessment) == [(ALICE, "employed")]
    assert domain.resubmission_note(priced) == (
        "resubmitted with new evidence after failing verification (contract C-1, batch B-1)"
    )


def test_a_claim_that_failed_verification_may_not_come_back_with_the_same_evidence() -> None:
    earlier = {(ALICE, "employed"): failed_earlier("evidence/1")}

    assessment = assess(a_contract(), [a_claim(ALICE)], earlier)

    assert assessment.accepted == ()
    [rejected] = assessment.rejected
    assert rejected.rule == domain.PAID_ONCE
    assert rejected.reason.endswith("with evidence evidence/1; a resubmission needs new evidence")


def test_a_pending_or_paid_claim_blocks_a_resubmission_whatever_its_evidence() -> None:
    for status in ("pending", "paid", "clawback_requested", "verification_rejected"):
        earlier = {(ALICE, "employed"): domain.EarlierClaim("C-1", "B-1", None, status, "old")}

        assessment = assess(a_contract(), [a_claim(ALICE)], earlier)

        assert assessment.accepted == (), status
        assert domain.resubmitted(assessment) == []


def test_a_resubmission_repeated_within_its_batch_is_paid_once() -> None:
    earlier = {(ALICE, "employed"): failed_earlier("evidence/old")}

    assessment = assess(a_contract(), [a_claim(ALICE), a_claim(ALICE)], earlier)

    assert len(assessment.accepted) == 1 and len(assessment.rejected) == 1


def test_a_completed_batch_is_rejected_without_claims_paid_unsampled_or_else_sampled() -> None:
    assert domain.on_completion(0, 0.05, 1) == ("reject", 0)
    assert domain.on_completion(10, 0.0, 1) == ("pay", 0)
    # 5% of 100 claims, rounded up, at least the minimum of one.
    assert domain.on_completion(100, 0.05, 1) == ("sample", 5)
    assert domain.on_completion(3, 0.05, 1) == ("sample", 1)


def test_a_chunk_is_taken_once_and_never_after_its_batch_is_complete() -> None:
    assert domain.chunk_is_new(None, False)
    assert domain.chunk_is_new("receiving", False)
    assert not domain.chunk_is_new("receiving", True)
    assert not domain.chunk_is_new("awaiting_verification", False)


def test_a_clawed_back_claim_counts_as_paid_again_when_the_ledger_refuses_the_recovery() -> None:
    assert domain.claim_status_after_recovery(recovered=True) == "clawed_back"
    assert domain.claim_status_after_recovery(recovered=False) == "paid"
