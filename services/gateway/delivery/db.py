"""The delivery room's database access: each department's spend feed, its webhook subscriptions,
and the deliveries and attempts queued from the feed. The only module of the room that talks to
asyncpg."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.runtime.db import holds_session_state
from services.runtime.sql import load_queries

QUERIES = load_queries(Path(__file__).parent / "queries.sql")

Row = dict[str, Any]
# A commit that queued deliveries notifies this channel, suffixed with the schema (the trigger
# of gateway migration 032).
DELIVERIES_QUEUED_CHANNEL_PREFIX = "webhook_deliveries_queued_"


def _rows(records: list[asyncpg.Record]) -> list[Row]:
    return [dict(record) for record in records]


@dataclass(frozen=True)
class SpendView:
    """One department's view of one spend event, as the feed keeps it."""

    department_code: str
    amount_pence: int
    record: Row
    place_id: str
    spend_id: str
    event_id: uuid.UUID
    # The trace the spend event travelled in, so its webhook deliveries continue it.
    traceparent: str | None = None


# --- Department spend feed --------------------------------------------------------------------


async def append_department_spend(connection: asyncpg.Connection, views: list[SpendView]) -> None:
    """Append departments' views to the feed in order, numbered in commit order under the feed
    lock, and queue a webhook delivery per active subscription of each department."""
    await connection.execute(QUERIES.lock_spend_feed)
    await connection.execute(
        QUERIES.append_department_spend,
        [view.department_code for view in views],
        [view.amount_pence for view in views],
        [json.dumps(view.record) for view in views],
        [view.place_id for view in views],
        [view.spend_id for view in views],
        [view.event_id for view in views],
        [view.traceparent for view in views],
    )


async def department_spend_after(
    connection: asyncpg.Connection,
    department_code: str,
    after: int,
    limit: int,
    places: list[str] | None,
) -> list[Row]:
    """The department's feed after a sequence, in `places` only (None: every place)."""
    rows = await connection.fetch(
        QUERIES.department_spend_after, department_code, after, limit, places
    )
    return [{**dict(row), "record": json.loads(row["record"])} for row in rows]


# --- Webhooks ---------------------------------------------------------------------------------


async def insert_subscription(
    connection: asyncpg.Connection,
    subscription_id: uuid.UUID,
    department_code: str,
    url: str,
    secret: str,
    created_by: str,
    places: list[str] | None,
) -> datetime:
    """A subscription delivering the department's spend in `places` (None: every place)."""
    created_at: datetime = await connection.fetchval(
        QUERIES.insert_subscription,
        subscription_id,
        department_code,
        url,
        secret,
        created_by,
        places,
    )
    return created_at


async def subscriptions_of(
    connection: asyncpg.Connection, department_code: str, places: list[str] | None
) -> list[Row]:
    """The department's subscriptions whose places all lie in `places` (None: every place)."""
    return _rows(await connection.fetch(QUERIES.subscriptions_of, department_code, places))


async def subscription(
    connection: asyncpg.Connection,
    department_code: str,
    subscription_id: uuid.UUID,
    places: list[str] | None,
) -> Row | None:
    """One subscription, if its places all lie in `places` (None: every place)."""
    row = await connection.fetchrow(QUERIES.subscription, department_code, subscription_id, places)
    return dict(row) if row else None


async def deactivate_subscription(
    connection: asyncpg.Connection,
    department_code: str,
    subscription_id: uuid.UUID,
    deactivated_by: str,
    reason: str,
) -> int:
    """Stop an active subscription and cancel its pending deliveries (recording `reason` as
    their last error); return how many were cancelled (0 when it was already stopped)."""
    cancelled: int = await connection.fetchval(
        QUERIES.deactivate_subscription, department_code, subscription_id, deactivated_by, reason
    )
    return cancelled


async def replay_since(
    connection: asyncpg.Connection,
    subscription_id: uuid.UUID,
    department_code: str,
    since: datetime,
) -> int:
    status = await connection.execute(QUERIES.replay_since, subscription_id, department_code, since)
    return int(status.split()[-1])


@dataclass(frozen=True)
class DeliveryClaim:
    """One process taking up due deliveries to post (`claim_due_deliveries` in queries.sql):
    how many, how many of one subscription may be in flight, and for how long the claim holds."""

    claim_id: uuid.UUID
    claimant: str
    deliveries_max: int
    subscription_in_flight_max: int
    held_s: float
    attempts_max: int
    cancelled_reason: str
    abandoned_reason: str


async def claim_due_deliveries(connection: asyncpg.Connection, claim: DeliveryClaim) -> list[Row]:
    """Claim due deliveries, committed before any is posted. Each row's `fate` says what became
    of it: 'claimed' (post it), 'cancelled' (its subscription was stopped) or 'dead' (its last
    attempt was abandoned by a process that died); `attempts` is the count before this one."""
    rows = await connection.fetch(
        QUERIES.claim_due_deliveries,
        claim.deliveries_max,
        claim.subscription_in_flight_max,
        claim.claim_id,
        claim.claimant,
        claim.held_s,
        claim.attempts_max,
        claim.cancelled_reason,
        claim.abandoned_reason,
    )
    return _rows(rows)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt at a delivery came to, and what the delivery becomes."""

    delivery_id: int
    claim_id: uuid.UUID
    status: str
    retry_in_s: float
    error: str
    attempt: int
    status_code: int | None
    duration_ms: int


async def record_delivery_outcomes(
    connection: asyncpg.Connection, outcomes: list[DeliveryOutcome]
) -> int:
    """Record the attempts whose claims are still held; return how many were (the others'
    deliveries were taken up again after their claims lapsed)."""
    columns = list(zip(*[astuple(outcome) for outcome in outcomes], strict=True))
    status = await connection.execute(QUERIES.record_delivery_outcomes, *[list(c) for c in columns])
    return int(status.split()[-1])


async def deliveries_of(
    connection: asyncpg.Connection, subscription_id: uuid.UUID, status: str | None, limit: int
) -> list[Row]:
    rows = await connection.fetch(QUERIES.deliveries_of, subscription_id, status, limit)
    return [{**dict(row), "attempt_log": json.loads(row["attempt_log"])} for row in rows]


async def department_spend_rows(
    connection: asyncpg.Connection, place_id: str, department_code: str
) -> list[Row]:
    """The department's feed rows in the place, each spread out with its spend record; a spend's
    `spent_at` is None here (the spend list has it: `projections.db.spent_at_of`)."""
    records = await connection.fetch(QUERIES.department_spend_rows, place_id, department_code)
    rows = []
    for row in _view_rows(records, ("record",)):
        record = row.pop("record")
        record.pop("place_id", None)
        record.pop("department_code", None)
        rows.append({**record, **row})
    return rows


async def statement_by_year(
    connection: asyncpg.Connection,
    place_id: str,
    department_code: str | None = None,
    provider_id: str | None = None,
) -> list[Row]:
    """Paid and recovered pence per financial year, for a department or a provider."""
    rows = await connection.fetch(QUERIES.statement_by_year, place_id, department_code, provider_id)
    return _rows(rows)


async def departments_net(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    """Each department's feed (spend, and recoveries as negative spend) per financial year."""
    return _rows(await connection.fetch(QUERIES.reconcile_departments, place_id))


async def recoveries_by_year(connection: asyncpg.Connection, place_id: str) -> list[Row]:
    """The recoveries the department feeds carry, per financial year (negative pence)."""
    return _rows(await connection.fetch(QUERIES.recoveries_by_year, place_id))


def _plain(value: Any) -> Any:
    """A value as JSON has it: times and dates as ISO strings, ids as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _view_rows(records: list[asyncpg.Record], json_columns: tuple[str, ...] = ()) -> list[Row]:
    """Rows as plain JSON-ready dicts, with the named jsonb-as-text columns parsed."""
    return [
        {
            name: json.loads(value) if name in json_columns and value is not None else _plain(value)
            for name, value in record.items()
        }
        for record in records
    ]


async def recovered_by_department(
    connection: asyncpg.Connection, place_id: str, financial_year: str
) -> dict[str, int]:
    """Pence recovered per department in the year (departments with none left out)."""
    rows = await connection.fetch(QUERIES.recovered_by_department, place_id, financial_year)
    return {row["department_code"]: row["recovered_pence"] for row in rows}


async def spend_by_month_net(
    connection: asyncpg.Connection, place_id: str, department_code: str | None
) -> list[dict[str, object]]:
    """Spend per month and department, net of recoveries, with each department's running
    total (`views.spend_over_time` says the shape)."""
    rows = await connection.fetch(QUERIES.spend_by_month_net, place_id, department_code)
    return [dict(row) for row in rows]


async def listen_for_queued_deliveries(
    connection: asyncpg.Connection, callback: Callable[..., None]
) -> None:
    """Call `callback` whenever a commit queued webhook deliveries in the connection's schema,
    and when the connection is lost (nothing would be heard on it any more). The LISTEN is
    session state: the pool resets the connection in full when it comes back, should the
    UNLISTEN before then have failed."""
    holds_session_state(connection)
    schema = await connection.fetchval("SELECT current_schema()")
    await connection.add_listener(DELIVERIES_QUEUED_CHANNEL_PREFIX + schema, callback)
    connection.add_termination_listener(callback)


async def stop_listening_for_queued_deliveries(
    connection: asyncpg.Connection, callback: Callable[..., None]
) -> None:
    """Undo `listen_for_queued_deliveries` (before the connection goes back to its pool)."""
    schema = await connection.fetchval("SELECT current_schema()")
    await connection.remove_listener(DELIVERIES_QUEUED_CHANNEL_PREFIX + schema, callback)
    connection.remove_termination_listener(callback)


def connection_alive(connection: asyncpg.Connection) -> bool:
    """Whether a connection taken from the pool is still open (asyncpg detaches a pooled
    connection's proxy when the connection dies, and the proxy then answers nothing)."""
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:
        return False
