"""Keeps and reads the OCDS release history (the `ocds_releases` table; rules in `history.py`).

A release is kept in the transaction of the event that changed the process (`keep_releases`,
from `history_handlers.py`), and when a request finds the process changed in a way no event
told (an organisation registered or renamed) or never released (data kept before this table).

In the projector's batch path a process's release is kept at most once per interval: a fetch
marks the change it made as waiting (`mark_waiting`, the `ocds_release_marks` table) and keeps
the release only when it is due; a later fetch or the projector's periodic task keeps a due
one (`claim_due_release`), and a request keeps the place's waiting releases before it
publishes them (`catch_up`). Each is dated and caused by the change's event, as if kept then.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from services.gateway.opendata import db, history
from services.gateway.opendata.db import QUERIES, ROWS_MAX
from services.gateway.opendata.history import KeptRelease
from services.gateway.opendata.publishing import Allocation, JsonObject, PlaceData


async def keep_releases(
    connection: asyncpg.Connection,
    data: PlaceData,
    allocation_ids: list[str],
    moment: datetime,
    caused_by: UUID | None = None,
) -> int:
    """Keep a release for each named outcomes contract whose OCDS content changed; returns how
    many were kept. Runs in the caller's transaction."""
    contracted = {a.allocation_id: a for a in data.contracted()}
    kept = 0
    for allocation_id in sorted(set(allocation_ids) & contracted.keys()):
        allocation = contracted[allocation_id]
        await connection.execute(QUERIES.lock_release_history, data.place_id, allocation_id)
        if caused_by is not None and await connection.fetchval(
            QUERIES.release_caused_by, data.place_id, allocation_id, caused_by
        ):
            continue  # a replayed event: its release is kept already
        # Rendering and digesting a whole process is CPU work that grows with its payments:
        # in a thread, so the event loop (HTTP, the spend consumer) is not held meanwhile.
        content, digest = await asyncio.to_thread(_content_and_digest, data, allocation)
        latest = await _latest(connection, data.place_id, allocation_id, None)
        in_force = latest
        if latest is not None and latest.released_at > moment:
            in_force = await _latest(connection, data.place_id, allocation_id, moment)
        if digest in {r.digest for r in (in_force, latest) if r is not None}:
            continue
        sequence = await connection.fetchval(
            QUERIES.next_release_sequence, data.place_id, allocation_id
        )
        released_at = max(moment, latest.released_at) if latest else moment
        release_text = await asyncio.to_thread(
            _release_text, latest, content, sequence, released_at
        )
        await connection.execute(
            QUERIES.store_release,
            data.place_id,
            allocation_id,
            sequence,
            released_at,
            digest,
            release_text,
            caused_by,
        )
        kept += 1
    return kept


def _content_and_digest(data: PlaceData, allocation: Allocation) -> tuple[JsonObject, str]:
    content = history.current_content(data, allocation)
    return content, history.digest(content)


def _release_text(
    latest: _Latest | None, content: JsonObject, sequence: int, released_at: datetime
) -> str:
    """The release to keep after `latest`, as the JSON text stored."""
    release = history.next_release(latest.kept if latest else None, content, sequence, released_at)
    return json.dumps(release, ensure_ascii=False)


async def keep_process_release(
    connection: asyncpg.Connection,
    place_id: str,
    allocation_id: str,
    moment: datetime,
    caused_by: UUID | None,
) -> int:
    """`keep_releases` for one process, reading only that process's rows, not the place's."""
    data = await db.read_process_data(connection, place_id, allocation_id)
    return await keep_releases(connection, data, [allocation_id], moment, caused_by)


async def catch_up(connection: asyncpg.Connection, data: PlaceData, moment: datetime) -> int:
    """Keep every waiting release of the place (dated by its event), then a release for every
    other outcomes contract whose content changed since its last one (dated `moment`)."""
    async with connection.transaction():
        kept = 0
        waiting = await connection.fetch(QUERIES.waiting_releases_of_place, data.place_id)
        for change in (_waiting(row) for row in waiting):
            kept += await keep_waiting(connection, change, None)
        # Those were read afresh under their marks' locks; `data` may be older than them.
        released = {change["allocation_id"] for change in waiting}
        others = [a.allocation_id for a in data.contracted() if a.allocation_id not in released]
        return kept + await keep_releases(connection, data, others, moment)


@dataclass(frozen=True)
class WaitingRelease:
    """A process's latest change whose release is not kept yet: its event and that moment."""

    place_id: str
    allocation_id: str
    moment: datetime
    caused_by: UUID


async def mark_waiting(
    connection: asyncpg.Connection, changes: list[WaitingRelease], now: datetime
) -> list[WaitingRelease]:
    """Mark each change as waiting for its process's release (one per process, replacing an
    earlier waiting one); returns those whose release is due `now`."""
    rows = await connection.fetch(
        QUERIES.mark_releases_pending,
        [c.place_id for c in changes],
        [c.allocation_id for c in changes],
        [c.caused_by for c in changes],
        [c.moment for c in changes],
        now,
    )
    due = {(row["place_id"], row["allocation_id"]) for row in rows if row["due"]}
    return [c for c in changes if (c.place_id, c.allocation_id) in due]


async def keep_waiting(
    connection: asyncpg.Connection, change: WaitingRelease, next_due_at: datetime | None
) -> int:
    """Keep a waiting change's release, dated and caused by its event, and mark it no longer
    waiting; if a release was kept, the process's next one is due at `next_due_at` (None: as
    it was). A change that kept none (the award not yet funded, content unchanged) leaves the
    process due, so that its first release is kept as soon as there is one."""
    kept = await keep_process_release(
        connection, change.place_id, change.allocation_id, change.moment, change.caused_by
    )
    next_due = next_due_at if kept else None
    await connection.execute(
        QUERIES.release_no_longer_waiting, change.place_id, change.allocation_id, next_due
    )
    return kept


async def claim_due_release(connection: asyncpg.Connection, now: datetime) -> WaitingRelease | None:
    """A process whose waiting release is due `now`, locked for the caller's transaction (one
    another transaction holds is skipped: two projectors never keep the same one)."""
    row = await connection.fetchrow(QUERIES.claim_due_release, now)
    return _waiting(row) if row is not None else None


def _waiting(row: asyncpg.Record) -> WaitingRelease:
    return WaitingRelease(
        row["place_id"], row["allocation_id"], row["pending_moment"], row["pending_event_id"]
    )


async def kept_releases(
    connection: asyncpg.Connection, place_id: str, rows_max: int = ROWS_MAX
) -> list[KeptRelease]:
    """Every kept release of the place, per process oldest first."""
    rows = await connection.fetch(QUERIES.releases, place_id, rows_max)
    return [
        KeptRelease(
            row["allocation_id"], row["sequence"], row["released_at"], json.loads(row["release"])
        )
        for row in rows
    ]


async def allocation_named_by(
    connection: asyncpg.Connection,
    place_id: str,
    contract_id: str | None,
    payment_id: str | None,
) -> str | None:
    """The allocation an event about a contract or a payment concerns, if the gateway knows it."""
    if contract_id is not None:
        found = await connection.fetchval(QUERIES.allocation_of_contract, place_id, contract_id)
        if found is not None:
            return str(found)
    if payment_id is not None:
        found = await connection.fetchval(QUERIES.allocation_of_payment, place_id, payment_id)
        if found is not None:
            return str(found)
    return None


async def is_outcomes_contract(
    connection: asyncpg.Connection, place_id: str, allocation_id: str
) -> bool:
    found: bool = await connection.fetchval(QUERIES.is_outcomes_contract, place_id, allocation_id)
    return found


class _Latest:
    """A kept release as `keep_releases` compares it: its digest at once, the release itself
    (a whole process, every payment so far) parsed only when a release follows it."""

    def __init__(self, row: asyncpg.Record, allocation_id: str) -> None:
        self.digest: str = row["content_sha256"]
        self.released_at: datetime = row["released_at"]
        self._row = row
        self._allocation_id = allocation_id

    @property
    def kept(self) -> KeptRelease:
        row = self._row
        return KeptRelease(
            self._allocation_id, row["sequence"], row["released_at"], json.loads(row["release"])
        )


async def _latest(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, moment: datetime | None
) -> _Latest | None:
    row = await connection.fetchrow(QUERIES.latest_release_before, place_id, allocation_id, moment)
    return _Latest(row, allocation_id) if row is not None else None
