"""A place's grants as 360Giving data: a grants package (JSON) and the standard's flat CSV with
its column titles. Pure: builds from a `PlaceData`.

One grant per grant or partnership agreement the ledger funded; outcomes contracts are
contracts, published as OCDS and INDIGO instead (grant or contract, never both). The combined
authority is the funding organisation and the publisher, the recipient is the registered
provider (org-id, postcode, charity or company number), the place's local authority districts
are the beneficiary locations (GSS codes), the departments' streams that paid for the award are
classifications, and payments made are disbursement transactions; a settled recovery
(clawback) is a negative disbursement dated when it was settled, never with its reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TextIO

from services.gateway.opendata.organisations import CHARITY_SCHEMES, COMPANY_SCHEMES, Organisation
from services.gateway.opendata.publishing import (
    CURRENCY,
    LICENCE_URL,
    Allocation,
    JsonObject,
    PlaceData,
    date_text,
    datetime_text,
    json_pounds,
    pounds,
    stream_label,
)
from services.gateway.spreadsheet import SafeDictWriter

SCHEMA_VERSION = "1.4"
# Classification vocabularies, scoped by the publisher's prefix: "360G-gmca:funding-stream".
STREAM_VOCABULARY = "funding-stream"
ALLOCATION_TYPE_VOCABULARY = "allocation-type"
ALLOCATION_TYPE_TITLES = {
    "grant": "Grant",
    "partnership_agreement": "Partnership agreement",
}

# The flat format's column titles for each JSON field (the standard's titles; arrays beyond
# the single-item ones take an index: "Beneficiary Location:0:Geographic Code").
TITLES = {
    "id": "Identifier",
    "title": "Title",
    "description": "Description",
    "currency": "Currency",
    "amountAwarded": "Amount Awarded",
    "amountDisbursed": "Amount Disbursed",
    "awardDate": "Award Date",
    "plannedDates": "Planned Dates",
    "startDate": "Start Date",
    "endDate": "End Date",
    "recipientOrganization": "Recipient Org",
    "fundingOrganization": "Funding Org",
    "beneficiaryLocation": "Beneficiary Location",
    "grantProgramme": "Grant Programme",
    "classifications": "Classifications",
    "dateModified": "Last Modified",
    "dataSource": "Data Source",
    "name": "Name",
    "charityNumber": "Charity Number",
    "companyNumber": "Company Number",
    "postalCode": "Postal Code",
    "countryCode": "Country Code",
    "geoCode": "Geographic Code",
    "geoCodeType": "Geographic Code Type",
    "vocabulary": "Vocabulary",
    "code": "Code",
    "transactionDate": "Transaction Date",
    "value": "Value",
    "provider": "Provider",
    "recipient": "Recipient",
}
# Arrays that hold one item in singlepot's grants: their columns carry no index.
SINGLE_ITEM_ARRAYS = frozenset(
    {"plannedDates", "recipientOrganization", "fundingOrganization", "grantProgramme"}
)
# The first columns, in the usual order; the rest follow as the grants need them.
CSV_COLUMNS = (
    "Identifier",
    "Title",
    "Description",
    "Currency",
    "Amount Awarded",
    "Amount Disbursed",
    "Award Date",
    "Planned Dates:Start Date",
    "Planned Dates:End Date",
    "Recipient Org:Identifier",
    "Recipient Org:Name",
    "Funding Org:Identifier",
    "Funding Org:Name",
    "Grant Programme:Code",
    "Grant Programme:Title",
    "Last Modified",
    "Data Source",
)


def grant_id(data: PlaceData, allocation_id: str) -> str:
    return f"{data.identity().grant_prefix}-{allocation_id}"


def package(data: PlaceData, published_at: datetime, source_url: str | None = None) -> JsonObject:
    """The 360Giving grants package for the place."""
    identity = data.identity()
    authority = identity.authority
    publisher: JsonObject = {"name": authority.name}
    if authority.registered:
        publisher["identifier"] = authority.org_id
    if identity.publication_policy_url:
        publisher["website"] = identity.publication_policy_url
    demo = " (demonstration data, placeholder identifiers)" if identity.demo else ""
    return {
        "grants": [grant(data, allocation, source_url) for allocation in data.grants()],
        "version": SCHEMA_VERSION,
        "title": f"Grants made by {authority.name}{demo}",
        "identifier": f"{identity.grant_prefix}-package",
        "issued": datetime_text(published_at),
        "publisher": publisher,
        "license": LICENCE_URL,
    }


def grant(data: PlaceData, allocation: Allocation, source_url: str | None = None) -> JsonObject:
    disbursed = _disbursements(data, allocation)
    recipient = data.organisation(allocation.recipient_id, "provider")
    record: JsonObject = {
        "id": grant_id(data, allocation.allocation_id),
        "title": _title(allocation),
        "description": allocation.purpose,
        "currency": CURRENCY,
        "amountAwarded": json_pounds(allocation.value_pence),
        "amountDisbursed": json_pounds(sum(t["_pence"] for t in disbursed)),
        "awardDate": date_text(allocation.award_moment().date()),
        "plannedDates": [
            {
                "startDate": date_text(allocation.start_date),
                "endDate": date_text(allocation.end_date),
            }
        ],
        "recipientOrganization": [recipient_organisation(recipient)],
        "fundingOrganization": [{"id": data.authority().org_id, "name": data.authority().name}],
        "grantProgramme": [
            {
                "code": allocation.mission_id,
                "title": data.mission_titles.get(allocation.mission_id, allocation.mission_id),
            }
        ],
        "classifications": _classifications(data, allocation),
        "dateModified": datetime_text(allocation.updated_at),
    }
    locations = [
        {"name": name, "geoCode": code, "geoCodeType": "LAD", "countryCode": "GB"}
        for name, code in data.districts()
    ]
    if locations:
        record["beneficiaryLocation"] = locations
    if disbursed:
        record["disbursementTransaction"] = [
            {key: value for key, value in t.items() if key != "_pence"} for t in disbursed
        ]
    if source_url:
        record["dataSource"] = source_url
    return record


def recipient_organisation(organisation: Organisation) -> JsonObject:
    """A recipient as 360Giving names it: org-id, name, and the register's own number."""
    found: JsonObject = {"id": organisation.org_id, "name": organisation.name}
    if organisation.org_id_scheme in CHARITY_SCHEMES:
        found["charityNumber"] = organisation.org_id_identifier
    if organisation.org_id_scheme in COMPANY_SCHEMES:
        found["companyNumber"] = organisation.org_id_identifier
    if organisation.postcode:
        found["postalCode"] = organisation.postcode
    return found


def _title(allocation: Allocation) -> str:
    # The standard asks for titles under 140 characters; the purpose is the description.
    kind = ALLOCATION_TYPE_TITLES.get(allocation.allocation_type, allocation.allocation_type)
    title = f"{kind} {allocation.allocation_id}: {allocation.purpose}"
    return title if len(title) < 140 else title[:136] + "..."


def _classifications(data: PlaceData, allocation: Allocation) -> list[JsonObject]:
    prefix = data.identity().grant_prefix
    found: list[JsonObject] = [
        {
            "vocabulary": f"{prefix}:{ALLOCATION_TYPE_VOCABULARY}",
            "code": allocation.allocation_type,
            "title": ALLOCATION_TYPE_TITLES.get(allocation.allocation_type, ""),
        }
    ]
    reservation = data.reservations.get(allocation.allocation_id)
    for share in reservation.attribution if reservation else ():
        found.append(
            {
                "vocabulary": f"{prefix}:{STREAM_VOCABULARY}",
                "code": stream_label(share),
                "title": (
                    f"{data.organisation(share.department_code, 'department').name} funding "
                    f"stream {share.funding_stream_code}"
                ),
                "description": (
                    f"£{pounds(share.amount_pence)} of the award came from this stream."
                ),
            }
        )
    return found


def _disbursements(data: PlaceData, allocation: Allocation) -> list[JsonObject]:
    """Each payment made, then each settled recovery of it as a negative disbursement (the
    schema's transaction value is any number), so the values add up to `amountDisbursed`."""
    transactions = []
    for payment in data.payments_for(allocation.allocation_id):
        for movement in data.movements(payment):
            transactions.append(
                {
                    "id": f"{grant_id(data, allocation.allocation_id)}-{movement.key}",
                    "transactionDate": date_text(movement.moment.date()),
                    "currency": CURRENCY,
                    "value": json_pounds(movement.pence),
                    "description": movement.description,
                    "provider": data.authority().org_id,
                    "recipient": data.organisation(
                        payment.provider_id or allocation.recipient_id, "provider"
                    ).org_id,
                    "_pence": movement.pence,
                }
            )
    return transactions


def csv_rows(data: PlaceData, source_url: str | None = None) -> list[dict[str, str]]:
    """One flat row per grant, keyed by the standard's column titles, carrying what the JSON
    carries (locations, classifications, disbursements as indexed columns); amounts as exact
    decimals with two places."""
    return [flatten(grant(data, allocation, source_url)) for allocation in data.grants()]


def flatten(record: JsonObject, prefix: str = "", titled: bool = True) -> dict[str, str]:
    """A grant as the flat format's title paths: "Recipient Org:Identifier", and for arrays of
    several items "Classifications:1:Code". A field the schema gives no title (1.4.3's
    `disbursementTransaction`) is written by its field names, all the way down, which is how
    flatten-tool reads it back."""
    found: dict[str, str] = {}
    for key, value in record.items():
        named = titled and key in TITLES
        title = f"{prefix}{TITLES[key] if named else key}"
        if isinstance(value, list):
            for index, item in enumerate(value):
                inner = f"{title}:" if key in SINGLE_ITEM_ARRAYS else f"{title}:{index}:"
                found.update(flatten(item, inner, named))
        elif isinstance(value, dict):
            found.update(flatten(value, f"{title}:", named))
        else:
            found[title] = _cell(value)
    return found


def _cell(value: object) -> str:
    if isinstance(value, float):  # every number in a grant is an amount of pounds
        return str(Decimal(repr(value)).quantize(Decimal("0.01")))
    return "" if value is None else str(value)


def csv_columns(rows: Iterable[dict[str, str]]) -> list[str]:
    """The usual columns first, then every other column the rows use, in first-seen order."""
    columns = list(CSV_COLUMNS)
    for row in rows:
        columns += [column for column in row if column not in columns]
    return columns


def write_csv(stream: TextIO, rows: list[dict[str, str]]) -> None:
    """The one place the 360Giving CSV is written (the HTTP file and the export command)."""
    writer = SafeDictWriter(stream, csv_columns(rows))
    writer.writeheader()
    writer.writerows(rows)


def csv_text(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    write_csv(buffer, rows)
    return buffer.getvalue()
