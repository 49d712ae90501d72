"""Keeps and reads the OCDS release history (the `ocds_releases` table; rules in `history.py`).

A release is kept in the transaction of the event that changed the process (`keep_releases`,
from `history_handlers.py`), and when a request finds the process changed in a way no event
told (an organisation registered or renamed) or never released (data kept before this table).
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

import asyncpg

from services.gateway.opendata import history
from services.gateway.opendata.db import QUERIES, ROWS_MAX
from services.gateway.opendata.history import KeptRelease
from services.gateway.opendata.publishing import PlaceData


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
        content = history.current_content(data, allocation)
        digest = history.digest(content)
        in_force = await _latest(connection, data.place_id, allocation_id, moment)
        latest = await _latest(connection, data.place_id, allocation_id, None)
        if digest in {r.digest for r in (in_force, latest) if r is not None}:
            continue
        sequence = await connection.fetchval(
            QUERIES.next_release_sequence, data.place_id, allocation_id
        )
        previous = latest.kept if latest else None
        released_at = max(moment, previous.released_at) if previous else moment
        release = history.next_release(previous, content, sequence, released_at)
        await connection.execute(
            QUERIES.store_release,
            data.place_id,
            allocation_id,
            sequence,
            released_at,
            digest,
            json.dumps(release, ensure_ascii=False),
            caused_by,
        )
        kept += 1
    return kept


async def catch_up(connection: asyncpg.Connection, data: PlaceData, moment: datetime) -> int:
    """Keep a release for every outcomes contract whose content changed since its last one."""
    async with connection.transaction():
        return await keep_releases(
            connection, data, [a.allocation_id for a in data.contracted()], moment
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
    def __init__(self, row: asyncpg.Record, allocation_id: str) -> None:
        self.digest: str = row["content_sha256"]
        self.kept = KeptRelease(
            allocation_id, row["sequence"], row["released_at"], json.loads(row["release"])
        )


async def _latest(
    connection: asyncpg.Connection, place_id: str, allocation_id: str, moment: datetime | None
) -> _Latest | None:
    row = await connection.fetchrow(QUERIES.latest_release_before, place_id, allocation_id, moment)
    return _Latest(row, allocation_id) if row is not None else None
