"""`domain.assess` works a chunk's checks and prices out once per metric and dates and follows
the caps only when the chunk could reach one: on random chunks against contracts with every
kind of cap, version, period and earlier claim, it gives exactly what assessing each claim in
turn gave (accepted and rejected claims, prices, versions, periods, reasons, rules)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import pytest

from services.outcomes import domain

RECEIVED = date(2026, 12, 1)
METRICS = ("employed", "housed", "sober")


def assessed_claim_by_claim(
    contract: domain.Contract,
    claims: Sequence[domain.ClaimLike],
    earlier: Mapping[domain.ParticipantMetric, domain.EarlierClaim],
    *,
    batch_id: str,
    received_on: date,
) -> domain.Assessment:
    """`domain.assess` as it was, every check and cap per claim: the reference to match."""
    accepted: list[domain.PricedClaim] = []
    rejected: list[domain.RejectedClaim] = []
    seen: dict[domain.ParticipantMetric, domain.EarlierClaim] = {}
    headroom = domain._Headroom(contract)
    for claim in claims:
        key = (claim.participant_hash, claim.metric_id)
        reason = domain.claim_problem(contract, claim, received_on)
        rule = domain.CLAIM_VALID if claim.metric_id in contract.metrics else domain.METRIC_PRICED
        before = seen.get(key) or earlier.get(key)
        if reason is None:
            reason = domain._duplicate_problem(contract, claim, before)
            rule = domain.PAID_ONCE
        if reason is not None:
            rejected.append(domain.RejectedClaim(claim, reason, rule))
            continue
        metric = contract.metrics[claim.metric_id]
        version = metric.version_on(claim.achieved_on)
        assert version is not None
        amount_pence, cap_reason = headroom.allowed(metric, version.price_pence)
        if cap_reason is not None:
            rejected.append(domain.RejectedClaim(claim, cap_reason, domain.WITHIN_CAP))
            continue
        headroom.take(metric, amount_pence)
        seen[key] = domain.EarlierClaim(contract.contract_id, batch_id, claim.row_number)
        period = contract.claim_period_on(claim.achieved_on)
        accepted.append(
            domain.PricedClaim(
                claim,
                amount_pence,
                version.version,
                period.claim_period_id if period else None,
                resubmits=before,
            )
        )
    return domain.Assessment(tuple(accepted), tuple(rejected))


def a_contract(rng: random.Random, claims_count: int) -> domain.Contract:
    """A contract whose caps, versions, periods and dates are drawn at random, from caps no
    chunk reaches to caps already reached."""
    metrics = {}
    for metric_id in METRICS[: rng.randint(1, 3)]:
        price = rng.choice((0, 1, 40_00, 100_00, 3_500_00))
        versions: tuple[domain.MetricVersion, ...] = (domain.MetricVersion(1, None, price),)
        if rng.random() < 0.3:
            versions += (domain.MetricVersion(2, date(2026, 6, 1), price + 10_00),)
        if rng.random() < 0.15:
            versions = (domain.MetricVersion(1, date(2026, 3, 1), price),)  # not from the start
        metrics[metric_id] = domain.Metric(
            metric_id,
            versions,
            cap_pence=rng.choice((None, None, 0, 150_00, 10_000_00)),
            payer_id=rng.choice((None, "DWP", "NHS")),
            committed_pence=rng.choice((0, 0, 50_00)),
        )
    periods: tuple[domain.ClaimPeriod, ...] = ()
    if rng.random() < 0.3:
        periods = (
            domain.ClaimPeriod("Q1", date(2026, 1, 1), date(2026, 5, 31), date(2026, 11, 1)),
            domain.ClaimPeriod("Q2", date(2026, 6, 1), date(2026, 9, 30), None),
        )
    room = claims_count * 3_510_00
    return domain.Contract(
        contract_id="C-1",
        place_id="GM",
        allocation_id="A-1",
        provider_id="P-1",
        cap_pence=rng.choice((0, 1, 300_00, room, room + 100, 10 * room)),
        metrics=metrics,
        payer_caps_pence=rng.choice(({}, {"DWP": None}, {"DWP": 200_00}, {"NHS": 10 * room})),
        claim_periods=periods,
        start_date=rng.choice((None, date(2026, 2, 1))),
        end_date=rng.choice((None, date(2026, 10, 31))),
    )


def some_claims(rng: random.Random, count: int) -> list[domain.Claim]:
    """Claims of a small pool of participants (so some repeat), of priced and unpriced
    metrics, on dates inside and outside every period, some referred after the day."""
    claims = []
    for row in range(1, count + 1):
        achieved = date(2026, 1, 1) + timedelta(days=rng.randint(0, 364))
        referral = rng.choice((None, date(2026, 1, 15), achieved, achieved + timedelta(days=1)))
        claims.append(
            domain.Claim(
                participant_hash=f"{rng.randint(0, count // 2):064x}",
                metric_id=rng.choice((*METRICS, "unknown")),
                achieved_on=achieved,
                evidence_reference=rng.choice(("e/1", "e/2")),
                referral_date=referral,
                difficulty_segment="easy",
                row_number=rng.choice((row, row, None)),
            )
        )
    return claims


def earlier_claims(
    rng: random.Random, claims: list[domain.Claim]
) -> dict[domain.ParticipantMetric, domain.EarlierClaim]:
    """Some of the chunk's pairs claimed before: pending, paid, or failed verification with
    the same or other evidence."""
    earlier = {}
    for claim in rng.sample(claims, len(claims) // 5):
        earlier[(claim.participant_hash, claim.metric_id)] = domain.EarlierClaim(
            "C-0",
            "B-0",
            rng.choice((None, 7)),
            status=rng.choice(("pending", "paid", domain.FAILED_VERIFICATION)),
            evidence_reference=rng.choice(("e/1", "e/2", None)),
        )
    return earlier


def price_of(contract: domain.Contract, claim: domain.ClaimLike) -> int:
    version = contract.metrics[claim.metric_id].version_on(claim.achieved_on)
    assert version is not None
    return version.price_pence


@pytest.mark.parametrize("seed", range(300))
def test_a_random_chunk_is_assessed_as_claim_by_claim(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.choice((1, 5, 40, 200))
    claims = some_claims(rng, count)
    contract = a_contract(rng, count)
    earlier = earlier_claims(rng, claims)
    arguments = {"batch_id": "B-1", "received_on": RECEIVED}
    assert domain.assess(contract, claims, earlier, **arguments) == assessed_claim_by_claim(
        contract, claims, earlier, **arguments
    )


def test_the_random_chunks_meet_every_rule_and_both_ways_through_the_caps() -> None:
    """The comparison above is worth something: its chunks reject under every rule, resubmit,
    pay some claims less than their price, and take both the capped and the uncapped path."""
    rules: set[str] = set()
    resubmitted = partly_paid = uncapped = capped = 0
    for seed in range(300):
        rng = random.Random(seed)
        count = rng.choice((1, 5, 40, 200))
        claims = some_claims(rng, count)
        contract = a_contract(rng, count)
        assessment = assessed_claim_by_claim(
            contract, claims, earlier_claims(rng, claims), batch_id="B-1", received_on=RECEIVED
        )
        rules |= {rejected.rule for rejected in assessment.rejected}
        resubmitted += len(domain.resubmitted(assessment))
        partly_paid += sum(
            priced.price_pence < price_of(contract, priced.claim) for priced in assessment.accepted
        )
        limit = count * domain._price_max(contract)
        if domain._Headroom(contract).exceeds(limit):
            uncapped += 1
        else:
            capped += 1
    assert rules == set(domain.CLAIM_RULES)
    assert resubmitted and partly_paid and uncapped > 30 and capped > 30
