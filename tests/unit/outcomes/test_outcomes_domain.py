"""Unit tests of the outcomes service's pure rules: checks, metric versions, caps, sampling,
registration, amendment, open book and the gaming monitors."""

from datetime import date

import pytest

from services.outcomes import domain

ALICE = "a" * 64
BOB = "b" * 64
CAROL = "c" * 64
RECEIVED = date(2026, 12, 1)


def a_metric(
    metric_id: str,
    price_pence: int,
    *,
    cap_pence: int | None = None,
    payer_id: str | None = None,
    committed_pence: int = 0,
    versions: tuple[domain.MetricVersion, ...] = (),
) -> domain.Metric:
    return domain.Metric(
        metric_id,
        versions or (domain.MetricVersion(1, None, price_pence),),
        cap_pence,
        payer_id,
        committed_pence,
    )


def a_contract(
    cap_pence: int = 1_000_00, committed_pence: int = 0, **overrides: object
) -> domain.Contract:
    values: dict = {
        "contract_id": "C-1",
        "place_id": "GM",
        "allocation_id": "A-1",
        "provider_id": "P-1",
        "cap_pence": cap_pence,
        "metrics": {
            "employed": a_metric("employed", 100_00, committed_pence=committed_pence),
            "housed": a_metric("housed", 40_00),
        },
    }
    values.update(overrides)
    return domain.Contract(**values)


def a_claim(
    participant_hash: str,
    metric_id: str = "employed",
    achieved_on: date = date(2026, 5, 1),
    **fields: object,
) -> domain.Claim:
    return domain.Claim(participant_hash, metric_id, achieved_on, "evidence/1", **fields)  # type: ignore[arg-type]


def assess(contract: domain.Contract, claims: list[domain.Claim], earlier=None):
    return domain.assess(contract, claims, earlier or {}, batch_id="B-1", received_on=RECEIVED)


# --- Pricing and caps -------------------------------------------------------------------------


def test_every_claim_within_the_cap_is_paid_its_metrics_price() -> None:
    assessment = assess(a_contract(), [a_claim(ALICE), a_claim(BOB, "housed")])
    assert [priced.price_pence for priced in assessment.accepted] == [100_00, 40_00]
    assert assessment.rejected == ()
    assert assessment.amount_pence == 140_00


def test_a_contract_cap_reached_mid_batch_pays_up_to_the_cap_and_rejects_the_rest() -> None:
    contract = a_contract(cap_pence=400_00, committed_pence=250_00)
    claims = [a_claim(ALICE), a_claim(BOB), a_claim(CAROL)]
    assessment = assess(contract, claims)
    assert [priced.price_pence for priced in assessment.accepted] == [100_00, 50_00]
    assert [rejection.claim for rejection in assessment.rejected] == [claims[2]]
    assert assessment.rejected[0].reason == "contract C-1 has reached its cap of £400.00"


def test_a_stored_assessment_adds_its_commitments_to_the_contract_it_was_priced_against() -> None:
    contract = a_contract(cap_pence=400_00, committed_pence=250_00)
    assessment = assess(contract, [a_claim(ALICE), a_claim(BOB), a_claim(CAROL, "housed")])
    after = domain.with_commitments(contract, assessment.committed_by_metric())
    assert after.metrics["employed"].committed_pence == 400_00
    assert after.metrics["housed"].committed_pence == 0  # the cap was reached before it
    assert after.committed_pence == contract.committed_pence + assessment.amount_pence
    assert assess(after, [a_claim("dave")]).accepted == ()  # the next chunk meets the cap


def test_a_metric_cap_stops_that_metric_but_not_the_others() -> None:
    contract = a_contract(
        metrics={
            "employed": a_metric("employed", 100_00, cap_pence=150_00),
            "housed": a_metric("housed", 40_00),
        }
    )
    assessment = assess(
        contract, [a_claim(ALICE), a_claim(BOB), a_claim(CAROL), a_claim(CAROL, "housed")]
    )
    assert [p.price_pence for p in assessment.accepted] == [100_00, 50_00, 40_00]
    assert assessment.rejected[0].reason == (
        "metric employed has reached its cap of £150.00 in contract C-1"
    )


def test_a_payer_cap_counts_every_metric_that_payer_funds() -> None:
    contract = a_contract(
        metrics={
            "employed": a_metric("employed", 100_00, payer_id="DWP", committed_pence=60_00),
            "housed": a_metric("housed", 40_00, payer_id="DWP"),
        },
        payer_caps_pence={"DWP": 120_00},
    )
    assessment = assess(contract, [a_claim(ALICE, "housed"), a_claim(BOB)])
    assert [p.price_pence for p in assessment.accepted] == [40_00, 20_00]
    assessment = assess(contract, [a_claim(ALICE), a_claim(BOB), a_claim(CAROL)])
    assert (
        assessment.rejected[-1].reason == "payer DWP has reached its cap of £120.00 in contract C-1"
    )


def test_a_contract_already_at_its_cap_pays_nothing() -> None:
    assessment = assess(a_contract(cap_pence=100_00, committed_pence=100_00), [a_claim(ALICE)])
    assert assessment.amount_pence == 0
    assert len(assessment.rejected) == 1


def test_rejected_claims_do_not_use_up_the_cap() -> None:
    assessment = assess(a_contract(cap_pence=100_00), [a_claim(ALICE, "sober"), a_claim(BOB)])
    assert assessment.amount_pence == 100_00


def test_accepted_claims_are_totalled_per_metric_for_the_running_commitments() -> None:
    assessment = assess(a_contract(), [a_claim(ALICE), a_claim(BOB), a_claim(BOB, "housed")])
    assert assessment.committed_by_metric() == {"employed": 200_00, "housed": 40_00}


# --- Metric versions --------------------------------------------------------------------------


def test_a_claim_is_priced_by_the_metric_version_in_force_when_it_was_achieved() -> None:
    versions = (
        domain.MetricVersion(1, None, 100_00),
        domain.MetricVersion(2, date(2026, 6, 1), 120_00),
    )
    contract = a_contract(metrics={"employed": a_metric("employed", 0, versions=versions)})
    before = a_claim(ALICE, achieved_on=date(2026, 5, 31))
    after = a_claim(BOB, achieved_on=date(2026, 6, 1))
    assessment = assess(contract, [before, after])
    assert [(p.metric_version, p.price_pence) for p in assessment.accepted] == [
        (1, 100_00),
        (2, 120_00),
    ]


def test_an_amendment_must_be_the_next_version_and_take_effect_later() -> None:
    versions = (domain.MetricVersion(1, None, 100), domain.MetricVersion(2, date(2026, 6, 1), 120))
    contract = a_contract(metrics={"employed": a_metric("employed", 0, versions=versions)})
    assert domain.amendment_problems(contract, "employed", 3, date(2026, 7, 1)) == ()
    assert domain.amendment_problems(contract, "employed", 2, date(2026, 5, 1)) == (
        "metric employed is at version 2; the next is 3, not 2",
        "effective_from 2026-05-01 must be after version 2's 2026-06-01",
    )
    assert domain.amendment_problems(contract, "sober", 2, date(2026, 7, 1)) == (
        "metric sober is not part of contract C-1",
    )


# --- Automatic checks and duplicates ----------------------------------------------------------


def test_a_participant_metric_repeated_within_one_batch_is_paid_once_naming_the_first_row() -> None:
    assessment = assess(a_contract(), [a_claim(ALICE, row_number=3), a_claim(ALICE, row_number=9)])
    assert len(assessment.accepted) == 1
    assert assessment.rejected[0].reason == (
        f"participant {ALICE} already has metric employed claimed in GM "
        "(contract C-1, batch B-1, row 3)"
    )


def test_a_participant_metric_claimed_earlier_in_the_place_is_rejected_naming_that_claim() -> None:
    earlier = {(ALICE, "employed"): domain.EarlierClaim("C-OTHER", "B-7", None)}
    assessment = assess(a_contract(), [a_claim(ALICE)], earlier)
    assert assessment.accepted == ()
    assert assessment.rejected[0].reason.endswith("claimed in GM (contract C-OTHER, batch B-7)")


def test_the_same_participant_may_be_paid_for_a_different_metric() -> None:
    earlier = {(ALICE, "employed"): domain.EarlierClaim("C-1", "B-0", 1)}
    assert assess(a_contract(), [a_claim(ALICE, "housed")], earlier).amount_pence == 40_00


def test_a_claim_for_a_metric_the_contract_does_not_price_is_rejected() -> None:
    assessment = assess(a_contract(), [a_claim(ALICE, "sober")])
    assert assessment.rejected[0].reason == "metric sober has no price in contract C-1"


@pytest.mark.parametrize(
    ("claim", "contract_overrides", "reason"),
    [
        (
            a_claim(ALICE, achieved_on=date(2027, 1, 1)),
            {},
            "achieved_on 2027-01-01 is after the evidence was received (2026-12-01)",
        ),
        (
            a_claim(ALICE, referral_date=date(2026, 6, 1)),
            {},
            "referral_date 2026-06-01 is after achieved_on 2026-05-01",
        ),
        (
            a_claim(ALICE),
            {"start_date": date(2026, 6, 1), "end_date": date(2028, 3, 31)},
            "achieved_on 2026-05-01 is outside the contract's period 2026-06-01 to 2028-03-31",
        ),
        (
            a_claim(ALICE),
            {"claim_periods": (domain.ClaimPeriod("Q2", date(2026, 7, 1), date(2026, 9, 30)),)},
            "achieved_on 2026-05-01 falls in no claim period of contract C-1",
        ),
        (
            a_claim(ALICE),
            {
                "claim_periods": (
                    domain.ClaimPeriod(
                        "Q1", date(2026, 4, 1), date(2026, 6, 30), date(2026, 7, 31)
                    ),
                )
            },
            "claim period Q1 closed for claims on 2026-07-31",
        ),
    ],
)
def test_automatic_checks_reject_a_claim_with_the_rule_it_breaks(
    claim: domain.Claim, contract_overrides: dict, reason: str
) -> None:
    assessment = assess(a_contract(**contract_overrides), [claim])
    assert [rejection.reason for rejection in assessment.rejected] == [reason]


def test_an_accepted_claim_is_assigned_to_the_claim_period_it_was_achieved_in() -> None:
    periods = (
        domain.ClaimPeriod("Q1", date(2026, 4, 1), date(2026, 6, 30)),
        domain.ClaimPeriod("Q2", date(2026, 7, 1), date(2026, 9, 30)),
    )
    assessment = assess(
        a_contract(claim_periods=periods), [a_claim(ALICE, achieved_on=date(2026, 8, 1))]
    )
    assert assessment.accepted[0].claim_period_id == "Q2"


def test_evidence_for_an_unregistered_contract_is_rejected_naming_it() -> None:
    assert domain.batch_problems(None, "C-9", "GM", "P-1") == ("contract C-9 is not registered",)


def test_evidence_from_another_provider_or_place_is_rejected_with_both_reasons() -> None:
    assert domain.batch_problems(a_contract(), "C-1", "LDS", "P-2") == (
        "contract C-1 belongs to GM, not LDS",
        "contract C-1 is held by P-1, not P-2",
    )


def test_a_batch_with_nothing_accepted_is_summarised_with_each_distinct_reason() -> None:
    summary = domain.reasons_summary(["b reason", "a reason", "b reason"])
    assert summary == "no claim was accepted: a reason; b reason"


# --- Identifiers and sampling -----------------------------------------------------------------


def test_payment_ids_are_bounded_and_deterministic_for_the_longest_ids() -> None:
    long_contract, long_batch = "C" * 128, "B" * 128
    payment_id = domain.payment_id_for(long_contract, long_batch)
    assert len(payment_id) <= 128
    assert payment_id == domain.payment_id_for(long_contract, long_batch)
    assert payment_id != domain.payment_id_for(long_contract, long_batch[:-1])


@pytest.mark.parametrize(
    ("accepted", "share", "minimum", "expected"),
    [(1000, 0.05, 1, 50), (3, 0.05, 1, 1), (3, 0.0, 1, 0), (0, 0.5, 1, 0), (2, 0.5, 5, 2)],
)
def test_the_sample_is_the_share_rounded_up_with_a_minimum_never_more_than_there_are(
    accepted: int, share: float, minimum: int, expected: int
) -> None:
    assert domain.sample_size(accepted, share, minimum) == expected


def test_a_sample_passes_only_when_every_sampled_claim_passed() -> None:
    assert domain.SampleState(3, 2, ()).outcome == "undecided"
    assert domain.SampleState(3, 3, ()).outcome == "passed"
    assert domain.SampleState(3, 1, ("no payslip",)).outcome == "failed"


# --- Registration and open book ---------------------------------------------------------------


def registration(cap_pence: int = 1_000_00, kpis: int = 0) -> domain.RegistrationTerms:
    return domain.RegistrationTerms("C-1", "P-1", cap_pence, kpis)


def test_a_contract_must_sit_on_an_outcomes_contract_allocation_for_its_provider() -> None:
    grant = domain.AllocationView("A-1", "grant", "P-2", 500_00, True)
    problems = domain.registration_problems(
        registration(), grant, kpi_threshold_pence=5_000_000_00, kpi_count_required=3
    )
    assert problems == (
        "allocation A-1 is a grant, not an outcomes_contract",
        "allocation A-1 is for P-2, not P-1",
        "cap_pence £1,000.00 exceeds allocation A-1's value of £500.00",
    )


def test_a_contract_over_five_million_pounds_must_carry_three_social_value_kpis() -> None:
    rules = {"kpi_threshold_pence": 5_000_000_00, "kpi_count_required": 3}
    assert domain.registration_problems(registration(6_000_000_00, 0), None, **rules) == (
        "a contract over £5,000,000.00 must carry 3 social-value KPIs; it has 0",
    )
    assert domain.registration_problems(registration(6_000_000_00, 3), None, **rules) == ()
    assert domain.registration_problems(registration(5_000_000_00, 0), None, **rules) == ()


def test_an_open_book_return_must_report_every_kpi_for_a_known_period() -> None:
    contract = a_contract(
        social_value_kpi_ids=("K1", "K2", "K3"),
        claim_periods=(domain.ClaimPeriod("Q1", date(2026, 4, 1), date(2026, 6, 30)),),
    )
    assert domain.open_book_problems(contract, "P-1", "Q1", ["K1", "K2", "K3"]) == ()
    assert domain.open_book_problems(contract, "P-2", "Q9", ["K1", "K4"]) == (
        "contract C-1 is held by P-1, not P-2",
        "period_id Q9 is not a claim period of the contract",
        "kpi_results must report the social-value KPI(s) K2, K3",
        "kpi_results name KPI(s) the contract does not carry: K4",
    )


# --- Gaming monitors --------------------------------------------------------------------------

THRESHOLDS = domain.GamingThresholds()


def test_creaming_is_flagged_when_the_hardest_segments_outcome_rate_is_far_below_the_easiest() -> (
    None
):
    funnels = [
        domain.SegmentFunnel("easy", referred=20, engaged=20, achieved=10, paid=10),
        domain.SegmentFunnel("hard", referred=20, engaged=20, achieved=2, paid=2),
    ]
    flags = domain.funnel_flags(funnels, ["easy", "hard"], THRESHOLDS)
    assert [(flag.kind, flag.subject) for flag in flags] == [("creaming", "hard")]
    assert "10% against 50%" in flags[0].detail


def test_parking_is_flagged_when_hard_segment_referrals_are_left_unengaged() -> None:
    funnels = [
        domain.SegmentFunnel("easy", referred=20, engaged=20, achieved=4, paid=4),
        domain.SegmentFunnel("hard", referred=20, engaged=5, achieved=4, paid=4),
    ]
    flags = domain.funnel_flags(funnels, ["easy", "hard"], THRESHOLDS)
    assert [(flag.kind, flag.subject) for flag in flags] == [("parking", "hard")]


def test_no_funnel_flag_without_enough_referrals_or_declared_segments() -> None:
    funnels = [
        domain.SegmentFunnel("easy", referred=5, engaged=5, achieved=5, paid=5),
        domain.SegmentFunnel("hard", referred=5, engaged=0, achieved=0, paid=0),
    ]
    assert domain.funnel_flags(funnels, ["easy", "hard"], THRESHOLDS) == []
    assert domain.funnel_flags(funnels, [], THRESHOLDS) == []


def test_caps_near_and_over_are_flagged_for_the_contract_metrics_and_payers() -> None:
    contract = a_contract(
        cap_pence=1_000_00,
        metrics={
            "employed": a_metric(
                "employed", 100, cap_pence=500_00, committed_pence=500_00, payer_id="DWP"
            ),
            "housed": a_metric("housed", 100, committed_pence=420_00),
        },
        payer_caps_pence={"DWP": 2_000_00},
    )
    flags = {(flag.kind, flag.subject) for flag in domain.cap_flags(contract, THRESHOLDS)}
    assert flags == {("near_cap", "C-1"), ("over_cap", "metric employed")}


def test_outcomes_clustered_just_before_a_period_ends_are_flagged() -> None:
    contract = a_contract(
        claim_periods=(
            domain.ClaimPeriod("Q1", date(2026, 4, 1), date(2026, 6, 30)),
            domain.ClaimPeriod("Q2", date(2026, 7, 1), date(2026, 9, 30)),
        )
    )
    flags = domain.deadline_flags(contract, {"Q1": (20, 15), "Q2": (20, 5)}, THRESHOLDS)
    assert [(flag.kind, flag.subject) for flag in flags] == [("deadline_clustering", "Q1")]
    assert flags[0].detail.startswith("15 of 20 outcomes in claim period Q1")
