"""Unit tests of the allocations service's pure rules: status transitions and proposals."""

from datetime import date

import pytest

from services.allocations import domain
from services.allocations.errors import IllegalTransition


def a_proposal(**changes: object) -> domain.Proposal:
    fields: dict[str, object] = {
        "allocation_id": "A-1",
        "allocation_type": "grant",
        "recipient_id": "P-1",
        "purpose": "early help",
        "mission_id": "M-1",
        "start_date": date(2026, 4, 1),
        "end_date": date(2027, 3, 31),
        "value_pence": 25_000_00,
        "financial_year": "2026-27",
        "proposed_by": "officer-1",
    }
    fields.update(changes)
    return domain.Proposal(**fields)  # type: ignore[arg-type]


def test_approving_a_proposed_allocation_makes_it_approved() -> None:
    assert domain.decide(domain.PROPOSED, "approved") == domain.APPROVED


def test_rejecting_a_proposed_allocation_makes_it_rejected() -> None:
    assert domain.decide(domain.PROPOSED, "rejected") == domain.REJECTED


@pytest.mark.parametrize(
    "status", [domain.APPROVED, domain.REJECTED, domain.FUNDED, domain.UNFUNDED]
)
def test_a_decision_on_an_allocation_no_longer_proposed_is_refused(status: str) -> None:
    with pytest.raises(IllegalTransition, match=f"that is {status} cannot become approved"):
        domain.decide(status, "approved")


def test_a_reservation_funds_an_approved_allocation() -> None:
    assert domain.fund(domain.APPROVED) == domain.FUNDED


def test_a_refused_reservation_leaves_an_approved_allocation_unfunded() -> None:
    assert domain.leave_unfunded(domain.APPROVED) == domain.UNFUNDED


@pytest.mark.parametrize("status", [domain.PROPOSED, domain.REJECTED, domain.FUNDED])
def test_only_an_approved_allocation_can_be_funded(status: str) -> None:
    with pytest.raises(IllegalTransition):
        domain.fund(status)


def test_a_funded_allocation_cannot_become_unfunded() -> None:
    with pytest.raises(IllegalTransition, match="funded cannot become unfunded"):
        domain.leave_unfunded(domain.FUNDED)


def test_an_identical_proposal_differs_in_no_field() -> None:
    assert domain.differing_fields(a_proposal(), a_proposal()) == ()


def test_a_proposal_reusing_an_id_names_the_fields_it_changes() -> None:
    changed = a_proposal(value_pence=1, purpose="something else")
    assert domain.differing_fields(a_proposal(), changed) == ("purpose", "value_pence")


def test_a_rejection_without_a_reason_is_published_with_who_rejected_it() -> None:
    assert domain.rejection_reason("", "chair") == "rejected by chair without a stated reason"


def test_a_rejection_keeps_the_reason_the_board_gave() -> None:
    assert domain.rejection_reason("duplicates A-2", "chair") == "duplicates A-2"
