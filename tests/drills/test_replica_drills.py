"""Drills with two replicas of every service under `singlepot up --replicas 2` (bench/drills.py
does the work and `make bench` records its figures): after each fault every accepted command
took effect exactly once, each place's transfers kept its commands' order, the ledger verifies
and the gateway's read models equal the ledger, with nothing typed to recover."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.drills import FAULTS, run_drills

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_every_fault_with_two_replicas_loses_duplicates_and_reorders_nothing(
    tmp_path: Path,
) -> None:
    results = run_drills(tmp_path)
    assert [result.fault for result in results] == [fault for fault, _ in FAULTS]
    for result in results:
        assert result.accepted > 0, result
        assert result.clean, result
