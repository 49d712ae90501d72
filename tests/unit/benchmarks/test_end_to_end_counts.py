"""The end-to-end benchmark counts honestly: its p99 is over every accepted command, one never
delivered counts as missing (at the wait's end), and its figures say how many were accepted,
refused, paid, delivered and missing."""

from __future__ import annotations

from typing import Any

from bench import e2e_place
from bench.gateway_latency import END_TO_END, as_figures, end_to_end_measures

ACCEPTED_AT = 1_000.0


def measures(
    delivered: int, accepted: int, paid: int, refused: dict[int, int]
) -> list[dict[str, Any]]:
    accepted_at = {f"E2E-{n}": ACCEPTED_AT for n in range(accepted)}
    spend_seen = {f"E2E-{n}": ACCEPTED_AT + 0.05 for n in range(paid)}
    received = {f"E2E-{n}": ACCEPTED_AT + 0.1 for n in range(delivered)}
    offered = accepted + sum(refused.values())
    return end_to_end_measures(
        offered,
        accepted_at,
        spend_seen,
        received,
        refused,
        waited_until=ACCEPTED_AT + 120,
        wait_limit_s=120,
    )


def test_every_command_delivered_gives_an_exact_p99_and_full_counts() -> None:
    overall = measures(delivered=200, accepted=200, paid=200, refused={})[0]
    assert overall["p99_ms"] == 100.0
    assert (overall["accepted"], overall["paid"], overall["delivered"]) == (200, 200, 200)
    assert overall["missing"] == 0 and not overall["p99_lower_bound"]


def test_an_undelivered_command_counts_as_missing_at_the_wait_end_not_dropped() -> None:
    overall = measures(delivered=190, accepted=200, paid=195, refused={409: 3})[0]
    assert overall["missing"] == 10
    assert overall["refused"] == 3 and overall["refused_by_status"] == {"409": 3}
    assert overall["completed"] == 190 and overall["offered"] == 203
    # 5% are missing, so the p99 falls on one of them: the wait's length, a lower bound.
    assert overall["p99_ms"] == 120_000.0 and overall["p99_lower_bound"]
    p99 = as_figures(overall, END_TO_END)[1]
    assert "200 accepted (202), 3 refused, 195 paid, 190 delivered, 10 missing" in p99.detail
    assert "lower bound" in p99.detail and p99.verdict == "missed"


def test_the_bench_contract_pays_every_claim_the_run_offers_under_sign_off() -> None:
    outcomes = e2e_place.outcomes_needed(200, 60)
    assert outcomes > 200 * 60
    assert outcomes * e2e_place.PRICE_PENCE <= e2e_place.SIGN_OFF_THRESHOLD_PENCE
