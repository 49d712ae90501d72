"""Reconciliation: every money figure the gateway's read models show, set beside the ledger's
own balances, account by account, to the penny. Pure: the ledger's balances and the read models'
rows come in, the differences go out; `singlepot reconcile` fetches both and reports.

Each figure is named by the read model that shows it, the ledger account(s) it mirrors and the
financial year ("" where a figure spans years):

- pot, per year and stream: available = `pot:D:S`; reserved less paid = `commitment:*:D:S`
  summed; settled less received = −`settlement:D:S`; received = −`received:D:S`.
- allocation: what it still has reserved = `commitment:A:*` summed.
- provider: paid less recovered = `provider:P` summed over years.
- department, per year: its feed (spend less recoveries) = −(its stream accounts, summed).
- spend, per year: the spend list less recoveries = `provider:*` summed.

Why the last two hold: per department stream and year the four stream accounts add up to
recovered + vired in − paid, and a virement keeps its department, so per department they add
up to −(spent − recovered); every payment credits and every recovery debits a provider account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FigureKey = tuple[str, str, str]
"""(read model, account, financial year or "")."""


@dataclass(frozen=True)
class Difference:
    """One figure a read model shows that the ledger's books do not."""

    place_id: str
    read_model: str
    account: str
    financial_year: str
    ledger_pence: int
    read_model_pence: int

    def sentence(self) -> str:
        year = f" {self.financial_year}" if self.financial_year else ""
        return (
            f"{self.place_id}{year} {self.read_model} {self.account}: ledger "
            f"{self.ledger_pence} pence, read model {self.read_model_pence} pence "
            f"(off by {self.read_model_pence - self.ledger_pence:+d})"
        )


@dataclass(frozen=True)
class ReadModels:
    """The gateway's money figures for one place, as its read models hold them."""

    pot_streams: Sequence[Mapping[str, Any]] = ()
    allocations_reserved: Sequence[Mapping[str, Any]] = ()
    providers_net: Sequence[Mapping[str, Any]] = ()
    departments_net: Sequence[Mapping[str, Any]] = ()
    spend_net: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class PlaceReconciliation:
    """What comparing one place found."""

    place_id: str
    figures_checked: int
    differences: list[Difference]


def ledger_figures(balances: Iterable[Mapping[str, Any]]) -> dict[FigureKey, int]:
    """The figures the read models should show, from the ledger's balances
    (`{"financial_year", "account", "balance_pence"}` rows)."""
    figures: dict[FigureKey, int] = defaultdict(int)
    for row in balances:
        year, pence = str(row["financial_year"]), int(row["balance_pence"])
        kind, *parts = str(row["account"]).split(":")
        if kind == "pot":
            figures[("pot", _stream("available", parts), year)] += pence
        elif kind == "settlement":
            figures[("pot", _stream("owed", parts), year)] -= pence
        elif kind == "received":
            figures[("pot", _stream("received", parts), year)] -= pence
        elif kind == "commitment":
            allocation, department, stream = parts[0], parts[-2], parts[-1]
            figures[("pot", _stream("committed", [department, stream]), year)] += pence
            figures[("allocation", f"{allocation} reserved", "")] += pence
        elif kind == "provider":
            figures[("provider", f"{parts[0]} net paid", "")] += pence
            figures[("spend", "net spend", year)] += pence
        if kind in ("pot", "settlement", "received", "commitment"):
            figures[("department", f"{parts[-2]} net spend", year)] -= pence
    return dict(figures)


def read_model_figures(models: ReadModels) -> dict[FigureKey, int]:
    """The same figures, as the gateway's read models show them."""
    figures: dict[FigureKey, int] = defaultdict(int)
    for row in models.pot_streams:
        year = str(row["financial_year"])
        stream = [str(row["department_code"]), str(row["funding_stream_code"])]
        figures[("pot", _stream("available", stream), year)] += row["available_pence"]
        figures[("pot", _stream("owed", stream), year)] += (
            row["settled_pence"] - row["received_pence"]
        )
        figures[("pot", _stream("received", stream), year)] += row["received_pence"]
        figures[("pot", _stream("committed", stream), year)] += (
            row["reserved_pence"] - row["paid_pence"]
        )
    for row in models.allocations_reserved:
        figures[("allocation", f"{row['allocation_id']} reserved", "")] += row["reserved_pence"]
    for row in models.providers_net:
        figures[("provider", f"{row['provider_id']} net paid", "")] += row["net_pence"]
    for row in models.departments_net:
        account = f"{row['department_code']} net spend"
        figures[("department", account, str(row["financial_year"]))] += row["net_pence"]
    for row in models.spend_net:
        figures[("spend", "net spend", str(row["financial_year"]))] += row["net_pence"]
    return dict(figures)


def differences(
    place_id: str, ledger: Mapping[FigureKey, int], read_models: Mapping[FigureKey, int]
) -> list[Difference]:
    """Every figure where the two disagree; a figure missing on one side counts as zero."""
    found = []
    for key in sorted(set(ledger) | set(read_models)):
        ledger_pence, read_model_pence = ledger.get(key, 0), read_models.get(key, 0)
        if ledger_pence != read_model_pence:
            found.append(Difference(place_id, *key, ledger_pence, read_model_pence))
    return found


def reconcile_place(
    place_id: str, balances: Iterable[Mapping[str, Any]], models: ReadModels
) -> PlaceReconciliation:
    """Compare one place's read models with its ledger balances."""
    expected, shown = ledger_figures(balances), read_model_figures(models)
    return PlaceReconciliation(
        place_id,
        len(set(expected) | set(shown)),
        differences(place_id, expected, shown),
    )


def _stream(figure: str, parts: list[str]) -> str:
    """`available pot:D:S`-style names, so a person finds the ledger account at once."""
    department, stream = parts[-2], parts[-1]
    account = {
        "available": "pot",
        "owed": "settlement",
        "received": "received",
        "committed": "commitment:*",
    }[figure]
    return f"{account}:{department}:{stream}"
