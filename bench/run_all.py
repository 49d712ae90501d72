"""Runs every benchmark in bench/ and rewrites BENCHMARKS.md from what they measured (`make bench`).

Each benchmark runs in its own process (so one's memory and threads are not another's) and
starts its own embedded PostgreSQL and broker on free ports, so nothing else needs to be running.
Each appends its figures to a results file (bench/report.py); from those, this writes
BENCHMARKS.md: the machine, each command, each figure next to its target with met or missed,
and at the end the hand-written notes kept in bench/NOTES.md.

    python -m bench.run_all                 # everything, about 15 minutes on 2 cores
    python -m bench.run_all --only ledger   # the benchmarks whose title contains "ledger"
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import describe_machine
from bench.report import RESULTS_VARIABLE, Figure, format_value, read_results

ROOT = Path(__file__).resolve().parent.parent
NOTES = Path(__file__).resolve().parent / "NOTES.md"


@dataclass(frozen=True)
class Benchmark:
    title: str
    module: tuple[str, ...]  # what follows `python -m`
    measures: str  # one sentence: what is timed, from where to where

    @property
    def command(self) -> str:
        return f"python -m {' '.join(self.module)}"


BENCHMARKS = (
    Benchmark(
        "start-up",
        ("bench.startup",),
        "`singlepot up` to its “singlepot is up” line (PostgreSQL and the broker running, topics, "
        "migrations, all four services ready, demo loaded), from an empty data folder and again.",
    ),
    Benchmark(
        "fresh clone",
        ("bench.fresh_clone",),
        "A `git clone` of this commit, then the README's two commands: `make run` to ready "
        "(venv, installs, initdb, services, demo) and `make test` to its end.",
    ),
    Benchmark(
        "ledger throughput and latency",
        ("bench.ledger_throughput", "--requests", "200000", "--places", "10"),
        "Pre-produced reservation and payment requests through `singlepot serve ledger` "
        "process(es), from the first batch's commit to the last answer (PostgreSQL's clock); "
        "a no-logic pipe over the same messages and rows gives this stack's ceiling.",
    ),
    Benchmark(
        "evidence file ingest",
        ("bench.evidence_ingest", "--throwaway"),
        "A 1,000,000-row evidence file streamed, validated, cut into commands and handled by "
        "the outcomes service's real consumer until the batch waits for verification.",
    ),
    Benchmark(
        "gateway latencies",
        ("bench.gateway_latency", "--seconds", "10"),
        "Open-loop load on `singlepot serve gateway`: commands at 200/s, spend → webhook at "
        "200/s, reads at 500/s.",
    ),
    Benchmark(
        "end to end",
        ("bench.gateway_latency", "--end-to-end", "--seconds", "5"),
        "All four services: evidence POSTed at 200/s → outcomes → ledger → the department's "
        "webhook receives the spend.",
    ),
)


@dataclass
class Run:
    """One benchmark's run: its figures, or how it failed."""

    benchmark: Benchmark
    figures: list[Figure] = field(default_factory=list)
    exit_code: int = 0


def run(benchmark: Benchmark) -> Run:
    print(f"== {benchmark.title}: {benchmark.command} ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="singlepot-bench-results-") as folder:
        results = Path(folder) / "figures.jsonl"
        environment = {**os.environ, RESULTS_VARIABLE: str(results)}
        completed = subprocess.run(
            [sys.executable, "-m", *benchmark.module], cwd=ROOT, env=environment, check=False
        )
        return Run(benchmark, read_results(results), completed.returncode)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(runs: list[Run], machine: list[str], when: datetime, commit: str, notes: str) -> str:
    """BENCHMARKS.md, from the runs' figures; pure, so the layout is tested without running."""
    judged = [figure for run in runs for figure in run.figures if figure.target is not None]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench.run_all`) on {when:%Y-%m-%d %H:%M} UTC at "
        f"commit `{commit}`. Do not edit the figures by hand: run `make bench` again. The notes "
        "at the end are hand-written, in `bench/NOTES.md`.",
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in machine],
        "",
        "## Targets",
        "",
        "| benchmark | figure | target | result | |",
        "|---|---|---|---|---|",
    ]
    for figure in judged:
        assert figure.target is not None
        lines.append(
            f"| {_cell(figure.benchmark)} | {_cell(figure.name)} | "
            f"{_cell(figure.target.describe(figure.unit))} | "
            f"{_cell(_value(figure))} | **{figure.verdict}** |"
        )
    failed = [run for run in runs if run.exit_code != 0]
    for run in failed:
        lines.append(
            f"| {_cell(run.benchmark.title)} | the benchmark failed "
            f"(exit {run.exit_code}) | | | **not measured** |"
        )
    for run in runs:
        lines += [
            "",
            f"## {run.benchmark.title}",
            "",
            f"Command: `{run.benchmark.command}`",
            "",
            run.benchmark.measures,
            "",
        ]
        if run.exit_code != 0:
            lines += [
                f"**The benchmark failed (exit {run.exit_code});** figures below, if "
                "any, are the ones it printed before it failed.",
                "",
            ]
        if not run.figures:
            lines.append("No figures.")
            continue
        lines += ["| figure | result | target | | how |", "|---|---|---|---|---|"]
        for figure in run.figures:
            target = figure.target.describe(figure.unit) if figure.target else ""
            verdict = f"**{figure.verdict}**" if figure.verdict else ""
            lines.append(
                f"| {_cell(figure.name)} | {_cell(_value(figure))} | {_cell(target)} | "
                f"{verdict} | {_cell(figure.detail)} |"
            )
    if notes.strip():
        lines += ["", "## Notes (hand-written, from bench/NOTES.md)", "", notes.strip()]
    return "\n".join(lines) + "\n"


def _value(figure: Figure) -> str:
    return format_value(figure.value, figure.unit)


def _commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    commit = completed.stdout.strip() or "unknown"
    return commit + (" with uncommitted changes" if dirty.stdout.strip() else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the benchmarks whose title contains this")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "BENCHMARKS.md", help="where to write the figures"
    )
    arguments = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not arguments.only or arguments.only in b.title]
    if not chosen:
        parser.error(f"--only {arguments.only!r} matches no benchmark title")
    machine = describe_machine()  # before the runs: the load average is the load they met
    runs = [run(benchmark) for benchmark in chosen]
    notes = NOTES.read_text(encoding="utf-8") if NOTES.exists() else ""
    arguments.output.write_text(
        render(runs, machine, datetime.now(UTC), _commit(), notes), encoding="utf-8"
    )
    print(f"wrote {arguments.output}")
    failed = [run.benchmark.title for run in runs if run.exit_code != 0]
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
