"""Exports from real data: the audit export of a real ledger after real flows, verified by the
standalone script; the public open-data endpoints of the real gateway over read models built by
its own handlers, valid against the standards and free of personal data."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest

from contracts import (
    AllocationApproved,
    AllocationFunded,
    AllocationProposed,
    AttributionShare,
    EvidenceSubmitted,
    EvidenceVerified,
    FinancialYearAmount,
    OutcomesContractRegistered,
    PaymentMade,
    PaymentRequested,
    RecordSettlement,
    RecoveryRecorded,
    ReservationMade,
    ReservationRequested,
    topics,
)
from contracts.envelope import wrap
from contracts.outcomes import (
    ClaimPeriod,
    ClawbackRaised,
    ClawbackSettled,
    EvidenceSampled,
    MetricDefinition,
    MetricPrice,
    Payer,
    RemittanceAdvised,
    RemittanceLine,
    SampledClaim,
)
from services.gateway.opendata import validation
from services.ledger.app import DEFINITION as LEDGER
from singlepot.demo import participant_hash
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    feed_projector,
    gateway_settings,
    token_for,
)
from tests.support.kafka import TopicReader, eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
SINGLEPOT = str(Path(sys.executable).parent / "singlepot")
YEAR = "2026-27"


def settlement(settlement_id: str, department: str, stream: str, pence: int) -> RecordSettlement:
    return RecordSettlement(
        place_id="GM",
        settlement_id=settlement_id,
        department_code=department,
        funding_stream_code=stream,
        spending_review_period="SR2025",
        profile=(FinancialYearAmount(financial_year=YEAR, amount_pence=pence),),
    )


async def payment_made(reader: TopicReader) -> list[PaymentMade]:
    return reader.events(PaymentMade)


async def command(
    *arguments: str, database_url: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *arguments,
        env={**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_the_audit_export_of_a_real_ledger_is_verified_by_the_standalone_script(
    settings, database_url, tmp_path: Path
) -> None:
    async with TopicReader(settings, topics.LEDGER_RESULTS) as reader, running(LEDGER, settings):
        await publish(
            settings,
            settlement("S-1", "DWP", "WORK", 100_000_00),
            settlement("S-2", "DHSC", "HEALTH", 80_000_00),
            ReservationRequested(
                place_id="GM",
                allocation_id="A-1",
                financial_year=YEAR,
                amount_pence=10_000_00,
                purpose="family hubs",
            ),
            PaymentRequested(
                place_id="GM",
                payment_id="PAY-1",
                allocation_id="A-1",
                provider_id="PROV-1",
                amount_pence=5_000_00,
                payment_kind="grant_instalment",
                purpose="first instalment",
            ),
        )
        await eventually(lambda: payment_made(reader))

    out = tmp_path / "GM-audit.jsonl"
    status, output = await command(
        SINGLEPOT, "export", "audit", "--place", "GM", "--out", str(out), database_url=database_url
    )
    assert status == 0, output
    header = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert header["transfer_count"] >= 4

    status, output = await command(
        sys.executable, "-I", str(ROOT / "tools" / "verify_audit.py"), str(out), database_url=""
    )
    assert status == 0, output
    assert output.strip() == (
        f"verified {header['transfer_count']} transfers, head {header['head_hash']}"
    )

    # One changed amount in the file, and the auditor's script names the line.
    lines = out.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"amount_pence":500000', '"amount_pence":500001', 1)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, output = await command(
        sys.executable, "-I", str(ROOT / "tools" / "verify_audit.py"), str(out), database_url=""
    )
    assert status == 1
    assert f"line {len(lines)}:" in output


PARTICIPANTS = [participant_hash(f"participant-{number}") for number in (1, 2, 3)]
PRINCIPALS = ["finance-officer-jane", "chair-amira", "verifier-olu"]


# Free text about a person: a clawback's reason must never reach an export.
CLAWBACK_REASON = "Employer says Jo Bloggs of 12 Acacia Avenue never started"


def shares(amount_pence: int) -> tuple[AttributionShare, ...]:
    third = amount_pence // 3
    return (
        AttributionShare(department_code="DHSC", funding_stream_code="HEALTH", amount_pence=third),
        AttributionShare(
            department_code="DWP", funding_stream_code="WORK", amount_pence=amount_pence - third
        ),
    )


EVENTS = [
    AllocationProposed(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="outcomes_contract",
        recipient_id="PROV-WORKWELL",
        purpose="Supported employment for people out of work with a health condition",
        mission_id="M-GOOD-JOBS",
        start_date=date(2026, 5, 1),
        end_date=date(2028, 3, 31),
        value_pence=1_500_000_00,
        financial_year="2026-27",
        proposed_by=PRINCIPALS[0],
    ),
    AllocationApproved(
        place_id="GM",
        allocation_id="A-1",
        allocation_type="outcomes_contract",
        recipient_id="PROV-WORKWELL",
        value_pence=1_500_000_00,
        financial_year="2026-27",
        decided_by=PRINCIPALS[1],
    ),
    ReservationMade(
        place_id="GM",
        allocation_id="A-1",
        financial_year="2026-27",
        amount_pence=1_500_000_00,
        attribution=shares(1_500_000_00),
        transfer_id="T-R-1",
    ),
    AllocationFunded(place_id="GM", allocation_id="A-1", amount_pence=1_500_000_00),
    OutcomesContractRegistered(
        place_id="GM",
        contract_id="C-1",
        allocation_id="A-1",
        provider_id="PROV-WORKWELL",
        prices=(
            MetricPrice(metric_id="JOB-START", price_pence=1_200_00),
            MetricPrice(metric_id="SUSTAINED-26-WEEKS", price_pence=3_500_00),
        ),
        cap_pence=1_500_000_00,
        payers=(Payer(payer_id="DWP", cap_pence=1_200_000_00),),
        metrics=(
            MetricDefinition(
                metric_id="JOB-START", definition="Started paid work", target_count=400
            ),
        ),
        start_date=date(2026, 6, 1),
        end_date=date(2028, 3, 31),
        claim_periods=(
            ClaimPeriod(
                claim_period_id="Q2", starts_on=date(2026, 7, 1), ends_on=date(2026, 9, 30)
            ),
            ClaimPeriod(
                claim_period_id="Q3", starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 31)
            ),
        ),
    ),
    EvidenceSubmitted(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        provider_id="PROV-WORKWELL",
        claim_count=3,
        accepted_count=3,
        rejected_count=0,
    ),
    EvidenceSampled(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        sample_seed="seed-1",
        sample_share=1.0,
        sample_size=3,
        accepted_count=3,
        claims=tuple(
            SampledClaim(participant_hash=hashed, metric_id="JOB-START", evidence_reference="p")
            for hashed in PARTICIPANTS
        ),
    ),
    EvidenceVerified(
        place_id="GM", contract_id="C-1", batch_id="B-1", verified_count=3, amount_pence=5_900_00
    ),
    PaymentMade(
        place_id="GM",
        payment_id="PAY-1",
        allocation_id="A-1",
        provider_id="PROV-WORKWELL",
        amount_pence=5_900_00,
        payment_kind="outcome_payment",
        contract_id="C-1",
        claim_batch_id="B-1",
        attribution=shares(5_900_00),
        transfer_id="T-P-1",
    ),
    RemittanceAdvised(
        place_id="GM",
        contract_id="C-1",
        batch_id="B-1",
        payment_id="PAY-1",
        provider_id="PROV-WORKWELL",
        amount_pence=5_900_00,
        lines=(
            RemittanceLine(
                claim_period_id="Q2",
                metric_id="JOB-START",
                metric_version=1,
                outcome_count=2,
                amount_pence=2_400_00,
            ),
            RemittanceLine(
                claim_period_id="Q2",
                metric_id="SUSTAINED-26-WEEKS",
                metric_version=1,
                outcome_count=1,
                amount_pence=3_500_00,
            ),
        ),
        transfer_id="T-P-1",
    ),
    ClawbackRaised(
        place_id="GM",
        contract_id="C-1",
        clawback_id="K-1",
        recovery_id="R-1",
        payment_id="PAY-1",
        participant_hash=PARTICIPANTS[0],
        metric_id="JOB-START",
        amount_pence=1_200_00,
        reason=CLAWBACK_REASON,
        claim_period_id="Q2",
    ),
    RecoveryRecorded(
        place_id="GM",
        recovery_id="R-1",
        payment_id="PAY-1",
        amount_pence=1_200_00,
        transfer_id="T-RC-1",
    ),
    ClawbackSettled(
        place_id="GM",
        contract_id="C-1",
        clawback_id="K-1",
        recovery_id="R-1",
        recovered=True,
        amount_pence=1_200_00,
    ),
]


# A grant beside the outcomes contract: 360Giving's, where the contract is OCDS's and INDIGO's.
GRANT_EVENTS = [
    AllocationProposed(
        place_id="GM",
        allocation_id="A-2",
        allocation_type="grant",
        recipient_id="PROV-HUBS",
        purpose="Family hubs in Salford",
        mission_id="M-HEALTHY-LIVES",
        start_date=date(2026, 5, 1),
        end_date=date(2027, 3, 31),
        value_pence=300_000_00,
        financial_year="2026-27",
        proposed_by=PRINCIPALS[0],
    ),
    AllocationApproved(
        place_id="GM",
        allocation_id="A-2",
        allocation_type="grant",
        recipient_id="PROV-HUBS",
        value_pence=300_000_00,
        financial_year="2026-27",
        decided_by=PRINCIPALS[1],
    ),
    ReservationMade(
        place_id="GM",
        allocation_id="A-2",
        financial_year="2026-27",
        amount_pence=300_000_00,
        attribution=shares(300_000_00),
        transfer_id="T-R-2",
    ),
    AllocationFunded(place_id="GM", allocation_id="A-2", amount_pence=300_000_00),
    PaymentMade(
        place_id="GM",
        payment_id="PAY-2",
        allocation_id="A-2",
        provider_id="PROV-HUBS",
        amount_pence=100_000_00,
        payment_kind="grant_instalment",
        contract_id=None,
        claim_batch_id=None,
        attribution=shares(100_000_00),
        transfer_id="T-P-2",
    ),
]

# The place's publishing identity and its organisations register, as finance staff set them.
PUBLISHERS = {
    "GM": {
        "threesixtygiving_prefix": "360G-gmca",
        "ocds_prefix": "ocds-gmca01",
        "publication_policy_url": "https://www.greatermanchester-ca.gov.uk/open-data",
    }
}
ORGANISATIONS = {
    "GM": {
        "kind": "combined_authority",
        "name": "Greater Manchester Combined Authority",
        "legal_form": "public_body",
        "org_id_scheme": "GB-LAE",
        "org_id_identifier": "GMCA",
        "postcode": "M1 6EU",
    },
    "DWP": {
        "kind": "department",
        "name": "Department for Work and Pensions",
        "legal_form": "public_body",
        "org_id_scheme": "GB-GOR",
        "org_id_identifier": "D10",
    },
    "DHSC": {
        "kind": "department",
        "name": "Department of Health and Social Care",
        "legal_form": "public_body",
        "org_id_scheme": "GB-GOR",
        "org_id_identifier": "D12",
    },
    "PROV-WORKWELL": {
        "kind": "provider",
        "name": "WorkWell Employment CIC",
        "legal_form": "social_enterprise",
        "org_id_scheme": "GB-COH",
        "org_id_identifier": "09876543",
        "postcode": "M4 5JD",
        "is_sme": True,
        "is_vcse": True,
    },
    "PROV-HUBS": {
        "kind": "provider",
        "name": "Salford Family Hubs Trust",
        "legal_form": "charity",
        "org_id_scheme": "GB-CHC",
        "org_id_identifier": "1234567",
        "postcode": "M5 4WT",
        "is_sme": True,
        "is_vcse": True,
    },
}


async def register_organisations(client: httpx.AsyncClient, database_url: str) -> None:
    token = await token_for(database_url, PRINCIPALS[0], "finance@GM")
    for reference, body in ORGANISATIONS.items():
        answer = await client.put(
            f"/api/v1/places/GM/organisations/{reference}", json=body, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text


async def feed_gateway(database_url: str) -> None:
    """Each event through the gateway's own handler, in a transaction, as its consumer does."""
    events = [*EVENTS, *GRANT_EVENTS]
    await feed_projector(database_url, [wrap(event, producer="test") for event in events])


async def test_the_public_open_data_is_valid_and_holds_no_personal_data(
    settings, database_url
) -> None:
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as client:
        # Registered before the contracts begin, as a place does: every release kept names
        # each organisation by its org-id (a release says what was known when it was made).
        await register_organisations(client, database_url)
        await feed_gateway(database_url)
        catalogue = (await client.get("/open-data/places/GM")).json()
        grants = (await client.get("/open-data/places/GM/360giving.json")).json()
        flat = (await client.get("/open-data/places/GM/360giving.csv")).text
        releases = (await client.get("/open-data/places/GM/ocds.json")).json()
        projects = (await client.get("/open-data/places/GM/indigo.json")).json()

    assert catalogue["licence"]["name"] == "Open Government Licence v3.0"
    assert catalogue["@type"] == "dcat:Catalog"  # DCAT: tests/unit/opendata/test_opendata_dcat.py
    assert [d["dcat:distribution"][0]["dcat:downloadURL"] for d in catalogue["dcat:dataset"]] == [
        d["url"] for d in catalogue["datasets"]
    ]
    assert catalogue["publisher"] == {
        "name": "Greater Manchester Combined Authority",
        "org_id": "GB-LAE-GMCA",
    }
    assert [d["name"] for d in catalogue["datasets"]] == [
        "360giving.json",
        "360giving.csv",
        "ocds.json",
        "ocds-records.json",
        "indigo.json",
        # The citizens' processes, published by the citizens room at its own addresses.
        "citizens/panel/open-data",
        "citizens/triggers/open-data",
        "citizens/committee/open-data",
    ]
    # Grant or contract: the grant A-2 in 360Giving only, the outcomes contract A-1 in OCDS.
    assert validation.errors(validation.threesixtygiving_validator(), grants) == []
    [grant] = grants["grants"]
    assert grant["id"] == "360G-gmca-A-2"
    assert grant["recipientOrganization"] == [
        {
            "id": "GB-CHC-1234567",
            "name": "Salford Family Hubs Trust",
            "charityNumber": "1234567",
            "postalCode": "M5 4WT",
        }
    ]
    assert grant["fundingOrganization"] == [
        {"id": "GB-LAE-GMCA", "name": "Greater Manchester Combined Authority"}
    ]
    assert {
        "name": "Salford",
        "geoCode": "E08000006",
        "geoCodeType": "LAD",
        "countryCode": "GB",
    } in (grant["beneficiaryLocation"])
    assert [t["value"] for t in grant["disbursementTransaction"]] == [100_000.0]
    assert grants["publisher"]["identifier"] == "GB-LAE-GMCA"
    assert "360G-gmca-A-2" in flat and "300000.00" in flat and "GB-CHC-1234567" in flat
    assert validation.errors(validation.ocds_validator(), releases) == []
    # The history: a release per change to the one contracting process, the latest last.
    assert {r["ocid"] for r in releases["releases"]} == {"ocds-gmca01-GM-A-1"}
    release = releases["releases"][-1]
    transactions = release["contracts"][0]["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in transactions] == [5_900.0, -1_200.0]
    assert release["tender"]["procurementMethod"] == "direct"
    assert "dateSigned" in release["contracts"][0]
    funders = {p["id"]: p["name"] for p in release["parties"] if "funder" in p["roles"]}
    assert funders == {
        "GB-GOR-D10": "Department for Work and Pensions",
        "GB-GOR-D12": "Department of Health and Social Care",
    }
    for project in projects["projects"]:
        assert validation.errors(validation.indigo_validator(), project["data"]) == []
    for organisation in projects["organisations"]:
        assert (
            validation.errors(validation.indigo_organisation_validator(), organisation["data"])
            == []
        )
    assert projects["projects"][0]["id"] == "GB-LAE-GMCA-C-1"
    project = projects["projects"][0]["data"]
    assert project["service_provisions"][0]["organisation_id"]["value"] == "GB-COH-09876543"
    assert release["awards"][0]["suppliers"][0]["id"] == "GB-COH-09876543"
    assert [p["money"]["amount"]["value"] for p in project["outcome_payments"]] == [4_700.0]
    job = next(m for m in project["outcome_metrics"] if m["id"] == "JOB-START")
    assert job["definition"]["value"] == "Started paid work"
    assert job["targeted_number_of_service_users_or_beneficiaries_total"]["value"] == 400
    caps = [c["maximum_potential_outcome_payment"] for c in project["outcome_payment_commitments"]]
    assert caps == [
        {"currency": {"value": "GBP", "status": "PUBLIC"}, "amount": {"value": 1_200_000.0}}
    ]
    assert project["dates"]["start_date_of_service_provision"]["value"] == "2026-06-01"
    milestones = release["contracts"][0]["milestones"]
    periods = {m["id"]: m["status"] for m in milestones if m["type"] == "payment"}
    assert periods == {"C-1-period-Q2": "met", "C-1-period-Q3": "scheduled"}

    everything = json.dumps([catalogue, grants, releases, projects]) + flat
    for secret in PARTICIPANTS + PRINCIPALS + ["participant-1", "seed-1", "Bloggs", "Acacia"]:
        assert secret not in everything, f"{secret} appears in an export"
    # The batch held 3 claims: too few to publish the count (they could identify people).
    assert "fewer than 10 outcome claims" in everything and "3 outcome claims" not in everything
    for placeholder in ("singlepot", "INDIGO-", "PROV-WORKWELL", "PROV-HUBS"):
        assert placeholder not in everything, f"{placeholder} appears in an export"


async def test_open_data_files_answer_as_open_data_clients_expect(settings, database_url) -> None:
    await feed_gateway(database_url)
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as client:
        await register_organisations(client, database_url)
        first = await client.get("/open-data/places/GM/ocds.json")
        again = await client.get("/open-data/places/GM/ocds.json")
        head = await client.head("/open-data/places/GM/360giving.csv")
        unchanged = await client.get(
            "/open-data/places/GM/ocds.json", headers={"If-None-Match": first.headers["etag"]}
        )
        places = (await client.get("/open-data/places")).json()
        unknown = await client.get("/open-data/places/ZZ/ocds.json")
        unknown_catalogue = await client.get("/open-data/places/ZZ")

    assert first.status_code == 200
    assert first.headers["etag"] == again.headers["etag"]  # same data, same bytes
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["access-control-allow-origin"] == "*"
    assert "open-government-licence/version/3" in first.headers["link"]
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/csv")
    assert "open-government-licence/version/3" in head.headers["link"]
    assert unchanged.status_code == 304
    assert unknown.status_code == 404 and unknown_catalogue.status_code == 404
    assert places["places"] == [
        {
            "place_id": "GM",
            "publisher": {"name": "Greater Manchester Combined Authority", "org_id": "GB-LAE-GMCA"},
            "url": "http://gateway/open-data/places/GM",
        }
    ]
    assert "ZZ Combined Authority" not in unknown.text


async def test_a_place_without_registered_prefixes_is_refused_outside_the_demo(
    settings, database_url
) -> None:
    await feed_gateway(database_url)
    async with client_for(settings, gateway_settings(opendata_demo=False)) as client:
        refused = await client.get("/open-data/places/GM/ocds.json")
    async with client_for(settings, gateway_settings(opendata_demo=True)) as client:
        demo = (await client.get("/open-data/places/GM/ocds.json")).json()

    assert refused.status_code == 409
    problem = refused.json()
    assert problem["errors"][0]["rule"] == "publishing_identity"
    assert "360Giving prefix" in problem["detail"]
    assert demo["releases"][0]["ocid"] == "ocds-demo00-GM-A-1"


async def test_the_organisations_register_checks_permission_rules_and_one_id(
    settings, database_url
) -> None:
    async with client_for(settings) as client:
        finance = await token_for(database_url, "finance-register", "finance@GM")
        elsewhere = await token_for(database_url, "finance-elsewhere", "finance@WM")
        provider = await token_for(database_url, "provider-1", "provider@GM:PROV-HUBS")
        body = ORGANISATIONS["PROV-HUBS"]
        path = "/api/v1/places/GM/organisations"
        wrong_place = await client.put(f"{path}/PROV-HUBS", json=body, headers=bearer(elsewhere))
        not_finance = await client.put(f"{path}/PROV-HUBS", json=body, headers=bearer(provider))
        bad_number = await client.put(
            f"{path}/PROV-HUBS",
            json={**body, "org_id_identifier": "12-AB"},
            headers=bearer(finance),
        )
        first = await client.put(f"{path}/PROV-HUBS", json=body, headers=bearer(finance))
        again = await client.put(f"{path}/PROV-HUBS", json=body, headers=bearer(finance))
        same_id = await client.put(f"{path}/PROV-OTHER", json=body, headers=bearer(finance))
        listed = await client.get(path, headers=bearer(finance))

    assert (wrong_place.status_code, not_finance.status_code) == (403, 403)
    assert bad_number.status_code == 422
    assert bad_number.json()["errors"][0] == {
        "field": "org_id_identifier",
        "rule": "scheme_format",
        "message": bad_number.json()["errors"][0]["message"],
    }
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["org_id"] == "GB-CHC-1234567"
    assert same_id.status_code == 409
    assert same_id.json()["errors"][0]["rule"] == "one_organisation_one_id"
    assert [o["organisation_ref"] for o in listed.json()["organisations"]] == ["PROV-HUBS"]


async def test_the_export_command_writes_what_the_endpoints_serve_and_refuses_placeholders(
    settings, database_url, tmp_path: Path
) -> None:
    await feed_gateway(database_url)
    async with client_for(settings) as client:
        await register_organisations(client, database_url)
    registered = {"SINGLEPOT_OPENDATA_PUBLISHERS": json.dumps(PUBLISHERS)}
    unregistered = {"SINGLEPOT_OPENDATA_PUBLISHERS": "{}", "SINGLEPOT_OPENDATA_DEMO": "false"}

    releases_file, grants_file = tmp_path / "ocds.json", tmp_path / "grants.csv"
    status, output = await command(
        SINGLEPOT,
        "export",
        "ocds",
        "--place",
        "GM",
        "--out",
        str(releases_file),
        database_url=database_url,
        env=registered,
    )
    assert status == 0, output
    releases = json.loads(releases_file.read_text(encoding="utf-8"))
    assert validation.errors(validation.ocds_validator(), releases) == []
    assert {r["ocid"] for r in releases["releases"]} == {"ocds-gmca01-GM-A-1"}
    records_file = tmp_path / "ocds-records.json"
    status, output = await command(
        SINGLEPOT,
        "export",
        "ocds-records",
        "--place",
        "GM",
        "--out",
        str(records_file),
        database_url=database_url,
        env=registered,
    )
    assert status == 0, output
    record_package = json.loads(records_file.read_text(encoding="utf-8"))
    assert validation.errors(validation.ocds_record_validator(), record_package) == []
    [record] = record_package["records"]
    assert len(record["releases"]) == len(releases["releases"])
    status, output = await command(
        SINGLEPOT,
        "export",
        "360giving",
        "--place",
        "GM",
        "--format",
        "csv",
        "--out",
        str(grants_file),
        database_url=database_url,
        env=registered,
    )
    assert status == 0, output
    flat = grants_file.read_text(encoding="utf-8")
    assert flat.startswith("Identifier,Title,") and "360G-gmca-A-2" in flat
    assert "Beneficiary Location:5:Geographic Code" in flat and "E08000006" in flat

    status, output = await command(
        SINGLEPOT, "export", "ocds", "--place", "GM", database_url=database_url, env=unregistered
    )
    assert status == 1
    assert "place GM cannot publish open data" in output and "Traceback" not in output


async def test_the_catalogue_lists_the_citizens_open_data_and_each_round(
    settings, database_url
) -> None:
    await feed_gateway(database_url)
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        await connection.execute(
            "INSERT INTO citizens_pb_rounds (place_id, round_id, title, allocation_id,"
            " budget_pence, proposals_open_on, proposals_close_on, voting_open_on,"
            " voting_close_on, eligible_areas, eligible_purposes, projects_start_on,"
            " projects_end_on, opened_by) VALUES ('GM', 'PB-2026', 'Parks 2026', 'PB-A',"
            " 5000000, '2026-05-01', '2026-05-31', '2026-06-15', '2026-07-15', '{Centre}',"
            " '{Parks}', '2026-09-01', '2027-03-31', 'finance-1')"
        )
    finally:
        await connection.close()
    published = gateway_settings(opendata_publishers=PUBLISHERS, opendata_demo=False)
    async with client_for(settings, published) as client:
        await register_organisations(client, database_url)
        catalogue = (await client.get("/open-data/places/GM")).json()
        citizens = [d for d in catalogue["datasets"] if d["name"].startswith("citizens/")]
        fetched = [await client.get(d["url"]) for d in citizens]

    api = "http://gateway/api/v1/places/GM/citizens"
    assert {d["media_type"] for d in citizens} == {"application/json"}
    assert [(d["name"], d["url"]) for d in citizens] == [
        ("citizens/panel/open-data", f"{api}/panel/open-data"),
        ("citizens/triggers/open-data", f"{api}/triggers/open-data"),
        ("citizens/committee/open-data", f"{api}/committee/open-data"),
        ("citizens/rounds/PB-2026/open-data", f"{api}/rounds/PB-2026/open-data"),
    ]
    assert "Parks 2026" in citizens[3]["title"]
    # Each has the DCAT fields the other datasets have, and its address answers.
    by_url = {d["dcat:distribution"][0]["dcat:downloadURL"]: d for d in catalogue["dcat:dataset"]}
    for listed, answer in zip(citizens, fetched, strict=True):
        dataset = by_url[listed["url"]]
        assert dataset["dct:title"] == listed["title"]
        assert "Never a resident's key" in dataset["dct:description"]
        assert dataset["dct:license"] == catalogue["licence"]["url"]
        assert dataset["dct:publisher"] == {"@id": catalogue["dct:publisher"]["@id"]}
        assert {"dct:issued", "dct:modified", "dct:spatial"} <= set(dataset)
        assert answer.status_code == 200, (listed["url"], answer.text)
        assert answer.json()["place_id"] == "GM"
    assert fetched[3].json()["round_id"] == "PB-2026"
