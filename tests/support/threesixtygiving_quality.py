"""360Giving's published data-quality checks (its Data Quality Tool's library,
lib360dataquality, is not on PyPI), each a named function over a grants package: the
"usefulness" notices about identifiers, locations and registered numbers, and the checks on
titles, programmes and dates. Each returns the ids of the grants it fires on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Grant = dict[str, Any]
# org-id.guide prefixes a UK publisher's organisations are registered under.
RECOGNISED_PREFIXES = (
    "GB-CHC",
    "GB-SC",
    "GB-NIC",
    "GB-COH",
    "GB-MPR",
    "GB-GOR",
    "GB-LAE",
    "GB-LAS",
    "GB-LAW",
    "GB-NHS",
    "GB-EDU",
    "GB-UKPRN",
)


def _recipient(grant: Grant) -> dict[str, Any]:
    return dict(grant.get("recipientOrganization", [{}])[0])


def recipient_org_prefix_360g(grant: Grant) -> bool:
    return str(_recipient(grant).get("id", "")).startswith("360G-")


def funding_org_prefix_360g(grant: Grant) -> bool:
    return any(str(o.get("id", "")).startswith("360G-") for o in grant["fundingOrganization"])


def recipient_org_unrecognised_prefix(grant: Grant) -> bool:
    return not str(_recipient(grant).get("id", "")).startswith(RECOGNISED_PREFIXES)


def funding_org_unrecognised_prefix(grant: Grant) -> bool:
    return any(
        not str(o.get("id", "")).startswith(RECOGNISED_PREFIXES)
        for o in grant["fundingOrganization"]
    )


def no_recipient_org_company_charity_number(grant: Grant) -> bool:
    recipient = _recipient(grant)
    return "charityNumber" not in recipient and "companyNumber" not in recipient


def recipient_org_charity_number_mismatch(grant: Grant) -> bool:
    """A charity number that is not the one in the recipient's GB-CHC identifier."""
    recipient = _recipient(grant)
    number = recipient.get("charityNumber")
    return number is not None and recipient.get("id") not in (f"GB-CHC-{number}", f"GB-SC-{number}")


def recipient_org_company_number_mismatch(grant: Grant) -> bool:
    recipient = _recipient(grant)
    number = recipient.get("companyNumber")
    return number is not None and recipient.get("id") != f"GB-COH-{number}"


def incomplete_recipient_org(grant: Grant) -> bool:
    """No postcode and no location for the recipient."""
    recipient = _recipient(grant)
    return "postalCode" not in recipient and "location" not in recipient


def no_beneficiary_location(grant: Grant) -> bool:
    return not grant.get("beneficiaryLocation")


def beneficiary_location_without_geo_code(grant: Grant) -> bool:
    return any(
        not location.get("geoCode") or not location.get("geoCodeType")
        for location in grant.get("beneficiaryLocation", [])
    )


def title_length(grant: Grant) -> bool:
    return len(grant["title"]) >= 140


def title_description_same(grant: Grant) -> bool:
    return grant["title"] == grant.get("description")


def no_grant_programme(grant: Grant) -> bool:
    return not grant.get("grantProgramme")


def grant_programme_title_is_code(grant: Grant) -> bool:
    return any(p.get("title") == p.get("code") for p in grant.get("grantProgramme", []))


def no_last_modified(grant: Grant) -> bool:
    return not grant.get("dateModified")


def no_data_source(grant: Grant) -> bool:
    return not grant.get("dataSource")


def impossible_planned_dates(grant: Grant) -> bool:
    return any(
        dates.get("startDate", "") > dates.get("endDate", "9999")
        for dates in grant.get("plannedDates", [])
    )


CHECKS: dict[str, Callable[[Grant], bool]] = {
    "RecipientOrg360GPrefix": recipient_org_prefix_360g,
    "FundingOrg360GPrefix": funding_org_prefix_360g,
    "RecipientOrgUnrecognisedPrefix": recipient_org_unrecognised_prefix,
    "FundingOrgUnrecognisedPrefix": funding_org_unrecognised_prefix,
    "NoRecipientOrgCompanyCharityNumber": no_recipient_org_company_charity_number,
    "RecipientOrgCharityNumber": recipient_org_charity_number_mismatch,
    "RecipientOrgCompanyNumber": recipient_org_company_number_mismatch,
    "IncompleteRecipientOrg": incomplete_recipient_org,
    "NoBeneficiaryLocation": no_beneficiary_location,
    "BeneficiaryLocationGeoCode": beneficiary_location_without_geo_code,
    "TitleLength": title_length,
    "TitleDescriptionSame": title_description_same,
    "NoGrantProgramme": no_grant_programme,
    "GrantProgrammeTitleIsCode": grant_programme_title_is_code,
    "NoLastModified": no_last_modified,
    "NoDataSource": no_data_source,
    "ImpossibleDates": impossible_planned_dates,
}


def quality_notices(package: dict[str, Any]) -> list[tuple[str, str]]:
    """(check name, grant id) for every check that fires on a grant of the package."""
    return [
        (name, grant["id"])
        for grant in package["grants"]
        for name, check in CHECKS.items()
        if check(grant)
    ]
