"""A place's awards and payments as 360Giving data: a grants package (JSON) and the standard's
flat CSV with its column titles. Pure: builds from a `PlaceData`.

One grant per allocation the ledger funded (grants, partnership agreements and the funding of
outcomes contracts). The combined authority is the funding organisation; the departments'
streams that paid for the award are listed as classifications (vocabulary
"singlepot:funding-stream"), and payments made are disbursement transactions; a settled
recovery (clawback) of a payment is a negative disbursement dated when it was settled, never
with its free-text reason.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from services.gateway.opendata.publishing import (
    CURRENCY,
    GRANT_PREFIX,
    LICENCE_URL,
    PUBLISHER_NAME,
    Allocation,
    JsonObject,
    PlaceData,
    date_text,
    datetime_text,
    funder_id,
    json_pounds,
    organisation_id,
    place_name,
    pounds,
    stream_label,
)
from services.gateway.spreadsheet import SafeDictWriter

SCHEMA_VERSION = "1.0"
STREAM_VOCABULARY = "singlepot:funding-stream"
ALLOCATION_TYPE_VOCABULARY = "singlepot:allocation-type"
ALLOCATION_TYPE_TITLES = {
    "grant": "Grant",
    "partnership_agreement": "Partnership agreement",
    "outcomes_contract": "Outcomes contract (payment by results)",
}

# The 360Giving flat format's column titles (its "titles" spreadsheet), in the usual order.
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
    "Last modified",
)


def grant_id(place_id: str, allocation_id: str) -> str:
    return f"{GRANT_PREFIX}-{place_id}-{allocation_id}"


def package(data: PlaceData, published_at: datetime) -> JsonObject:
    """The 360Giving grants package for the place."""
    return {
        "grants": [grant(data, allocation) for allocation in data.awarded()],
        "version": SCHEMA_VERSION,
        "title": f"Grants and awards made by {place_name(data.place_id)}",
        "identifier": f"{GRANT_PREFIX}-{data.place_id}",
        "issued": datetime_text(published_at),
        "publisher": {"name": PUBLISHER_NAME},
        "license": LICENCE_URL,
    }


def grant(data: PlaceData, allocation: Allocation) -> JsonObject:
    disbursed = _disbursements(data, allocation)
    record: JsonObject = {
        "id": grant_id(data.place_id, allocation.allocation_id),
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
        "recipientOrganization": [
            {"id": organisation_id(allocation.recipient_id), "name": allocation.recipient_id}
        ],
        "fundingOrganization": [
            {"id": funder_id(data.place_id), "name": place_name(data.place_id)}
        ],
        "grantProgramme": [{"code": allocation.mission_id, "title": allocation.mission_id}],
        "classifications": _classifications(data, allocation),
        "disbursementTransaction": [
            {key: value for key, value in t.items() if key != "_pence"} for t in disbursed
        ],
        "dateModified": datetime_text(allocation.updated_at),
    }
    return record


def _title(allocation: Allocation) -> str:
    # The standard asks for titles under 140 characters; the purpose is the description.
    kind = ALLOCATION_TYPE_TITLES.get(allocation.allocation_type, allocation.allocation_type)
    title = f"{kind} {allocation.allocation_id}: {allocation.purpose}"
    return title if len(title) < 140 else title[:136] + "..."


def _classifications(data: PlaceData, allocation: Allocation) -> list[JsonObject]:
    found: list[JsonObject] = [
        {
            "vocabulary": ALLOCATION_TYPE_VOCABULARY,
            "code": allocation.allocation_type,
            "title": ALLOCATION_TYPE_TITLES.get(allocation.allocation_type, ""),
        }
    ]
    reservation = data.reservations.get(allocation.allocation_id)
    for share in reservation.attribution if reservation else ():
        found.append(
            {
                "vocabulary": STREAM_VOCABULARY,
                "code": stream_label(share),
                "title": f"{share.department_code} funding stream {share.funding_stream_code}",
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
                    "id": f"{grant_id(data.place_id, allocation.allocation_id)}-{movement.key}",
                    "transactionDate": date_text(movement.moment.date()),
                    "currency": CURRENCY,
                    "value": json_pounds(movement.pence),
                    "description": movement.description,
                    "provider": funder_id(data.place_id),
                    "recipient": organisation_id(payment.provider_id or allocation.recipient_id),
                    "_pence": movement.pence,
                }
            )
    return transactions


def csv_rows(data: PlaceData) -> Iterator[dict[str, str]]:
    """One flat row per grant, keyed by the standard's column titles; amounts as exact
    decimals with two places."""
    for allocation in data.awarded():
        record = grant(data, allocation)
        disbursed = sum(data.net_paid_pence(p) for p in data.payments_for(allocation.allocation_id))
        yield {
            "Identifier": record["id"],
            "Title": record["title"],
            "Description": record["description"],
            "Currency": CURRENCY,
            "Amount Awarded": str(pounds(allocation.value_pence)),
            "Amount Disbursed": str(pounds(disbursed)),
            "Award Date": record["awardDate"],
            "Planned Dates:Start Date": date_text(allocation.start_date),
            "Planned Dates:End Date": date_text(allocation.end_date),
            "Recipient Org:Identifier": record["recipientOrganization"][0]["id"],
            "Recipient Org:Name": record["recipientOrganization"][0]["name"],
            "Funding Org:Identifier": record["fundingOrganization"][0]["id"],
            "Funding Org:Name": record["fundingOrganization"][0]["name"],
            "Grant Programme:Code": allocation.mission_id,
            "Grant Programme:Title": allocation.mission_id,
            "Last modified": record["dateModified"],
        }


def csv_text(rows: Iterable[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
