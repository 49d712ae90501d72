"""A place's publishing identity and its organisations register in the open data: one
organisation has one id in all three exports, names not codes, the place's districts as
360Giving beneficiary locations, no placeholder outside the demo, and 360Giving's published
data-quality checks (its library is not on PyPI), each a named test."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from services.gateway.opendata import indigo, ocds, threesixtygiving, validation
from services.gateway.opendata.organisations import (
    Organisation,
    RegistrationRefused,
    check_registration,
)
from services.gateway.opendata.publishing import (
    CLAIM_COUNT_PUBLISHED_MIN,
    PublishingRefused,
    claim_count_text,
    resolve_publisher,
)
from tests.support.threesixtygiving_quality import quality_notices
from tests.unit.opendata.opendata_sample import GMCA, MOMENT, REGISTER, sample

URI = "https://example.org/ocds.json"


def _ids_named(data: object) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, str) and value.startswith("GB-"):
                found.add(value)
            found |= _ids_named(value)
    elif isinstance(data, list):
        for item in data:
            found |= _ids_named(item)
    return found


def test_the_same_organisation_has_the_same_id_in_all_three_exports() -> None:
    data = sample()
    grants = threesixtygiving.package(data, MOMENT)
    releases = ocds.release_package(data, MOMENT, URI)
    projects = indigo.projects(data, MOMENT)
    dwp, gmca = "GB-GOR-D10", "GB-LAE-GMCA"
    assert gmca in _ids_named(grants) and gmca in _ids_named(releases)
    assert gmca in _ids_named(projects)
    # DWP funds A-2 (OCDS funder) and pays its outcomes (INDIGO payer), by one id.
    funders = [p["id"] for p in releases["releases"][0]["parties"] if "funder" in p["roles"]]
    assert funders == [dwp]
    payers = [
        c["organisation_id"]["value"]
        for c in projects["projects"][0]["data"]["outcome_payment_commitments"]
    ]
    assert payers == [dwp]
    assert dwp in [o["id"] for o in projects["organisations"]]
    work = "GB-COH-09876543"
    assert releases["releases"][0]["awards"][0]["suppliers"][0]["id"] == work
    service = projects["projects"][0]["data"]["service_provisions"][0]
    assert service["organisation_id"]["value"] == work


def test_every_indigo_organisation_validates_against_the_organisation_schema() -> None:
    for organisation in indigo.projects(sample(), MOMENT)["organisations"]:
        assert (
            validation.errors(validation.indigo_organisation_validator(), organisation["data"])
            == []
        )
    names = {o["data"]["name"]["value"] for o in indigo.projects(sample(), MOMENT)["organisations"]}
    assert "Department for Work and Pensions" in names and "PROV-WORKWELL" not in names


def test_the_combined_authority_publishes_under_its_own_org_id_and_licence() -> None:
    grants = threesixtygiving.package(sample(), MOMENT)
    assert grants["publisher"]["identifier"] == "GB-LAE-GMCA"
    assert grants["license"].endswith("open-government-licence/version/3/")
    releases = ocds.release_package(sample(), MOMENT, URI)
    assert (releases["publisher"]["scheme"], releases["publisher"]["uid"]) == ("GB-LAE", "GMCA")
    assert releases["publicationPolicy"].startswith("https://")


def test_a_place_without_registered_prefixes_is_refused_outside_the_demo() -> None:
    with pytest.raises(PublishingRefused, match="360Giving prefix"):
        resolve_publisher("GM", None, None, None, GMCA, demo_allowed=False)
    demo = resolve_publisher("GM", None, None, None, None, demo_allowed=True)
    assert demo.demo and demo.grant_prefix == "360G-DEMO-GM"
    registered = resolve_publisher("GM", "360G-gmca", "ocds-gmca01", None, GMCA, False)
    assert (registered.grant_prefix, registered.authority.org_id) == ("360G-gmca", "GB-LAE-GMCA")


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"org_id_scheme": "360G"}, "org_id_scheme", "org_id_guide"),
        ({"org_id_identifier": "12-34"}, "org_id_identifier", "scheme_format"),
        ({"name": "PROV-HUBS"}, "name", "not_a_code"),
        ({"legal_form": "llp"}, "legal_form", "one_of"),
        ({"postcode": "not a postcode"}, "postcode", "uk_postcode"),
        ({"kind": "department", "legal_form": "public_body"}, "is_sme", "providers_only"),
    ],
)
def test_the_register_refuses_a_registration_naming_the_field_and_rule(
    change: dict[str, object], field: str, rule: str
) -> None:
    with pytest.raises(RegistrationRefused) as refused:
        check_registration(replace(REGISTER["PROV-HUBS"], **change))  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.rule) == (field, rule)


def test_the_register_accepts_a_real_department_and_normalises_a_postcode() -> None:
    dwp = check_registration(
        Organisation(
            "DWP",
            "department",
            "Department for Work and Pensions",
            "public_body",
            "GB-GOR",
            "D10",
            "sw1h 9nA",
        )
    )
    assert (dwp.org_id, dwp.postcode) == ("GB-GOR-D10", "SW1H 9NA")


def test_claim_counts_below_the_threshold_are_suppressed_in_ocds() -> None:
    data = sample()
    small = replace(
        data,
        evidence=tuple(
            replace(b, claim_count=3, accepted_count=2, verified_count=1) for b in data.evidence
        ),
    )
    text = str(ocds.release_package(small, MOMENT, URI))
    assert f"fewer than {CLAIM_COUNT_PUBLISHED_MIN} outcome claims" in text
    assert claim_count_text(CLAIM_COUNT_PUBLISHED_MIN) == str(CLAIM_COUNT_PUBLISHED_MIN)
    assert claim_count_text(0) == "0"


# --- 360Giving's data-quality checks (tests/support/threesixtygiving_quality.py) -------------


def _grants() -> list[dict]:
    return threesixtygiving.package(sample(), MOMENT, "https://example.org/gm")["grants"]


def test_none_of_360givings_quality_checks_fires_on_the_grants() -> None:
    package = threesixtygiving.package(sample(), MOMENT, "https://example.org/gm")
    assert quality_notices(package) == []


@pytest.mark.parametrize(
    ("name", "spoil"),
    [
        ("RecipientOrg360GPrefix", lambda g: g["recipientOrganization"][0].update(id="360G-x")),
        ("FundingOrg360GPrefix", lambda g: g["fundingOrganization"][0].update(id="360G-x")),
        (
            "NoRecipientOrgCompanyCharityNumber",
            lambda g: g["recipientOrganization"][0].pop("charityNumber"),
        ),
        (
            "RecipientOrgCharityNumber",
            lambda g: g["recipientOrganization"][0].update(charityNumber="7654321"),
        ),
        ("IncompleteRecipientOrg", lambda g: g["recipientOrganization"][0].pop("postalCode")),
        ("NoBeneficiaryLocation", lambda g: g.pop("beneficiaryLocation")),
        ("TitleDescriptionSame", lambda g: g.update(title=g["description"])),
        (
            "GrantProgrammeTitleIsCode",
            lambda g: g["grantProgramme"][0].update(title="M-X", code="M-X"),
        ),
        ("NoDataSource", lambda g: g.pop("dataSource")),
    ],
)
def test_each_quality_check_fires_on_a_grant_that_breaks_it(name: str, spoil: Any) -> None:
    package = threesixtygiving.package(sample(), MOMENT, "https://example.org/gm")
    spoil(package["grants"][0])
    assert (name, package["grants"][0]["id"]) in quality_notices(package)


def test_an_unregistered_recipient_is_what_the_360g_prefix_check_catches() -> None:
    data = replace(sample(), organisations={})
    package = threesixtygiving.package(data, MOMENT, "https://example.org/gm")
    assert ("RecipientOrg360GPrefix", "360G-gmca-A-1") in quality_notices(package)


def test_a_grant_programme_is_named_by_its_mission_title_not_its_code() -> None:
    programme = _grants()[0]["grantProgramme"][0]
    assert programme == {"code": "M-HEALTHY-LIVES", "title": "Healthy lives for every family"}


def test_an_indigo_project_with_nothing_paid_has_no_empty_arrays() -> None:
    data = replace(sample(), payments=(), recoveries=())
    project = indigo.projects(data, MOMENT)["projects"][0]["data"]
    assert "outcome_payments" not in project
    assert [key for key, value in project.items() if value == []] == []


def test_a_placeholder_is_refused_as_a_registered_prefix() -> None:
    from pydantic import ValidationError

    from services.gateway.settings import GatewaySettings

    with pytest.raises(ValidationError, match="placeholder"):
        GatewaySettings(
            opendata_publishers={
                "GM": {"threesixtygiving_prefix": "360G-DEMO-GM", "ocds_prefix": "ocds-abc123"}
            }
        )
    with pytest.raises(ValidationError, match="ocds_prefix"):
        GatewaySettings(
            opendata_publishers={
                "GM": {"threesixtygiving_prefix": "360G-gmca", "ocds_prefix": "ocds-singlepot"}
            }
        )


def test_the_demo_combined_authority_is_registered_as_gb_lae_lists_it() -> None:
    from services.gateway.opendata.organisations import (
        COMBINED_AUTHORITIES_GB_LAE,
        ORG_ID_SCHEMES,
    )
    from singlepot.demo import ORGANISATIONS

    authority = ORGANISATIONS["GM"]
    assert (authority["org_id_scheme"], authority["org_id_identifier"]) == ("GB-LAE", "GMCA")
    assert COMBINED_AUTHORITIES_GB_LAE["GMCA"] == authority["name"]
    for code in COMBINED_AUTHORITIES_GB_LAE:
        assert ORG_ID_SCHEMES["GB-LAE"].match(code), code
