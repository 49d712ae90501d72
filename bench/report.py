"""What a benchmark measured, in one shape for every benchmark: figures with their units and,
where an issue set one, the target they are judged against.

Each benchmark prints its figures for a person and, when `make bench` runs it, also appends them
as JSON lines to the file named by SINGLEPOT_BENCH_RESULTS, from which `bench.run_all` rewrites
BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

RESULTS_VARIABLE = "SINGLEPOT_BENCH_RESULTS"


@dataclass(frozen=True)
class Target:
    """A bound a figure must respect, and the issue that set it."""

    comparison: Literal["<=", ">="]
    bound: float
    source: str  # e.g. "issue 3"

    def met_by(self, value: float) -> bool:
        return value <= self.bound if self.comparison == "<=" else value >= self.bound

    def describe(self, unit: str) -> str:
        symbol = "≤" if self.comparison == "<=" else "≥"
        return f"{symbol} {format_value(self.bound, unit)} ({self.source})"


@dataclass(frozen=True)
class Figure:
    """One measured figure. `detail` says how it was taken (runs, load, sample size)."""

    benchmark: str
    name: str
    value: float
    unit: str
    target: Target | None = None
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.target.met_by(self.value) else "missed"

    def line(self) -> str:
        text = f"{self.name}: {format_value(self.value, self.unit)}"
        if self.detail:
            text += f" ({self.detail})"
        if self.target is not None:
            text += f"; target {self.target.describe(self.unit)}: {self.verdict}"
        return text

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Figure:
        target = data.get("target")
        return cls(
            benchmark=str(data["benchmark"]),
            name=str(data["name"]),
            value=float(data["value"]),  # type: ignore[arg-type]
            unit=str(data["unit"]),
            target=Target(**target) if isinstance(target, dict) else None,
            detail=str(data.get("detail", "")),
        )


def format_value(value: float, unit: str) -> str:
    """A figure as a person reads it: thousands separated, decimals only where they matter."""
    if unit in {"transfers/s", "requests/s", "rows/s", "rows", "requests", "commands"}:
        return f"{value:,.0f} {unit}"
    if unit == "ratio":
        return f"{value:.2f}"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.1f} {unit}"


def publish(figures: Iterable[Figure]) -> None:
    """Print the figures, and append them to the results file when `make bench` asked for one."""
    figures = list(figures)
    for figure in figures:
        print(figure.line(), flush=True)
    results_path = os.environ.get(RESULTS_VARIABLE)
    if results_path:
        with Path(results_path).open("a", encoding="utf-8") as results:
            for figure in figures:
                results.write(json.dumps(asdict(figure)) + "\n")


def read_results(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Figure.from_json(json.loads(line)) for line in lines if line.strip()]
