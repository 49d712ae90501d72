"""Settled recoveries (clawbacks) in the open data: a negative 360Giving disbursement and a
negative OCDS transaction, dated when settled, that bring the totals to what the provider kept;
a recovery the ledger recorded but whose clawback is not settled yet is netted off the payment;
both exports stay valid against the published schemas."""

from __future__ import annotations

from dataclasses import replace

from services.gateway.opendata import indigo, ocds, threesixtygiving, validation
from tests.unit.opendata.opendata_sample import MOMENT, sample

WORK_OCID = "ocds-gmca01-GM-A-2"


def _work_amounts(data=None) -> list[float]:
    document = ocds.release_package(data or sample(), MOMENT, "https://example.org/ocds.json")
    release = next(r for r in document["releases"] if r["ocid"] == WORK_OCID)
    transactions = release["contracts"][0]["implementation"]["transactions"]
    return [t["value"]["amount"] for t in transactions]


def test_an_outcomes_contract_and_its_recoveries_are_not_360giving_grants() -> None:
    grants = threesixtygiving.package(sample(), MOMENT)["grants"]
    assert "360G-gmca-A-2" not in [grant["id"] for grant in grants]
    rows = threesixtygiving.csv_rows(sample())
    assert "360G-gmca-A-2" not in [row["Identifier"] for row in rows]


def test_the_360giving_package_with_a_recovery_validates_against_the_published_schema() -> None:
    document = threesixtygiving.package(sample(), MOMENT)

    assert validation.errors(validation.threesixtygiving_validator(), document) == []


def test_a_settled_recovery_is_a_negative_ocds_transaction_and_a_newer_release() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    release = next(r for r in document["releases"] if r["ocid"] == WORK_OCID)

    [paid, recovered] = release["contracts"][0]["implementation"]["transactions"]
    assert paid["value"] == {"amount": 5_900.0, "currency": "GBP"}
    assert recovered["id"] == "P-2-recovery-K-1"
    assert recovered["value"] == {"amount": -1_200.0, "currency": "GBP"}
    assert recovered["date"] == "2026-10-20T12:00:00Z"
    assert (recovered["payer"], recovered["payee"]) == (paid["payer"], paid["payee"])
    # The recovery changed the contracting process, so the release is dated by it.
    assert release["date"] == "2026-10-20T12:00:00Z"
    assert validation.errors(validation.ocds_validator(), document) == []


def test_a_recovery_recorded_but_not_yet_settled_is_netted_off_the_payment() -> None:
    unsettled = replace(sample(), recoveries=())

    assert _work_amounts(unsettled) == [4_700.0]
    assert (
        "£1200.00 later recovered"
        in unsettled.movements(unsettled.payments_for("A-2")[0])[0].description
    )
    releases = ocds.release_package(unsettled, MOMENT, "https://example.org/ocds.json")
    release = next(r for r in releases["releases"] if r["ocid"] == WORK_OCID)
    amounts = [
        t["value"]["amount"] for t in release["contracts"][0]["implementation"]["transactions"]
    ]
    assert amounts == [4_700.0]


def test_a_settled_recovery_the_payments_row_has_not_counted_yet_still_nets_once() -> None:
    # The clawback's settlement (outcomes topic) can reach the gateway before the ledger's
    # RecoveryRecorded (ledger topic): the payment's recovered_pence is then still 0.
    data = sample()
    ahead = replace(
        data,
        payments=tuple(
            replace(p, recovered_pence=0) if p.payment_id == "P-2" else p for p in data.payments
        ),
    )

    assert sum(_work_amounts(ahead)) == 4_700.0
    project = indigo.projects(ahead, MOMENT)["projects"][0]["data"]
    assert [p["money"]["amount"]["value"] for p in project["outcome_payments"]] == [4_700.0]
