"""Benchmark: the CPU one ledger request costs in Python, without PostgreSQL or the broker.

    python -m bench.ledger_pure_path [--requests 20000] [--places 10] [--batch 1000]
        [--rounds 5] [--profile out.prof]

Decodes the `bench.ledger_throughput` workload's messages and runs the ledger's real
`handlers.handle_batch` (load the books, `decide`, answer rows, save) on them in batches,
against an in-memory stand-in for the ledger's tables that answers the same named queries.
The stand-in's own time is measured and taken off, so the figure is what the ledger's code
spends per request: decoding, deciding, encoding the answers and building every row it sends,
but not asyncpg's encoding nor the round trips. It is CPU time (`time.process_time`), which
other work on a shared machine disturbs far less than wall time; the best round is reported.
The collector is tuned as the served ledger tunes it (`BatchConsumer`).

Used to compare two trees back to back (bench/NOTES.md, "Seventh pass"): run it with
`PYTHONPATH` pointing at each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from bench.ledger_throughput import workload
from contracts import encode
from contracts.envelope import decode, unwrap
from services.ledger import db, handlers
from services.runtime import batch_consumer
from services.runtime.batch_consumer import COLLECTOR_THRESHOLDS


class TablesInMemory:
    """What the ledger's schema holds, kept in dicts, answering the queries `db` sends.

    Only what the ledger's hot path reads and writes is kept; every call's CPU time is added
    to `spent`, so that the caller can take it off its own measurement."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.heads: dict[str, list[Any]] = {}
        self.closed: dict[str, list[str]] = defaultdict(list)
        self.answered: dict[Any, dict[str, Any]] = {}
        self.settlements: dict[tuple[str, str], tuple[str, str]] = {}
        self.used_ids: set[tuple[str, str]] = set()
        self.reservations: dict[tuple[str, str], str] = {}
        self.payments: dict[tuple[str, str], dict[str, Any]] = {}
        self.balances: dict[tuple[str, str, str], int] = {}
        self.by_year: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_allocation: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        self.by_account: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.rows_written = 0

    async def fetch(self, query: str, *arguments: Any) -> list[dict[str, Any]]:
        started = time.process_time()
        try:
            return self._fetch(query, *arguments)
        finally:
            self.spent += time.process_time() - started

    async def execute(self, query: str, *arguments: Any) -> None:
        started = time.process_time()
        try:
            self._execute(query, *arguments)
        finally:
            self.spent += time.process_time() - started

    async def copy_records_to_table(
        self, table: str, *, records: Iterable[Sequence[Any]], columns: Sequence[str]
    ) -> None:
        started = time.process_time()
        try:
            self._copy(table, list(records), columns)
        finally:
            self.spent += time.process_time() - started

    def _fetch(self, query: str, *arguments: Any) -> list[dict[str, Any]]:
        queries = db.QUERIES
        if query == queries.lock_chain_heads:
            return [
                {
                    "place_id": place,
                    "sequence": self.heads[place][0],
                    "chain_hash": self.heads[place][1],
                    "closed_years": list(self.closed[place]),
                }
                for place in arguments[0]
                if place in self.heads
            ]
        if query == queries.answered_requests:
            return [self.answered[key] for key in arguments[0] if key in self.answered]
        pairs = list(zip(*arguments, strict=True))
        if query == queries.reservations:
            return [
                {"place_id": p, "allocation_id": a, "financial_year": self.reservations[(p, a)]}
                for p, a in pairs
                if (p, a) in self.reservations
            ]
        if query == queries.payments:
            return [self.payments[pair] for pair in pairs if pair in self.payments]
        if query == queries.settlements:
            return [
                {
                    "place_id": p,
                    "settlement_id": s,
                    "department_code": self.settlements[(p, s)][0],
                    "funding_stream_code": self.settlements[(p, s)][1],
                }
                for p, s in pairs
                if (p, s) in self.settlements
            ]
        if query == queries.used_ids:
            return [{"place_id": p, "used_id": u} for p, u in pairs if (p, u) in self.used_ids]
        if query == queries.stream_balances:
            found = [(p, y, a) for p, y in pairs for a in self.by_year[(p, y)]]
        elif query == queries.commitment_balances:
            found = [(p, y, a) for p, alloc in pairs for y, a in self.by_allocation[(p, alloc)]]
        elif query == queries.account_balances:
            found = [(p, y, a) for p, a in pairs for y in self.by_account[(p, a)]]
        else:
            raise AssertionError(f"a query the stand-in does not know: {query[:60]}")
        return [
            {
                "place_id": p,
                "financial_year": y,
                "account": a,
                "balance_pence": self.balances[(p, y, a)],
            }
            for p, y, a in found
        ]

    def _execute(self, query: str, *arguments: Any) -> None:
        queries = db.QUERIES
        if query == queries.open_chain_heads:
            for place in arguments[0]:
                self.heads.setdefault(place, [0, arguments[1]])
        elif query == queries.save_chain_heads_and_balances:
            for place, sequence, head in zip(*arguments[:3], strict=True):
                self.heads[place] = [sequence, head]
            for place, year, account, *_, balance in zip(*arguments[3:], strict=True):
                self._balance(place, year, account, balance)
        elif query == queries.save_payments:
            for row in zip(*arguments, strict=True):
                self.payments[(row[0], row[1])]["recovered_pence"] = row[7]
        elif query not in (queries.republish_answer, queries.save_conflict):
            raise AssertionError(f"a statement the stand-in does not know: {query[:60]}")

    def _copy(self, table: str, records: list[Sequence[Any]], columns: Sequence[str]) -> None:
        self.rows_written += len(records)
        if table == "balances":
            for place, year, account, *_, balance in records:
                assert (place, year, account) not in self.balances, "a new balance is new"
                self._balance(place, year, account, balance)
        elif table == "answered_requests":
            for event_id, place, _, body_hash, ids in records:
                self.answered[event_id] = {
                    "event_id": event_id,
                    "place_id": place,
                    "body_hash": body_hash,
                    "answer_event_ids": ids,
                }
        elif table == "settlements":
            for place, settlement, department, stream in records:
                self.settlements[(place, settlement)] = (department, stream)
        elif table == "reservations":
            for place, allocation, year in records:
                self.reservations[(place, allocation)] = year
        elif table == "used_ids":
            self.used_ids.update((place, used) for place, used in records)
        elif table == "closed_years":
            for place, year in records:
                self.closed[place].append(year)
        elif table == "payments":
            for record in records:
                self.payments[(record[0], record[1])] = dict(zip(columns, record, strict=True))

    def _balance(self, place: str, year: str, account: str, balance: int) -> None:
        key = (place, year, account)
        if key not in self.balances:
            if account.startswith("commitment:"):
                self.by_allocation[(place, account.split(":")[1])].append((year, account))
            elif account.split(":")[0] in ("pot", "settlement", "received"):
                self.by_year[(place, year)].append(account)
            self.by_account[(place, account)].append(year)
        self.balances[key] = balance


async def one_round(raw: Sequence[bytes], batch: int, profile: cProfile.Profile | None) -> float:
    """CPU seconds the ledger's own code spent on every message of `raw`, in batches."""
    tables = TablesInMemory()
    spent = 0.0
    for start in range(0, len(raw), batch):
        chunk = raw[start : start + batch]
        if profile is not None:
            profile.enable()
        began = time.process_time()
        with _collector_paused():
            messages = []
            for value in chunk:
                envelope = decode(value)
                messages.append((envelope, unwrap(envelope)))
            await handlers.handle_batch(tables, messages)  # type: ignore[arg-type]
            del messages, envelope
        spent += time.process_time() - began
        if profile is not None:
            profile.disable()
    assert len(tables.answered) == len(raw), "every request answered"
    return spent - tables.spent


def _collector_paused() -> contextlib.AbstractContextManager[None]:
    """As the served ledger handles a fetch (`BatchConsumer.process_fetch`): without the
    collector, when the tree measured has that (an older tree measures as it served)."""
    paused = getattr(batch_consumer, "collector_paused", None)
    return paused() if paused is not None else contextlib.nullcontext()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--places", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the last round to this file")
    parser.add_argument(
        "--no-collector",
        action="store_true",
        help="switch the cyclic collector off, to see the code's own cost without it",
    )
    arguments = parser.parse_args()
    raw = [encode(envelope) for envelope in workload(arguments.requests, arguments.places)]
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    if arguments.no_collector:
        gc.disable()
    figures = []
    for number in range(arguments.rounds):
        last = number == arguments.rounds - 1
        profile = cProfile.Profile() if last and arguments.profile else None
        seconds = asyncio.run(one_round(raw, arguments.batch, profile))
        figures.append(seconds / len(raw) * 1e6)
        if profile is not None:
            profile.dump_stats(arguments.profile)
    shown = " / ".join(f"{figure:.1f}" for figure in figures)
    print(f"pure path, µs of CPU per request: best {min(figures):.1f} (rounds: {shown})")


if __name__ == "__main__":
    main()
