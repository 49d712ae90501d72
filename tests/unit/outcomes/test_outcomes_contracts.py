"""Unit tests of the outcomes contracts' own rules: consistent terms, chunks, verification
decisions, amendments by agreement and remittance lines that add up."""

import re
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.outcomes import (
    AmendMetric,
    ClaimPeriod,
    EvidenceClaim,
    MetricDefinition,
    MetricPrice,
    Payer,
    RegisterOutcomesContract,
    RemittanceAdvised,
    RemittanceLine,
    SubmitEvidence,
    VerificationDecision,
)

HASH = "a" * 64


def terms(**changes: Any) -> RegisterOutcomesContract:
    values: dict[str, Any] = {
        "place_id": "GM",
        "contract_id": "C-1",
        "allocation_id": "A-1",
        "provider_id": "P-1",
        "prices": (MetricPrice(metric_id="JOB", price_pence=100, payer_id="DWP"),),
        "payers": (Payer(payer_id="DWP", cap_pence=1_000),),
        "cap_pence": 10_000,
    }
    return RegisterOutcomesContract(**(values | changes))


def period(period_id: str, starts: date, ends: date) -> ClaimPeriod:
    return ClaimPeriod(claim_period_id=period_id, starts_on=starts, ends_on=ends)


def test_a_contract_with_consistent_terms_is_accepted() -> None:
    contract = terms(
        metrics=(MetricDefinition(metric_id="JOB", definition="a paid job of 16 hours a week"),),
        claim_periods=(
            period("Q1", date(2026, 4, 1), date(2026, 6, 30)),
            period("Q2", date(2026, 7, 1), date(2026, 9, 30)),
        ),
    )
    assert contract.prices[0].payer_id == "DWP"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"payers": (Payer(payer_id="DWP"), Payer(payer_id="DWP"))}, "payers list a value"),
        ({"payers": ()}, "prices name payers not listed in payers: DWP"),
        (
            {"metrics": (MetricDefinition(metric_id="HOUSED", definition="housed"),)},
            "metrics define HOUSED but prices do not price them",
        ),
        (
            {
                "claim_periods": (
                    period("Q1", date(2026, 4, 1), date(2026, 6, 30)),
                    period("Q2", date(2026, 6, 30), date(2026, 9, 30)),
                )
            },
            "claim periods Q1 and Q2 overlap",
        ),
        (
            {"start_date": date(2027, 1, 1), "end_date": date(2026, 1, 1)},
            "end_date (2026-01-01) must be after start_date (2027-01-01)",
        ),
    ],
)
def test_inconsistent_contract_terms_are_refused_naming_the_rule(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        terms(**changes)


def test_a_claim_period_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="ends_on .* must not be before starts_on"):
        period("Q1", date(2026, 6, 30), date(2026, 4, 1))


def test_a_chunk_index_must_be_below_the_chunk_count() -> None:
    claim = EvidenceClaim(
        participant_hash=HASH, metric_id="JOB", achieved_on=date(2026, 5, 1), evidence_reference="e"
    )
    fields: dict[str, Any] = {
        "place_id": "GM",
        "contract_id": "C-1",
        "batch_id": "B-1",
        "provider_id": "P-1",
        "claims": (claim,),
    }
    assert SubmitEvidence(**fields).chunk_count == 1
    assert SubmitEvidence(**fields, chunk_index=4, chunk_count=None).chunk_index == 4
    with pytest.raises(ValidationError, match=r"chunk_index \(2\) must be below chunk_count \(2\)"):
        SubmitEvidence(**fields, chunk_index=2, chunk_count=2)


def test_a_participant_is_a_keyed_hash_never_a_name() -> None:
    with pytest.raises(ValidationError, match="participant_hash"):
        EvidenceClaim(
            participant_hash="Ann Smith",
            metric_id="JOB",
            achieved_on=date(2026, 5, 1),
            evidence_reference="e",
        )


def test_a_failed_verification_decision_must_give_its_reason() -> None:
    with pytest.raises(ValidationError, match="a failed verification decision needs a reason"):
        VerificationDecision(participant_hash=HASH, metric_id="JOB", passed=False)


def test_a_metric_amendment_needs_the_agreement_of_at_least_two_parties() -> None:
    fields: dict[str, Any] = {
        "place_id": "GM",
        "contract_id": "C-1",
        "metric_id": "JOB",
        "version": 2,
        "effective_from": date(2026, 7, 1),
        "price_pence": 120,
        "reason": "redefined",
    }
    assert AmendMetric(**fields, agreed_by=("GMCA", "P-1")).version == 2
    with pytest.raises(ValidationError, match="agreed_by"):
        AmendMetric(**fields, agreed_by=("GMCA",))


def test_remittance_lines_must_add_up_to_the_amount() -> None:
    line = RemittanceLine(
        claim_period_id=None, metric_id="JOB", metric_version=1, outcome_count=2, amount_pence=200
    )
    with pytest.raises(ValidationError, match="remittance lines add up to 200 pence"):
        RemittanceAdvised(
            place_id="GM",
            contract_id="C-1",
            batch_id="B-1",
            payment_id="OP-1",
            provider_id="P-1",
            amount_pence=201,
            lines=(line,),
            transfer_id="T-1",
        )
