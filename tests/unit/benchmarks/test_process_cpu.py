"""CPU by process for the end-to-end benchmark (bench/process_cpu.py): a process tree counts its
live processes and what they reaped, PostgreSQL is split by the backends' owners with the rest
on its own line, and the figures are per command."""

from __future__ import annotations

import os

import pytest

from bench.gateway_latency import CPU_MEASURE, as_figures, cpu_measure
from bench.process_cpu import (
    ProcessTimes,
    Snapshot,
    cpu_between,
    per_command_ms,
    read_times,
    tree_cpu_s,
)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_this_process_has_cpu_times_and_its_parent() -> None:
    times = read_times(os.getpid())
    assert times is not None
    assert times.parent_pid == os.getppid()
    assert times.own_s > 0


def test_a_tree_counts_live_descendants_and_what_they_reaped_but_not_strangers() -> None:
    processes = {
        10: ProcessTimes(1, own_s=1.0, reaped_children_s=0.5),  # a service, reaped a worker
        11: ProcessTimes(10, own_s=2.0, reaped_children_s=0.0),
        12: ProcessTimes(11, own_s=0.25, reaped_children_s=0.0),
        20: ProcessTimes(1, own_s=9.0, reaped_children_s=0.0),
    }
    assert tree_cpu_s(10, processes) == 3.75
    assert tree_cpu_s(99, processes) == 0


def test_postgresql_is_split_by_the_backends_owners_and_the_rest_kept_apart() -> None:
    start = Snapshot(
        {"gateway": 10.0, "load generator": 1.0, "PostgreSQL": 20.0},
        {101: ("gateway", 3.0), 102: ("ledger", 4.0)},
    )
    end = Snapshot(
        {"gateway": 12.0, "load generator": 1.5, "PostgreSQL": 26.0},
        {101: ("gateway", 5.0), 102: ("ledger", 5.0), 103: ("ledger", 1.0)},
    )
    spent = cpu_between(start, end)
    assert spent == {
        "gateway": 2.0,
        "load generator": 0.5,
        "PostgreSQL: gateway": 2.0,
        "PostgreSQL: ledger": 2.0,
        "PostgreSQL: other": 2.0,
    }
    shares = per_command_ms(spent, commands=1000)
    assert list(shares)[:1] == ["gateway"] and shares["total"] == 8.5
    assert shares["PostgreSQL: other"] == 2.0


def test_the_cpu_measure_becomes_one_figure_with_the_processes_in_its_detail() -> None:
    measure = cpu_measure({"gateway": 6.0, "outcomes": 3.0}, commands=1000)
    assert measure["measure"] == CPU_MEASURE
    [figure] = as_figures(measure, "end to end")
    assert figure.value == 9.0 and figure.unit == "ms"
    assert "gateway 6.0, outcomes 3.0 ms" in figure.detail


def test_a_run_that_left_commands_undelivered_says_so_in_its_cpu_figure() -> None:
    finished = cpu_measure({"gateway": 6.0}, commands=1000, delivered=1000)
    unfinished = cpu_measure({"gateway": 6.0}, commands=1000, delivered=700)
    [whole] = as_figures(finished, "end to end")
    [partial] = as_figures(unfinished, "end to end")
    assert "until 1,000 of 1,000 accepted commands were delivered" in whole.detail
    assert "work undone" not in whole.detail
    assert "until 700 of 1,000 accepted commands were delivered" in partial.detail
    assert "work undone" in partial.detail
