"""Settled recoveries (clawbacks) in the open data: a negative 360Giving disbursement and a
negative OCDS transaction, dated when settled, that bring the totals to what the provider kept;
a recovery the ledger recorded but whose clawback is not settled yet is netted off the payment;
both exports stay valid against the published schemas."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from services.gateway.opendata import indigo, ocds, threesixtygiving, validation
from tests.unit.opendata.opendata_sample import MOMENT, RECOVERED_AT, sample

WORK_GRANT = "360G-singlepot-GM-A-2"


def _work_grant(data=None) -> dict:
    grants = threesixtygiving.package(data or sample(), MOMENT)["grants"]
    return next(grant for grant in grants if grant["id"] == WORK_GRANT)


def test_a_settled_recovery_is_a_negative_360giving_disbursement_dated_when_settled() -> None:
    grant = _work_grant()

    [paid, recovered] = grant["disbursementTransaction"]
    assert (paid["id"], paid["value"], paid["transactionDate"]) == (
        f"{WORK_GRANT}-P-2",
        5_900.0,
        "2026-09-30",
    )
    assert (recovered["id"], recovered["value"], recovered["transactionDate"]) == (
        f"{WORK_GRANT}-P-2-recovery-K-1",
        -1_200.0,
        RECOVERED_AT.date().isoformat(),
    )
    assert recovered["description"] == (
        "recovery K-1 of outcome payment P-2 (JOB-START, claim period Q2)"
    )
    assert grant["amountDisbursed"] == sum(t["value"] for t in grant["disbursementTransaction"])
    assert grant["amountDisbursed"] == 4_700.0


def test_the_360giving_package_with_a_recovery_validates_against_the_published_schema() -> None:
    document = threesixtygiving.package(sample(), MOMENT)

    assert validation.errors(validation.threesixtygiving_validator(), document) == []


def test_the_360giving_csv_disburses_the_payment_less_the_settled_recovery() -> None:
    text = threesixtygiving.csv_text(threesixtygiving.csv_rows(sample()))
    rows = {row["Identifier"]: row for row in csv.DictReader(io.StringIO(text))}

    assert rows[WORK_GRANT]["Amount Disbursed"] == "4700.00"


def test_a_settled_recovery_is_a_negative_ocds_transaction_and_a_newer_release() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    release = next(r for r in document["releases"] if r["ocid"] == "ocds-singlepot-GM-A-2")

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

    grant = _work_grant(unsettled)
    assert [t["value"] for t in grant["disbursementTransaction"]] == [4_700.0]
    assert "£1200.00 later recovered" in grant["disbursementTransaction"][0]["description"]
    releases = ocds.release_package(unsettled, MOMENT, "https://example.org/ocds.json")
    release = next(r for r in releases["releases"] if r["ocid"] == "ocds-singlepot-GM-A-2")
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

    assert _work_grant(ahead)["amountDisbursed"] == 4_700.0
    project = indigo.projects(ahead, MOMENT)["projects"][0]["data"]
    assert [p["money"]["amount"]["value"] for p in project["outcome_payments"]] == [4_700.0]
