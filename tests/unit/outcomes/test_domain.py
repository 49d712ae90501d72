"""Unit tests of the outcomes service's pure rules: batch checks, pricing and the cap."""

from datetime import date

from services.outcomes import domain

ALICE = "a" * 64
BOB = "b" * 64
CAROL = "c" * 64


def a_contract(cap_pence: int = 1_000_00, requested_pence: int = 0) -> domain.Contract:
    return domain.Contract(
        contract_id="C-1",
        place_id="GM",
        allocation_id="A-1",
        provider_id="P-1",
        cap_pence=cap_pence,
        requested_pence=requested_pence,
        prices_pence={"employed": 100_00, "housed": 40_00},
    )


def a_claim(participant_hash: str, metric_id: str = "employed") -> domain.Claim:
    return domain.Claim(participant_hash, metric_id, date(2026, 5, 1), "evidence/1")


def test_every_claim_within_the_cap_is_paid_its_metrics_price() -> None:
    assessment = domain.assess(
        a_contract(), [a_claim(ALICE), a_claim(BOB, "housed")], already_claimed=set()
    )
    assert [priced.price_pence for priced in assessment.accepted] == [100_00, 40_00]
    assert assessment.rejected == ()
    assert assessment.amount_pence == 140_00


def test_a_cap_reached_mid_batch_pays_up_to_the_cap_and_rejects_the_rest_naming_it() -> None:
    contract = a_contract(cap_pence=400_00, requested_pence=250_00)
    claims = [a_claim(ALICE), a_claim(BOB), a_claim(CAROL)]
    assessment = domain.assess(contract, claims, already_claimed=set())
    assert [priced.price_pence for priced in assessment.accepted] == [100_00, 50_00]
    assert assessment.amount_pence == 150_00
    assert [rejection.claim for rejection in assessment.rejected] == [claims[2]]
    assert "reached its cap of £400.00" in assessment.rejected[0].reason


def test_a_contract_already_at_its_cap_pays_nothing() -> None:
    assessment = domain.assess(
        a_contract(cap_pence=100_00, requested_pence=100_00), [a_claim(ALICE)], set()
    )
    assert assessment.amount_pence == 0
    assert len(assessment.rejected) == 1


def test_a_participant_metric_repeated_within_one_batch_is_paid_once() -> None:
    assessment = domain.assess(a_contract(), [a_claim(ALICE), a_claim(ALICE)], set())
    assert len(assessment.accepted) == 1
    assert f"participant {ALICE} already has metric employed" in assessment.rejected[0].reason


def test_a_participant_metric_already_claimed_in_the_place_is_rejected() -> None:
    assessment = domain.assess(a_contract(), [a_claim(ALICE)], {(ALICE, "employed")})
    assert assessment.accepted == ()
    assert "claimed in GM" in assessment.rejected[0].reason


def test_the_same_participant_may_be_paid_for_a_different_metric() -> None:
    assessment = domain.assess(a_contract(), [a_claim(ALICE, "housed")], {(ALICE, "employed")})
    assert assessment.amount_pence == 40_00


def test_a_claim_for_a_metric_the_contract_does_not_price_is_rejected() -> None:
    assessment = domain.assess(a_contract(), [a_claim(ALICE, "sober")], set())
    assert assessment.accepted == ()
    assert assessment.rejected[0].reason == "metric sober has no price in contract C-1"


def test_rejected_claims_do_not_use_up_the_cap() -> None:
    contract = a_contract(cap_pence=100_00)
    assessment = domain.assess(contract, [a_claim(ALICE, "sober"), a_claim(BOB)], set())
    assert assessment.amount_pence == 100_00


def test_evidence_for_an_unregistered_contract_is_rejected_naming_it() -> None:
    problems = domain.batch_problems(None, "C-9", "GM", "P-1")
    assert problems == ("contract C-9 is not registered",)


def test_evidence_from_another_provider_or_place_is_rejected_with_both_reasons() -> None:
    problems = domain.batch_problems(a_contract(), "C-1", "LDS", "P-2")
    assert problems == (
        "contract C-1 belongs to GM, not LDS",
        "contract C-1 is held by P-1, not P-2",
    )


def test_evidence_from_the_contracts_provider_in_its_place_has_no_batch_problem() -> None:
    assert domain.batch_problems(a_contract(), "C-1", "GM", "P-1") == ()


def test_a_batch_with_nothing_accepted_is_summarised_with_each_distinct_reason() -> None:
    rejected = [
        domain.RejectedClaim(a_claim(ALICE), "b reason"),
        domain.RejectedClaim(a_claim(BOB), "a reason"),
        domain.RejectedClaim(a_claim(CAROL), "b reason"),
    ]
    assert domain.reasons_summary(rejected) == "no claim was accepted: a reason; b reason"
