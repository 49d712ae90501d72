"""The open-data builders against the standards' published JSON schemas: 360Giving grants
(JSON and the flat CSV), OCDS release packages and INDIGO projects; amounts exact to the penny."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.gateway.opendata import indigo, ocds, threesixtygiving, validation
from services.gateway.opendata.publishing import PENCE_MAX, json_pounds, pounds
from tests.unit.opendata.opendata_sample import MOMENT, sample


def test_the_360giving_package_validates_against_the_published_schema() -> None:
    document = threesixtygiving.package(sample(), MOMENT)
    assert validation.errors(validation.threesixtygiving_validator(), document) == []
    # A-2 is an outcomes contract: OCDS's and INDIGO's, never also a 360Giving grant.
    assert [grant["id"] for grant in document["grants"]] == ["360G-gmca-A-1", "360G-gmca-A-4"]


def test_the_360giving_schema_check_catches_a_grant_without_an_amount() -> None:
    document = threesixtygiving.package(sample(), MOMENT)
    del document["grants"][0]["amountAwarded"]
    problems = validation.errors(validation.threesixtygiving_validator(), document)
    assert problems == ["grants/0: 'amountAwarded' is a required property"]


def test_a_grant_names_its_funding_streams_and_its_payments_net_of_recoveries() -> None:
    grants = {g["id"]: g for g in threesixtygiving.package(sample(), MOMENT)["grants"]}
    hubs = grants["360G-gmca-A-1"]
    streams = [c["code"] for c in hubs["classifications"] if c["vocabulary"].endswith("stream")]
    assert streams == ["DHSC/PUBLIC-HEALTH", "DWP/WORK-AND-HEALTH"]
    assert hubs["amountAwarded"] == 12_345_678.90
    assert [t["value"] for t in hubs["disbursementTransaction"]] == [1_000_000.01]
    assert "360G-gmca-A-2" not in grants


def test_the_360giving_csv_uses_the_standards_column_titles_and_exact_amounts() -> None:
    text = threesixtygiving.csv_text(threesixtygiving.csv_rows(sample()))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0])[: len(threesixtygiving.CSV_COLUMNS)] == threesixtygiving.CSV_COLUMNS
    assert rows[0]["Identifier"] == "360G-gmca-A-1"
    assert rows[0]["Amount Awarded"] == "12345678.90"
    assert rows[0]["Amount Disbursed"] == "1000000.01"
    assert rows[0]["Recipient Org:Identifier"] == "GB-CHC-1234567"
    assert rows[0]["Recipient Org:Charity Number"] == "1234567"
    assert rows[0]["Funding Org:Name"] == "Greater Manchester Combined Authority"
    # What the JSON carries, the CSV carries: locations, classifications, disbursements.
    assert rows[0]["Beneficiary Location:5:Name"] == "Salford"
    assert rows[0]["Beneficiary Location:5:Geographic Code"] == "E08000006"
    assert rows[0]["Classifications:2:Code"] == "DWP/WORK-AND-HEALTH"
    assert rows[0]["disbursementTransaction:0:value"] == "1000000.01"  # untitled in 1.4.3


def test_the_ocds_release_package_validates_against_the_published_schema() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    assert validation.errors(validation.ocds_validator(), document) == []


def test_every_vendored_schema_is_the_file_the_standard_published_at_its_release_tag() -> None:
    vendored = sorted(path.name for path in validation.SCHEMAS.glob("*.json"))
    assert vendored == sorted(validation.VENDORED_BLOBS)
    for name, blob in validation.VENDORED_BLOBS.items():
        assert validation.git_blob_id((validation.SCHEMAS / name).read_bytes()) == blob, name
    codelists = validation.SCHEMAS / validation.OCDS_CODELISTS
    assert validation.git_tree_id(codelists) == validation.OCDS_CODELISTS_TREE


def test_the_vendored_ocds_release_schema_is_1_1_5_and_has_no_milestone_value() -> None:
    schema = json.loads((validation.SCHEMAS / "release-schema.json").read_text(encoding="utf-8"))
    assert schema["id"] == validation.RELEASE_SCHEMA_URI
    # Milestone.value arrived in OCDS 1.2: the 1.2-dev copy once vendored here accepted it.
    assert "value" not in schema["definitions"]["Milestone"]["properties"]
    assert {"Planning", "Tender", "Award", "Contract", "Milestone", "Transaction"} <= set(
        schema["definitions"]
    )


def test_an_ocds_release_carries_milestones_and_payments_as_transactions() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    release = next(r for r in document["releases"] if r["ocid"] == "ocds-gmca01-GM-A-2")
    contract = release["contracts"][0]
    assert [m["id"] for m in contract["milestones"]] == [
        "A-2-approval",
        "C-1-period-Q2",
        "C-1-period-Q3",
        "C-1-B-2026-09",
    ]
    assert contract["milestones"][3]["status"] == "met"
    transactions = contract["implementation"]["transactions"]
    assert [(t["id"], t["value"]["amount"]) for t in transactions] == [
        ("P-2", 5_900.0),
        ("P-2-recovery-K-1", -1_200.0),
    ]
    assert {"funder"} in [set(p["roles"]) for p in release["parties"]]
    assert contract["dateSigned"] == "2026-09-30T12:00:00Z"  # when the contract was registered
    assert contract["period"]["endDate"].startswith(
        f"{contract['period']['endDate'][:10]}T23:59:59"
    )
    assert release["tender"]["procurementMethod"] == "direct"
    assert "status" not in release["tender"] and "value" not in release["tender"]
    # Grants (A-1, the cancelled A-4) are 360Giving's, not OCDS's.
    assert [r["ocid"] for r in document["releases"]] == ["ocds-gmca01-GM-A-2"]


def test_the_ocds_schema_check_catches_an_unknown_contract_status() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    document["releases"][0]["contracts"][0]["status"] = "paused"
    problems = validation.errors(validation.ocds_validator(), document)
    assert len(problems) == 1 and problems[0].startswith("releases/0/contracts/0/status")


def test_indigo_projects_validate_against_the_published_project_schema() -> None:
    document = indigo.projects(sample(), MOMENT)
    assert [project["id"] for project in document["projects"]] == ["GB-LAE-GMCA-C-1"]
    for project in document["projects"]:
        assert validation.errors(validation.indigo_validator(), project["data"]) == []


def test_the_vendored_indigo_project_schema_is_4_1_0() -> None:
    text = (validation.SCHEMAS / validation.INDIGO_SCHEMA).read_text(encoding="utf-8")
    schema = json.loads(text)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert {
        "outcome_metrics",
        "outcome_pricings",
        "outcome_payments",
        "outcome_payment_commitments",
    } <= set(schema["properties"])
    assert "object_with_value_date_and_status" in schema["definitions"]


def test_the_indigo_schema_check_catches_a_date_in_the_wrong_format() -> None:
    data = indigo.projects(sample(), MOMENT)["projects"][0]["data"]
    data["dates"]["start_date_of_service_provision"]["value"] = "1 May 2026"
    problems = validation.errors(validation.indigo_validator(), data)
    assert len(problems) == 1
    assert problems[0].startswith("dates/start_date_of_service_provision/value")


def test_an_indigo_project_has_prices_payer_caps_and_outcome_payments() -> None:
    data = indigo.projects(sample(), MOMENT)["projects"][0]["data"]
    prices = {
        p["outcome_metric_id"]["value"]: p["price_per_unit"]["amount"]["value"]
        for p in data["outcome_pricings"]
    }
    assert prices == {"JOB-START": 1_200.0, "SUSTAINED-26-WEEKS": 3_500.0}
    commitment = data["outcome_payment_commitments"][0]
    # The payer's registered cap, not the sum of its metrics' caps (£1,500,000).
    assert commitment["maximum_potential_outcome_payment"]["amount"]["value"] == 1_400_000.0
    assert [p["money"]["amount"]["value"] for p in data["outcome_payments"]] == [4_700.0]
    assert data["stage_development"]["value"] == "Implementation"


def test_an_indigo_project_publishes_the_registered_metric_definitions_targets_and_dates() -> None:
    data = indigo.projects(sample(), MOMENT)["projects"][0]["data"]
    metrics = {m["id"]: m for m in data["outcome_metrics"]}
    job = metrics["JOB-START"]
    assert job["definition"]["value"] == "Started paid work of 16 hours a week or more"
    assert job["targeted_number_of_service_users_or_beneficiaries_total"]["value"] == 400
    assert job["outcome_validation_method"]["value"] == "Simple ex-post verification"
    assert "target_population" not in metrics["SUSTAINED-26-WEEKS"]
    most = {
        p["outcome_metric_id"]["value"]: p["maximum_price_if_all_targets_achieved"]["amount"]
        for p in data["outcome_pricings"]
    }
    # 400 x £1,200 = £480,000 within its £600,000 cap; 250 x £3,500 = £875,000 over £900,000.
    assert most == {
        "JOB-START": {"value": "480000.00"},
        "SUSTAINED-26-WEEKS": {"value": "875000.00"},
    }
    assert data["dates"]["start_date_of_service_provision"]["value"] == "2026-06-01"
    assert (
        data["overall_project_finance"]["total_outcome_payments_made"]["amount"]["value"] == 4_700.0
    )


def test_ocds_claim_period_milestones_are_due_at_the_deadline_and_met_once_paid() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    release = next(r for r in document["releases"] if r["ocid"] == "ocds-gmca01-GM-A-2")
    periods = {m["id"]: m for m in release["contracts"][0]["milestones"] if "-period-" in m["id"]}
    paid, later = periods["C-1-period-Q2"], periods["C-1-period-Q3"]
    assert (paid["type"], paid["status"], paid["dueDate"]) == (
        "payment",
        "met",
        "2026-10-31T23:59:59+00:00",
    )
    # OCDS 1.1.5 milestones have no value: the planned payment is in the description.
    assert "value" not in paid
    assert paid["description"] == "Planned outcome payments £5000.00"
    assert (later["status"], later["dueDate"]) == ("scheduled", "2026-12-31T23:59:59+00:00")
    assert "description" not in later


def test_the_indigo_schema_check_catches_a_wrong_stage() -> None:
    data = indigo.projects(sample(), MOMENT)["projects"][0]["data"]
    data["stage_development"]["value"] = "Nearly done"
    problems = validation.errors(validation.indigo_validator(), data)
    assert len(problems) == 1 and problems[0].startswith("stage_development/value")


@given(st.integers(min_value=-PENCE_MAX, max_value=PENCE_MAX))
def test_pounds_are_exact_in_decimal_and_in_json(pence: int) -> None:
    assert pounds(pence) * 100 == pence
    assert pounds(pence).as_tuple().exponent == -2
    text = json.dumps(json_pounds(pence))
    assert Decimal(text) * 100 == pence


def test_an_amount_a_json_number_cannot_hold_exactly_is_refused() -> None:
    with pytest.raises(ValueError, match="amount_pence 1000000000000000 is beyond"):
        pounds(PENCE_MAX + 1)


def test_the_award_date_is_the_boards_decision_not_the_rows_last_update() -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    data = sample()
    decided = datetime(2026, 4, 20, 15, 30, tzinfo=UTC)
    allocations = tuple(replace(a, decided_at=decided) for a in data.allocations)
    data = replace(data, allocations=allocations)
    grant = threesixtygiving.package(data, MOMENT)["grants"][0]
    assert grant["awardDate"] == "2026-04-20"
    release = ocds.release_package(data, MOMENT, "https://example.org/ocds.json")["releases"][0]
    assert release["awards"][0]["date"] == "2026-04-20T15:30:00Z"
    assert (
        validation.errors(
            validation.threesixtygiving_validator(), {**threesixtygiving.package(data, MOMENT)}
        )
        == []
    )
