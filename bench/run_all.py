"""Runs every benchmark in bench/ and rewrites BENCHMARKS.md from what they measured (`make bench`).

Each benchmark runs in its own process (so one's memory and threads are not another's) and
starts its own embedded PostgreSQL and broker on free ports, so nothing else needs to be running.
Each appends its figures to a results file (bench/report.py); this keeps each benchmark's
latest run in bench/results/, then writes BENCHMARKS.md from all of them: the machine, each
command, each figure next to its target with met or missed, when and at which commit it was
measured and how loaded the machine was, and at the end the hand-written notes in bench/NOTES.md.

    python -m bench.run_all                 # everything, about 20 minutes on 2 cores
    python -m bench.run_all --only ledger   # rerun the benchmarks whose title contains "ledger"
    python -m bench.run_all --render        # rewrite BENCHMARKS.md from the kept results only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.machine import describe_machine, load_average
from bench.report import RESULTS_VARIABLE, Figure, format_value, read_results

ROOT = Path(__file__).resolve().parent.parent
NOTES = Path(__file__).resolve().parent / "NOTES.md"
RESULTS = Path(__file__).resolve().parent / "results"


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
        "ledger consumer: aiokafka against FastStream",
        ("bench.consumer_ab", "--requests", "40000", "--rounds", "2"),
        "The same ledger process consuming the same pre-produced requests with the hand-written "
        "aiokafka `BatchConsumer` and with FastStream's batch subscriber, in pairs run back to "
        "back: first batch's commit to the last answer published.",
    ),
    Benchmark(
        "outcomes: one message per transaction against batches",
        ("bench.outcomes_batches", "--commands", "1000", "--rounds", "2"),
        "The end-to-end run's one-claim evidence commands, pre-produced, through one outcomes "
        "process consuming a message per transaction (FastStream) and one consuming a fetch per "
        "transaction, in pairs run back to back: commands handled per second.",
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
        ("bench.gateway_latency", "--end-to-end", "--seconds", "60"),
        "All four services on their default settings: evidence POSTed at 200/s for 60 s "
        "(issue 24) → outcomes → ledger → the department's webhook receives the spend.",
    ),
    Benchmark(
        "fault drills",
        ("bench.drills",),
        "`singlepot up --replicas 2` under a stream of settlements across three places while a "
        "replica of each service, the broker, PostgreSQL and `up` itself fail in turn: from "
        "each fault until every accepted command took effect, with nothing typed.",
    ),
)


@dataclass
class Run:
    """One benchmark's latest run: its figures (or how it failed), when, where and under what
    load it ran."""

    benchmark: Benchmark
    figures: list[Figure] = field(default_factory=list)
    exit_code: int = 0
    measured_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    commit: str = ""
    load: str = ""

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.benchmark.title.lower()).strip("-")

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "title": self.benchmark.title,
            "command": self.benchmark.command,
            "exit_code": self.exit_code,
            "measured_at": self.measured_at.isoformat(),
            "commit": self.commit,
            "load": self.load,
            "figures": [asdict(figure) for figure in self.figures],
        }
        (folder / f"{self.slug}.json").write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load_kept(cls, benchmark: Benchmark, folder: Path) -> Run | None:
        """The benchmark's kept run, if one was kept for the same command."""
        path = folder / f"{cls(benchmark).slug}.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if data["command"] != benchmark.command:
            return None  # measured differently: not comparable with the target any more
        return cls(
            benchmark,
            [Figure.from_json(figure) for figure in data["figures"]],
            data["exit_code"],
            datetime.fromisoformat(data["measured_at"]),
            data["commit"],
            data["load"],
        )


def run(benchmark: Benchmark, commit: str) -> Run:
    print(f"== {benchmark.title}: {benchmark.command} ==", flush=True)
    load = load_average()  # before the run: the load it met
    measured_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="singlepot-bench-results-") as folder:
        results = Path(folder) / "figures.jsonl"
        environment = {**os.environ, RESULTS_VARIABLE: str(results)}
        completed = subprocess.run(
            [sys.executable, "-m", *benchmark.module], cwd=ROOT, env=environment, check=False
        )
        return Run(
            benchmark, read_results(results), completed.returncode, measured_at, commit, load
        )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _value(figure: Figure) -> str:
    return format_value(figure.value, figure.unit)


def render(runs: list[Run], machine: list[str], when: datetime, notes: str) -> str:
    """BENCHMARKS.md, from the runs' figures; pure, so the layout is tested without running."""
    judged = [figure for run in runs for figure in run.figures if figure.target is not None]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench.run_all`) on {when:%Y-%m-%d %H:%M} UTC from "
        "each benchmark's latest run (kept in `bench/results/`). Do not edit the figures by "
        "hand: run `make bench` again. The notes at the end are hand-written, in "
        "`bench/NOTES.md`.",
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in machine],
        "",
        "Each section says the load average when its run began: figures taken while other work "
        "shared the two cores are lower bounds for this machine.",
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
    for run in runs:
        if run.exit_code != 0:
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
            f"Measured {run.measured_at:%Y-%m-%d %H:%M} UTC at commit `{run.commit}`; load "
            f"average (1, 5, 15 min) when it began: {run.load}.",
            "",
        ]
        if run.exit_code != 0:
            lines += [
                f"**The benchmark failed (exit {run.exit_code});** any figures below are the "
                "ones it published before it failed.",
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
    missing = [b.title for b in BENCHMARKS if b.title not in {r.benchmark.title for r in runs}]
    if missing:
        lines += ["", f"Not yet measured: {', '.join(missing)}."]
    if notes.strip():
        lines += ["", "## Notes (hand-written, from bench/NOTES.md)", "", notes.strip()]
    return "\n".join(lines) + "\n"


def _commit() -> str:
    def git(*arguments: str) -> str:
        completed = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return completed.stdout.strip()

    # The page and the kept runs change with every run; only changes to code count.
    dirty = git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ".",
        ":!BENCHMARKS.md",
        ":!bench/results",
    )
    return (git("rev-parse", "--short", "HEAD") or "unknown") + (" (with changes)" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="rerun only the benchmarks whose title contains this")
    parser.add_argument(
        "--render", action="store_true", help="rerun nothing; rewrite from the kept results"
    )
    parser.add_argument(
        "--output", type=Path, default=ROOT / "BENCHMARKS.md", help="where to write the figures"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where runs are kept")
    arguments = parser.parse_args(argv)
    chosen = (
        []
        if arguments.render
        else [b for b in BENCHMARKS if not arguments.only or arguments.only in b.title]
    )
    if arguments.only and not chosen:
        parser.error(f"--only {arguments.only!r} matches no benchmark title")
    commit = _commit()
    failed = []
    for benchmark in chosen:
        latest = run(benchmark, commit)
        latest.save(arguments.results)
        if latest.exit_code != 0:
            failed.append(benchmark.title)
    kept = [Run.load_kept(benchmark, arguments.results) for benchmark in BENCHMARKS]
    notes = NOTES.read_text(encoding="utf-8") if NOTES.exists() else ""
    page = render([r for r in kept if r], describe_machine(), datetime.now(UTC), notes)
    arguments.output.write_text(page, encoding="utf-8")
    print(f"wrote {arguments.output}")
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
