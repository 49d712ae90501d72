"""A place's outcomes contracts as an OCDS 1.1.5 release package: per contract a contracting
process (ocid) with its direct award (the board awards it; no competitive tender took place,
so the tender section says only `procurementMethod: direct`), its contract (signed when
registered), milestones (the board's approval, each claim period, each outcomes claim) and
implementation transactions for the payments made. Grants are 360Giving's, not OCDS's. Pure:
builds from a `PlaceData`.

A settled recovery (clawback) of a payment is a transaction of its own with a negative value,
dated when it was settled: OCDS 1.1 says of a transaction's amount that "a negative value
indicates a refund or correction". Its free-text reason is never published.

The buyer and payer is the combined authority; the provider is the supplier and payee; the
departments whose streams funded the allocation are parties with the role "funder"; every
party carries its org-id from the organisations register.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import (
    CURRENCY,
    LICENCE_URL,
    Allocation,
    Contract,
    JsonObject,
    PlaceData,
    claim_count_text,
    date_text,
    datetime_text,
    json_pounds,
    pounds,
)

OCDS_VERSION = "1.1"
AWARD_STATUS = {"cancelled": "cancelled"}
CONTRACT_STATUS = {"cancelled": "terminated", "expired": "terminated"}
MILESTONE_STATUS = {"verified": "met", "rejected": "notMet"}
# Contract periods are whole days in the place's own time: from the first day's start to the
# last day's end (not its midnight, a day short).
LOCAL_TIME = ZoneInfo("Europe/London")


def ocid(data: PlaceData, allocation_id: str) -> str:
    return f"{data.identity().ocid_prefix}-{data.place_id}-{allocation_id}"


def release_package(data: PlaceData, published_at: datetime, uri: str) -> JsonObject:
    """A release package of each process's current state (the history is `history.py`'s)."""
    package = package_frame(data, published_at, uri)
    package["releases"] = [release(data, allocation) for allocation in data.contracted()]
    return package


def package_frame(data: PlaceData, published_at: datetime, uri: str) -> JsonObject:
    """A package's metadata (release and record packages share it): uri, version, date,
    publisher, licence and publication policy."""
    identity = data.identity()
    publisher: JsonObject = {"name": identity.authority.name}
    if identity.authority.registered:
        publisher["scheme"] = identity.authority.org_id_scheme
        publisher["uid"] = identity.authority.org_id_identifier
    if identity.publication_policy_url:
        publisher["uri"] = identity.publication_policy_url
    package: JsonObject = {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": datetime_text(published_at),
        "publisher": publisher,
        "license": LICENCE_URL,
    }
    if identity.publication_policy_url:
        package["publicationPolicy"] = identity.publication_policy_url
    return package


def day_start(day: date) -> str:
    return datetime.combine(day, time(0, 0), LOCAL_TIME).isoformat()


def day_end(day: date) -> str:
    return datetime.combine(day, time(23, 59, 59), LOCAL_TIME).isoformat()


def party(organisation: Organisation) -> JsonObject:
    """An organisation as an OCDS party reference with its registered identifier."""
    found: JsonObject = {"id": organisation.org_id, "name": organisation.name}
    return found


def _party_details(organisation: Organisation, roles: list[str]) -> JsonObject:
    found: JsonObject = {**party(organisation), "roles": roles}
    if organisation.registered:
        found["identifier"] = {
            "scheme": organisation.org_id_scheme,
            "id": organisation.org_id_identifier,
            "legalName": organisation.name,
        }
    if organisation.postcode:
        found["address"] = {"postalCode": organisation.postcode, "countryName": "United Kingdom"}
    # SME and VCSE flags are not published here: core OCDS 1.1.5 has no field for them (the
    # `details.scale` convention is an additional field to the standard's own review tool).
    return found


def release(data: PlaceData, allocation: Allocation) -> JsonObject:
    process = ocid(data, allocation.allocation_id)
    payments = data.payments_for(allocation.allocation_id)
    movements = [movement for payment in payments for movement in data.movements(payment)]
    last_change = max([allocation.updated_at, *(m.moment for m in movements)])
    authority = data.authority()
    provider = data.organisation(allocation.recipient_id, "provider")
    buyer, supplier = party(authority), party(provider)
    value = {"amount": json_pounds(allocation.value_pence), "currency": CURRENCY}
    period = {
        "startDate": day_start(allocation.start_date),
        "endDate": day_end(allocation.end_date),
    }
    award_id = f"{allocation.allocation_id}-award"
    contract: JsonObject = {
        "id": allocation.allocation_id,
        "awardID": award_id,
        "title": allocation.purpose,
        "status": CONTRACT_STATUS.get(allocation.status, "active"),
        "period": period,
        "value": value,
        "milestones": _milestones(data, allocation),
    }
    signed = [c.registered_at for c in data.contracts_for(allocation.allocation_id)]
    if signed:
        contract["dateSigned"] = datetime_text(min(signed))
    if movements:
        contract["implementation"] = {
            "transactions": [
                {
                    "id": movement.key,
                    "date": datetime_text(movement.moment),
                    "value": {"amount": json_pounds(movement.pence), "currency": CURRENCY},
                    "payer": buyer,
                    "payee": supplier,
                }
                for movement in movements
            ]
        }
    return {
        "ocid": process,
        "id": f"{process}-{last_change.strftime('%Y%m%dT%H%M%S')}",
        "date": datetime_text(last_change),
        "tag": _tags(allocation, bool(movements)),
        "initiationType": "tender",
        "language": "en",
        "parties": _parties(data, allocation, authority, provider),
        "buyer": buyer,
        "tender": {
            "id": f"{allocation.allocation_id}-tender",
            "procurementMethod": "direct",
            "procurementMethodDetails": "Direct award by the Public Service Reform Board",
            "procurementMethodRationale": (
                "An outcomes contract the board allocated from the place's single pot; no "
                "competitive tender took place"
            ),
            "mainProcurementCategory": "services",
        },
        "awards": [
            {
                "id": award_id,
                "title": allocation.purpose,
                "status": AWARD_STATUS.get(allocation.status, "active"),
                "date": datetime_text(allocation.award_moment()),
                "value": value,
                "suppliers": [supplier],
                "contractPeriod": period,
            }
        ],
        "contracts": [contract],
    }


def _tags(allocation: Allocation, paid: bool) -> list[str]:
    tags = ["tender", "award", "contract"]
    if paid:
        tags.append("implementation")
    if allocation.status in CONTRACT_STATUS:
        tags.append("contractTermination")
    return tags


def _parties(
    data: PlaceData, allocation: Allocation, authority: Organisation, provider: Organisation
) -> list[JsonObject]:
    parties = [
        _party_details(authority, ["buyer", "payer"]),
        _party_details(provider, ["supplier", "payee"]),
    ]
    reservation = data.reservations.get(allocation.allocation_id)
    departments = sorted(
        {s.department_code for s in reservation.attribution} if reservation else ()
    )
    for code in departments:
        parties.append(_party_details(data.organisation(code, "department"), ["funder"]))
    # A social impact bond's investors finance the contracting process (OCDS 1.1.5's partyRole
    # codelist has no investor role): funders too; INDIGO's investments say which invested.
    named = {party["id"] for party in parties}
    for contract in data.contracts_for(allocation.allocation_id):
        for investor_id in data.investors_of(contract.contract_id):
            investor = data.organisation(investor_id, "investor")
            if investor.org_id not in named:
                named.add(investor.org_id)
                parties.append(_party_details(investor, ["funder"]))
    return parties


def _milestones(data: PlaceData, allocation: Allocation) -> list[JsonObject]:
    milestones: list[JsonObject] = [
        {
            "id": f"{allocation.allocation_id}-approval",
            "title": "Approved by the board and funded by the ledger",
            "type": "approval",
            "status": "met",
            "dateMet": datetime_text(allocation.award_moment()),
        }
    ]
    for contract in data.contracts_for(allocation.allocation_id):
        milestones += _claim_period_milestones(contract)
        milestones += _claim_milestones(data, contract)
    return milestones


def _claim_period_milestones(contract: Contract) -> list[JsonObject]:
    """One payment milestone per registered claim period, due at its claim deadline (else its
    end); met once the remittance advice shows outcomes paid in it."""
    found = []
    for period in contract.terms.claim_periods:
        paid = period.claim_period_id in contract.paid_claim_period_ids
        milestone: JsonObject = {
            "id": f"{contract.contract_id}-period-{period.claim_period_id}",
            "title": (
                f"Outcomes claim period {period.claim_period_id}: {date_text(period.starts_on)} "
                f"to {date_text(period.ends_on)}"
            ),
            "type": "payment",
            "dueDate": day_end(period.claim_deadline or period.ends_on),
            "status": "met" if paid else "scheduled",
        }
        if period.planned_payment_pence:
            # OCDS 1.1.5 milestones have no value (1.2 adds one): the plan is in the text.
            milestone["description"] = (
                f"Planned outcome payments £{pounds(period.planned_payment_pence)}"
            )
        found.append(milestone)
    return found


def _claim_milestones(data: PlaceData, contract: Contract) -> list[JsonObject]:
    found = []
    for batch in data.evidence_for(contract.contract_id):
        status = MILESTONE_STATUS.get(batch.status, "scheduled")
        milestone: JsonObject = {
            "id": f"{contract.contract_id}-{batch.batch_id}",
            "title": f"Outcomes claim {batch.batch_id}",
            "type": "delivery",
            "description": (
                f"{claim_count_text(batch.claim_count)} outcome claims, "
                f"{claim_count_text(batch.accepted_count)} accepted for verification, "
                f"{claim_count_text(batch.verified_count)} verified"
            ),
            "status": status,
            "dateModified": datetime_text(batch.updated_at),
        }
        if status == "met":
            milestone["dateMet"] = datetime_text(batch.updated_at)
        found.append(milestone)
    return found
