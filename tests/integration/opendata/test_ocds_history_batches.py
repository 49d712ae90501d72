"""OCDS releases in the projector's batch path: a fetch keeps one release per changed
contracting process, after the fetch's handlers, caused by and dated from the fetch's last
event of that process; it says what the one-event-at-a-time path's last release says, and a
replay of the fetch keeps nothing new."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from contracts import Event
from contracts.envelope import Envelope, wrap
from services.gateway.app import handle_batch
from services.gateway.opendata import history
from services.gateway.opendata.history_handlers import CHANGES_A_PROCESS
from services.gateway.projections import db as gateway_db
from tests.integration.gateway.gateway_support import client_for, gateway_settings
from tests.integration.opendata.test_ocds_history_live import feed
from tests.integration.opendata.test_opendata_exports_live import (
    EVENTS,
    GRANT_EVENTS,
    PUBLISHERS,
    register_organisations,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# What a release adds to the process's content: its own id, date and tags.
RELEASE_OWN = ("id", "date", "tag")


async def releases(connection: asyncpg.Connection) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT allocation_id, sequence, released_at, caused_by, release FROM ocds_releases "
        "ORDER BY allocation_id, sequence"
    )


def content(release_json: str) -> dict[str, Any]:
    release = json.loads(release_json)
    return {name: value for name, value in release.items() if name not in RELEASE_OWN}


async def test_a_batch_keeps_one_release_per_process_saying_what_the_last_event_made_it(
    settings, database_url
) -> None:
    envelopes: list[tuple[Envelope, Event]] = [
        (wrap(event, producer="test"), event) for event in [*EVENTS, *GRANT_EVENTS]
    ]
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as _client:
        await register_organisations(_client, database_url)
        # One event per transaction first: the release history as the one-message path keeps it.
        await feed(database_url, envelopes)
        connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
        try:
            one_by_one = await releases(connection)
            await gateway_db.clear_read_models(connection, "gateway")
            await connection.execute("DELETE FROM ocds_releases")
            async with connection.transaction():
                await handle_batch(connection, envelopes)
            batched = await releases(connection)
            await gateway_db.clear_read_models(connection, "gateway")
            async with connection.transaction():
                await handle_batch(connection, envelopes)
            replayed = await releases(connection)
        finally:
            await connection.close()

    assert len(one_by_one) > 1  # the events changed the process several times
    [kept] = batched  # the grant keeps none; the outcomes contract one, not one per event
    assert kept["allocation_id"] == "A-1" and kept["sequence"] == 1
    contract_events = envelopes[: len(EVENTS)]  # the rest are the grant's
    last_change = [e for e, event in contract_events if type(event) in CHANGES_A_PROCESS][-1]
    assert kept["caused_by"] == last_change.event_id
    assert kept["released_at"] == last_change.occurred_at
    # Equal as the history compares releases: amendments (only a history of single changes has
    # them) and the moments the read models stamp when they handle an event left out.
    final = history.digest(content(one_by_one[-1]["release"]))
    assert history.digest(content(kept["release"])) == final
    assert replayed == batched  # the replayed fetch keeps nothing new
