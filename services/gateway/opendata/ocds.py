"""A place's allocations as an OCDS 1.1 release package: per allocation a contracting process
(ocid) with its award, its contract, milestones (the board's approval, each outcomes claim) and
implementation transactions for the payments made. Pure: builds from a `PlaceData`.

A settled recovery (clawback) of a payment is a transaction of its own with a negative value,
dated when it was settled: OCDS 1.1 says of a transaction's amount that "a negative value
indicates a refund or correction". Its free-text reason is never published.

The buyer and payer is the combined authority; the provider is the supplier and payee; the
departments whose streams funded the allocation are parties with the role "funder".
"""

from __future__ import annotations

from datetime import datetime

from services.gateway.opendata.publishing import (
    CURRENCY,
    LICENCE_URL,
    OCID_PREFIX,
    PUBLISHER_NAME,
    Allocation,
    Contract,
    JsonObject,
    PlaceData,
    date_text,
    datetime_text,
    department_id,
    funder_id,
    json_pounds,
    midnight_text,
    organisation_id,
    place_name,
)

OCDS_VERSION = "1.1"
AWARD_STATUS = {"cancelled": "cancelled"}
CONTRACT_STATUS = {"cancelled": "terminated", "expired": "terminated"}
MILESTONE_STATUS = {"verified": "met", "rejected": "notMet"}


def ocid(place_id: str, allocation_id: str) -> str:
    return f"{OCID_PREFIX}-{place_id}-{allocation_id}"


def release_package(data: PlaceData, published_at: datetime, uri: str) -> JsonObject:
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": datetime_text(published_at),
        "publisher": {"name": PUBLISHER_NAME},
        "license": LICENCE_URL,
        "releases": [release(data, allocation) for allocation in data.awarded()],
    }


def release(data: PlaceData, allocation: Allocation) -> JsonObject:
    process = ocid(data.place_id, allocation.allocation_id)
    payments = data.payments_for(allocation.allocation_id)
    movements = [movement for payment in payments for movement in data.movements(payment)]
    last_change = max([allocation.updated_at, *(m.moment for m in movements)])
    buyer = {"id": funder_id(data.place_id), "name": place_name(data.place_id)}
    supplier = {"id": organisation_id(allocation.recipient_id), "name": allocation.recipient_id}
    value = {"amount": json_pounds(allocation.value_pence), "currency": CURRENCY}
    period = {
        "startDate": midnight_text(allocation.start_date),
        "endDate": midnight_text(allocation.end_date),
    }
    award_id = f"{allocation.allocation_id}-award"
    return {
        "ocid": process,
        "id": f"{process}-{last_change.strftime('%Y%m%dT%H%M%S')}",
        "date": datetime_text(last_change),
        "tag": _tags(allocation, bool(payments)),
        "initiationType": "tender",
        "language": "en",
        "parties": _parties(data, allocation, buyer, supplier),
        "buyer": buyer,
        "tender": {
            "id": f"{allocation.allocation_id}-tender",
            "title": allocation.purpose,
            "status": "complete",
            "mainProcurementCategory": "services",
            "value": value,
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
        "contracts": [
            {
                "id": allocation.allocation_id,
                "awardID": award_id,
                "title": allocation.purpose,
                "status": CONTRACT_STATUS.get(allocation.status, "active"),
                "period": period,
                "value": value,
                "milestones": _milestones(data, allocation),
                "implementation": {
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
                },
            }
        ],
    }


def _tags(allocation: Allocation, paid: bool) -> list[str]:
    tags = ["award", "contract"]
    if paid:
        tags.append("implementation")
    if allocation.status in CONTRACT_STATUS:
        tags.append("contractTermination")
    return tags


def _parties(
    data: PlaceData, allocation: Allocation, buyer: JsonObject, supplier: JsonObject
) -> list[JsonObject]:
    parties = [
        {**buyer, "roles": ["buyer", "payer"]},
        {**supplier, "roles": ["supplier", "payee"]},
    ]
    reservation = data.reservations.get(allocation.allocation_id)
    departments = sorted(
        {s.department_code for s in reservation.attribution} if reservation else ()
    )
    for code in departments:
        parties.append({"id": department_id(code), "name": code, "roles": ["funder"]})
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
            "dueDate": midnight_text(period.claim_deadline or period.ends_on),
            "status": "met" if paid else "scheduled",
        }
        if period.planned_payment_pence:
            milestone["value"] = {
                "amount": json_pounds(period.planned_payment_pence),
                "currency": CURRENCY,
            }
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
                f"{batch.claim_count} outcome claims, {batch.accepted_count} accepted for "
                f"verification, {batch.verified_count} verified"
            ),
            "status": status,
            "dateModified": datetime_text(batch.updated_at),
        }
        if status == "met":
            milestone["dateMet"] = datetime_text(batch.updated_at)
        found.append(milestone)
    return found
