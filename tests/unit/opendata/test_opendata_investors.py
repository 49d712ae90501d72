"""Investors in the exports: a social impact bond's investors, from the organisations register,
are INDIGO investments (with the capital invested, repayments and returns) and organisations,
and OCDS funder parties, by the same org-id; both files stay valid (INDIGO's schema,
libcoveocds)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.gateway.opendata import indigo, ocds, validation
from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import InvestorFlow, PlaceData
from tests.support.ocds_review import findings, review
from tests.unit.opendata.opendata_sample import MOMENT, sample

pytest.importorskip("libcoveocds")

INVESTOR = Organisation(
    "INV-NORTHERN",
    "investor",
    "Northern Social Investment Ltd",
    "company",
    "GB-COH",
    "12345678",
    "M2 3AW",
)
FOUNDATION = Organisation(
    "INV-FOUNDATION", "investor", "Pennine Community Foundation", "charity", "GB-CHC", "1111111"
)


def with_investors() -> PlaceData:
    data = sample()
    flows = (
        InvestorFlow("F-1", "C-1", "INV-NORTHERN", "investment", 250_000_00, date(2026, 6, 1)),
        InvestorFlow("F-2", "C-1", "INV-NORTHERN", "investment", 50_000_00, date(2026, 9, 1)),
        InvestorFlow("F-3", "C-1", "INV-NORTHERN", "repayment", 20_000_00, date(2026, 12, 1)),
        InvestorFlow("F-4", "C-1", "INV-FOUNDATION", "investment", 100_000_00, date(2026, 6, 1)),
        InvestorFlow("F-5", "C-1", "INV-FOUNDATION", "return", 1_234_56, date(2027, 1, 5)),
    )
    register = {**data.organisations, "INV-NORTHERN": INVESTOR, "INV-FOUNDATION": FOUNDATION}
    return replace(data, organisations=register, investor_flows=flows)


def test_investors_are_indigo_investments_with_their_flows() -> None:
    document = indigo.projects(with_investors(), MOMENT)
    [project] = document["projects"]

    assert validation.errors(validation.indigo_validator(), project["data"]) == []
    assert project["data"]["investments"] == [
        {
            "id": "investment1",
            "organisation_id": {"value": "GB-CHC-1111111"},
            "organisation_role_category": {"value": "Foundation/Philanthropist"},
            "investment_commitment": {
                "currency": {"value": "GBP", "status": "PUBLIC"},
                "amount": {"exact": {"value": 100_000.0, "status": "PUBLIC"}},
            },
            "notes": "Invested £100000.00, repaid £0.00, returns £1234.56, as recorded to date",
            "status": "PUBLIC",
        },
        {
            "id": "investment2",
            "organisation_id": {"value": "GB-COH-12345678"},
            "organisation_role_category": {"value": "Impact Investor"},
            "investment_commitment": {
                "currency": {"value": "GBP", "status": "PUBLIC"},
                "amount": {"exact": {"value": 300_000.0, "status": "PUBLIC"}},
            },
            "notes": "Invested £300000.00, repaid £20000.00, returns £0.00, as recorded to date",
            "status": "PUBLIC",
        },
    ]
    organisations = {o["id"]: o for o in document["organisations"]}
    for organisation in organisations.values():
        assert (
            validation.errors(validation.indigo_organisation_validator(), organisation["data"])
            == []
        )
    assert organisations["GB-COH-12345678"]["data"]["name"] == {
        "value": "Northern Social Investment Ltd"
    }


def test_investors_are_ocds_funders_by_the_same_org_id_and_pass_libcoveocds() -> None:
    data = with_investors()
    package = ocds.release_package(data, MOMENT, "https://example.org/ocds.json")
    [release] = [r for r in package["releases"] if r["ocid"].endswith("A-2")]
    funders = {p["id"]: p for p in release["parties"] if "funder" in p["roles"]}
    indigo_ids = {o["id"] for o in indigo.projects(data, MOMENT)["organisations"]}

    assert {"GB-COH-12345678", "GB-CHC-1111111"} <= funders.keys()
    assert funders["GB-COH-12345678"]["identifier"] == {
        "scheme": "GB-COH",
        "id": "12345678",
        "legalName": "Northern Social Investment Ltd",
    }
    assert {"GB-COH-12345678", "GB-CHC-1111111"} <= indigo_ids
    assert findings(review(package)) == {}


def test_a_contract_without_investors_publishes_no_empty_investments() -> None:
    [project] = indigo.projects(sample(), MOMENT)["projects"]

    assert "investments" not in project["data"]
