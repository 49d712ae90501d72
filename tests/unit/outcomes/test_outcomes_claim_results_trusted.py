"""Outcomes builds each claim's result without validating it again (`announcements.
claim_result`, for million-row files): the model and its JSON, field order included, are what
validating the same values gives."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.outcomes import ClaimResult, EvidenceClaim
from services.outcomes import announcements, domain

FROM_A_FILE = EvidenceClaim(
    participant_hash="a" * 64,
    metric_id="JOB-START",
    achieved_on=date(2026, 9, 20),
    evidence_reference="evidence/1",
    row_number=7,
)
BY_API = EvidenceClaim(
    participant_hash="b" * 64,
    metric_id="JOB-START",
    achieved_on=date(2026, 9, 21),
    evidence_reference="evidence/2",
)
FAILED_BEFORE = domain.EarlierClaim("C-1", "B-1", 3, status=domain.FAILED_VERIFICATION)

CASES = {
    "accepted": (FROM_A_FILE, None, domain.PricedClaim(FROM_A_FILE, 400_00, 1, "P-1")),
    "accepted, no row": (BY_API, None, domain.PricedClaim(BY_API, 1, 2, None)),
    "resubmitted": (
        FROM_A_FILE,
        None,
        domain.PricedClaim(FROM_A_FILE, 400_00, 1, None, resubmits=FAILED_BEFORE),
    ),
    "rejected": (
        FROM_A_FILE,
        domain.RejectedClaim(
            FROM_A_FILE, "paid before in contract C-2", "participant_metric_paid_once"
        ),
        None,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_claim_result_is_what_validating_it_gives(case: str) -> None:
    claim, rejected, priced = CASES[case]
    status = "rejected" if rejected else "accepted"
    built = announcements.claim_result(claim, status, rejected, priced)
    validated = ClaimResult.model_validate(built.model_dump())
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    if case == "resubmitted":
        assert built.rule == domain.RESUBMITTED and "failing verification" in (built.reason or "")
