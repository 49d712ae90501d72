"""OCDS release history on the real gateway: the handlers keep a release per change to an
outcomes contract (award, contract signed, payment, recovery), the open-data endpoints publish
the history and the records compiled from it (both pass libcoveocds), a replay of the same
events (a rebuild) keeps nothing new, and a grant keeps no OCDS release."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from contracts import Event
from contracts.envelope import Envelope, wrap
from contracts.outcomes import InvestorFlowRecorded
from services.gateway.app import HANDLERS
from services.gateway.opendata import validation
from services.gateway.projections import db as gateway_db
from services.runtime.consumer import HandlerContext
from services.runtime.outbox import Outbox
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.opendata.test_opendata_exports_live import (
    EVENTS,
    GRANT_EVENTS,
    PUBLISHERS,
    register_organisations,
)
from tests.support.ocds_review import findings, review

pytestmark = [pytest.mark.integration, pytest.mark.slow]

pytest.importorskip("libcoveocds")


async def feed(database_url: str, envelopes: list[tuple[Envelope, Event]]) -> None:
    """Each event through the gateway's handler in its own transaction, as the consumer."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        for envelope, event in envelopes:
            async with connection.transaction():
                outbox = Outbox(connection, "gateway", causation=envelope)
                await HANDLERS[type(event)](HandlerContext(connection, outbox, envelope), event)
    finally:
        await connection.close()


async def kept_rows(database_url: str) -> list[tuple[str, int, str]]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        rows = await connection.fetch(
            "SELECT allocation_id, sequence, release::text AS release FROM ocds_releases "
            "ORDER BY allocation_id, sequence"
        )
        return [(row["allocation_id"], row["sequence"], row["release"]) for row in rows]
    finally:
        await connection.close()


async def test_a_release_is_kept_per_change_and_records_are_compiled_from_them(
    settings, database_url
) -> None:
    envelopes = [(wrap(event, producer="test"), event) for event in [*EVENTS, *GRANT_EVENTS]]
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as client:
        await register_organisations(client, database_url)
        await feed(database_url, envelopes)
        first = await client.get("/open-data/places/GM/ocds.json")
        again = await client.get("/open-data/places/GM/ocds.json")
        releases = first.json()
        first_records = await client.get("/open-data/places/GM/ocds-records.json")
        record_package = first_records.json()
        kept = await kept_rows(database_url)

        # A rebuild: the read models emptied and every event replayed, in order.
        connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
        try:
            await gateway_db.clear_read_models(connection, "gateway")
        finally:
            await connection.close()
        await feed(database_url, envelopes)
        replayed = await kept_rows(database_url)
        records_after = await client.get("/open-data/places/GM/ocds-records.json")

    tags = [r["tag"] for r in releases["releases"]]
    assert tags[0] == ["tender", "award", "contract"]
    assert ["contractUpdate"] in tags  # signed, then each claim's milestone
    assert tags == [
        ["tender", "award", "contract"],  # funded: the board's direct award
        ["contractUpdate"],  # the contract registered (signed) with its claim periods
        ["contractUpdate"],  # a claim submitted: a delivery milestone
        ["contractUpdate"],  # the claim verified: the milestone met
        ["implementation"],  # the outcome payment
        ["contractUpdate"],  # the remittance advice: the claim period's payment met
        ["implementationUpdate"],  # the recovery recorded, netted off the payment
        ["implementationUpdate"],  # the clawback settled: a negative transaction of its own
    ]
    assert tags[-1] == ["implementationUpdate"]  # the clawback settled: a negative transaction
    assert [r["id"] for r in releases["releases"]] == [
        f"ocds-gmca01-GM-A-1-{n:04d}" for n in range(1, len(tags) + 1)
    ]
    dates = [r["date"] for r in releases["releases"]]
    assert dates == sorted(dates)
    assert all(allocation_id == "A-1" for allocation_id, _, _ in kept)  # the grant: none
    assert again.headers["etag"] == first.headers["etag"]  # a request keeps nothing new
    assert findings(review(releases)) == {}

    [record] = record_package["records"]
    assert record["ocid"] == "ocds-gmca01-GM-A-1"
    assert [r["date"] for r in record["releases"]] == dates
    compiled = record["compiledRelease"]
    transactions = compiled["contracts"][0]["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in transactions] == [5_900.0, -1_200.0]
    assert compiled["date"] == dates[-1]
    assert validation.errors(validation.ocds_record_validator(), record_package) == []
    assert findings(review(record_package, record_package=True)) == {}

    assert replayed == kept  # the replay kept nothing new and changed nothing
    assert records_after.headers["etag"] == first_records.headers["etag"]


async def test_an_investor_flow_reaches_indigo_and_ocds_through_the_handlers(
    settings, database_url
) -> None:
    flow = InvestorFlowRecorded(
        place_id="GM",
        contract_id="C-1",
        flow_id="F-1",
        investor_id="INV-NORTHERN",
        flow_kind="investment",
        amount_pence=250_000_00,
        occurred_on=date(2026, 6, 1),
    )
    investor = {
        "kind": "investor",
        "name": "Northern Social Investment Ltd",
        "legal_form": "company",
        "org_id_scheme": "GB-COH",
        "org_id_identifier": "12345678",
    }
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as client:
        await register_organisations(client, database_url)
        token = await token_for(database_url, "finance-investors", "finance@GM")
        answer = await client.put(
            "/api/v1/places/GM/organisations/INV-NORTHERN", json=investor, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
        envelopes = [(wrap(event, producer="test"), event) for event in [*EVENTS, flow]]
        await feed(database_url, envelopes)
        await feed(database_url, envelopes[-1:])  # the same flow again: kept once
        projects = (await client.get("/open-data/places/GM/indigo.json")).json()
        releases = (await client.get("/open-data/places/GM/ocds.json")).json()

    [project] = projects["projects"]
    [investment] = project["data"]["investments"]
    assert investment["organisation_id"] == {"value": "GB-COH-12345678"}
    assert investment["investment_commitment"]["amount"]["exact"]["value"] == 250_000.0
    assert "GB-COH-12345678" in {o["id"] for o in projects["organisations"]}
    latest = releases["releases"][-1]
    assert latest["tag"] == ["contractUpdate"]  # the parties changed: an investor joined
    funders = {p["id"] for p in latest["parties"] if "funder" in p["roles"]}
    assert "GB-COH-12345678" in funders
    assert findings(review(releases)) == {}
