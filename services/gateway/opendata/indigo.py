"""A place's outcomes contracts as INDIGO project data (the GO Lab's data standard for impact
bonds and outcomes-based contracts). Pure: builds from a `PlaceData`.

Each project is `{"id": ..., "data": {...}}`, the shape INDIGO publishes, where `data` follows
the standard's project schema: every value wrapped as `{"value": ..., "status": "PUBLIC"}`.
Outcome metrics, prices, payers' maximum potential outcome payments, the service provider and
the outcome payments made come from the contract and the ledger's payments; participant-level
evidence never leaves the outcomes service.
"""

from __future__ import annotations

from datetime import datetime

from services.gateway.opendata import ocds
from services.gateway.opendata.organisations import Organisation
from services.gateway.opendata.publishing import (
    CURRENCY,
    LICENCE_URL,
    Allocation,
    Contract,
    JsonObject,
    MetricPrice,
    Payment,
    PlaceData,
    date_text,
    datetime_text,
    json_pounds,
    pounds,
)

PUBLIC = "PUBLIC"
PUBLIC_SECTOR = "Government/Public Sector/Public Bank"
STAGES = {"expired": "Complete", "cancelled": "Complete"}


# The INDIGO organisation types singlepot's legal forms fall under.
ORGANISATION_TYPES = {
    "charity": "Registered non-profit organisation, charity or foundation",
    "social_enterprise": "Registered company, partnership or commercial association",
    "mutual": "Registered company, partnership or commercial association",
    "co_operative": "Registered company, partnership or commercial association",
    "company": "Registered company, partnership or commercial association",
    "public_body": "Government body",
}


def project_id(data: PlaceData, contract_id: str) -> str:
    """The publisher's own id for the project, scoped by its org-id: "INDIGO-" ids are the GO
    Lab's to issue."""
    return f"{data.authority().org_id}-{contract_id}"


def projects(data: PlaceData, published_at: datetime) -> JsonObject:
    allocations = {allocation.allocation_id: allocation for allocation in data.allocations}
    return {
        "publisher": {"name": data.authority().name, "org_id": data.authority().org_id},
        "license": LICENCE_URL,
        "published": datetime_text(published_at),
        "projects": [
            project(data, contract, allocations.get(contract.allocation_id))
            for contract in data.contracts
        ],
        "organisations": _organisations(data),
    }


def _value(value: object) -> JsonObject:
    return {"value": value, "status": PUBLIC}


def _money(pence: int) -> JsonObject:
    return {"currency": _value(CURRENCY), "amount": _value(json_pounds(pence))}


def _commitment_money(pence: int) -> JsonObject:
    # A commitment's amounts have no status of their own in the standard, unlike the project's.
    return {"currency": _value(CURRENCY), "amount": {"value": json_pounds(pence)}}


def project(data: PlaceData, contract: Contract, allocation: Allocation | None) -> JsonObject:
    provider = data.organisation(contract.provider_id, "provider")
    payments = data.payments_for(contract.allocation_id)
    paid_pence = sum(data.net_paid_pence(p) for p in payments)
    body: JsonObject = {
        "status": PUBLIC,
        "name": {"value": _name(contract, allocation)},
        "stage_development": {"value": _stage(allocation, bool(payments)), "status": PUBLIC},
        "jurisdiction": {"jurisdiction": _value("GB")},
        "overall_project_finance": {
            "maximum_potential_outcome_payment_v2": _money(contract.cap_pence),
            "total_outcome_payments_made": _money(paid_pence),
        },
        "service_provisions": [
            {
                "id": f"{contract.contract_id}-service",
                "organisation_id": {"value": provider.org_id},
                "status": PUBLIC,
            }
        ],
        "outcome_payment_commitments": _commitments(data, contract, paid_pence),
        "investments": _investments(data, contract),
        "outcome_metrics": [_metric(contract, price.metric_id) for price in contract.prices],
        "outcome_pricings": [_pricing(contract, price) for price in contract.prices],
        "outcome_payments": [
            {
                "payer_organisation_id": {"value": payer.org_id},
                "recipient_organisation_id": {"value": provider.org_id},
                "type": {"value": "Actual"},
                "money": {
                    "currency": {"value": CURRENCY},
                    "amount": {"value": json_pounds(pence)},
                },
                "status": PUBLIC,
                "notes": f"payment {p.payment_id} on {date_text(p.recorded_at.date())}{note}",
            }
            for p in payments
            if p.contract_id in (None, contract.contract_id)
            for payer, pence, note in _by_payer(data, p)
        ],
        "open_contracting_datas": [
            {"ocid": ocds.ocid(data, contract.allocation_id), "status": PUBLIC}
        ],
    }
    if allocation is not None:
        body["purpose_and_classifications"] = {"intervention": _value(allocation.purpose)}
    start = contract.terms.start_date or (allocation.start_date if allocation else None)
    end = contract.terms.end_date or (allocation.end_date if allocation else None)
    if start is not None and end is not None:
        body["dates"] = {
            "start_date_of_service_provision": _value(date_text(start)),
            "anticipated_end_date_of_service_provision": _value(date_text(end)),
        }
    # No empty arrays: a list with nothing in it (no payments yet) is left out.
    body = {key: value for key, value in body.items() if value != []}
    return {"id": project_id(data, contract.contract_id), "data": body}


def _by_payer(data: PlaceData, payment: Payment) -> list[tuple[Organisation, int, str]]:
    """A payment as each outcome payer funded it, net of recoveries (the ledger's booked
    split); the combined authority for all of it when it was not split by payer."""
    shares = data.paid_by_payer({payment.payment_id})
    if not shares:
        return [(data.authority(), data.net_paid_pence(payment), "")]
    return [
        (data.organisation(payer_id, "department"), pence, f", {payer_id}'s share")
        for payer_id, pence in sorted(shares.items())
    ]


def _metric(contract: Contract, metric_id: str) -> JsonObject:
    """A metric with its registered definition and target; the metric id when none was given."""
    terms = contract.metric(metric_id)
    metric: JsonObject = {
        "id": metric_id,
        "definition": {"value": terms.definition if terms else metric_id},
        "status": PUBLIC,
    }
    if terms is not None and terms.target_population:
        metric["target_population"] = {"value": terms.target_population}
    if terms is not None and terms.target_count is not None:
        metric["targeted_number_of_service_users_or_beneficiaries_total"] = {
            "value": terms.target_count
        }
    if terms is not None and terms.validation_method:
        metric["outcome_validation_method"] = {"value": terms.validation_method}
    return metric


def _pricing(contract: Contract, price: MetricPrice) -> JsonObject:
    pricing: JsonObject = {
        "outcome_metric_id": {"value": price.metric_id},
        "currency": {"value": CURRENCY},
        "price_per_unit": {"amount": {"value": json_pounds(price.price_pence)}},
        "status": PUBLIC,
    }
    terms = contract.metric(price.metric_id)
    if terms is not None and terms.target_count is not None:
        # The standard holds this amount as text; the target priced, within the metric's cap.
        most = terms.target_count * price.price_pence
        if price.cap_pence is not None:
            most = min(most, price.cap_pence)
        pricing["maximum_price_if_all_targets_achieved"] = {"amount": {"value": str(pounds(most))}}
    return pricing


def _name(contract: Contract, allocation: Allocation | None) -> str:
    purpose = f": {allocation.purpose}" if allocation else ""
    return f"Outcomes contract {contract.contract_id}{purpose}"


def _stage(allocation: Allocation | None, paid: bool) -> str:
    if allocation is not None and allocation.status in STAGES:
        return STAGES[allocation.status]
    return "Implementation" if paid else "Contracted"


def _commitments(data: PlaceData, contract: Contract, paid_pence: int) -> list[JsonObject]:
    """One commitment per outcome payer the contract registers (or names in its prices); the
    combined authority when it names none. A payer's maximum is its registered cap, else the sum
    of its metrics' caps when all are set."""
    payers: dict[str, list[int | None]] = {}
    for price in contract.prices:
        if price.payer_id:
            payers.setdefault(price.payer_id, []).append(price.cap_pence)
    for payer in contract.terms.payers:
        if payer.cap_pence is not None:
            payers[payer.payer_id] = [payer.cap_pence]
        else:
            payers.setdefault(payer.payer_id, [None])
    if not payers:
        return [
            {
                "organisation_id": {"value": data.authority().org_id},
                "organisation_role_category": {"value": PUBLIC_SECTOR},
                "maximum_potential_outcome_payment": _commitment_money(contract.cap_pence),
                "total_outcome_payments": _commitment_money(paid_pence),
                "status": PUBLIC,
            }
        ]
    payment_ids = {
        p.payment_id
        for p in data.payments_for(contract.allocation_id)
        if p.contract_id == contract.contract_id
    }
    # What each payer funded, net of recoveries, as the ledger booked the split.
    paid_by_payer = data.paid_by_payer(payment_ids)
    commitments = []
    for payer_id, caps in sorted(payers.items()):
        commitment: JsonObject = {
            "organisation_id": {"value": data.organisation(payer_id, "department").org_id},
            "organisation_role_category": {"value": PUBLIC_SECTOR},
            "status": PUBLIC,
        }
        if all(cap is not None for cap in caps):
            total = sum(cap for cap in caps if cap is not None)
            commitment["maximum_potential_outcome_payment"] = _commitment_money(total)
        if payer_id in paid_by_payer:
            commitment["total_outcome_payments"] = _commitment_money(paid_by_payer[payer_id])
        commitments.append(commitment)
    return commitments


# INDIGO's investor categories for the register's legal forms; a company is an impact investor
# here (it invests in a social impact bond).
INVESTOR_CATEGORIES = {
    "charity": "Foundation/Philanthropist",
    "public_body": "Government/Public Sector/Public Bank",
}
IMPACT_INVESTOR = "Impact Investor"


def _investments(data: PlaceData, contract: Contract) -> list[JsonObject]:
    """One investment per investor with flows recorded: the capital invested so far as its
    commitment (singlepot records flows, not commitments), repayments and returns in notes."""
    found = []
    for number, (investor_id, kinds) in enumerate(
        data.investors_of(contract.contract_id).items(), start=1
    ):
        investor = data.organisation(investor_id, "investor")
        category = INVESTOR_CATEGORIES.get(investor.legal_form, IMPACT_INVESTOR)
        found.append(
            {
                "id": f"investment{number}",
                "organisation_id": {"value": investor.org_id},
                "organisation_role_category": {"value": category},
                "investment_commitment": {
                    "currency": _value(CURRENCY),
                    "amount": {"exact": _value(json_pounds(kinds.get("investment", 0)))},
                },
                "notes": (
                    f"Invested £{pounds(kinds.get('investment', 0))}, repaid "
                    f"£{pounds(kinds.get('repayment', 0))}, returns "
                    f"£{pounds(kinds.get('return', 0))}, as recorded to date"
                ),
                "status": PUBLIC,
            }
        )
    return found


def _organisations(data: PlaceData) -> list[JsonObject]:
    """Every organisation a project names (the authority, providers, payers), each once, by the
    same org-id the other exports use."""
    found = {data.authority().org_id: data.authority()}
    for contract in data.contracts:
        provider = data.organisation(contract.provider_id, "provider")
        found[provider.org_id] = provider
        payer_ids = {p.payer_id for p in contract.terms.payers}
        payer_ids |= {p.payer_id for p in contract.prices if p.payer_id}
        for payer_id in payer_ids:
            payer = data.organisation(payer_id, "department")
            found[payer.org_id] = payer
        for investor_id in data.investors_of(contract.contract_id):
            investor = data.organisation(investor_id, "investor")
            found[investor.org_id] = investor
    return [
        {"id": identifier, "data": organisation_data(found[identifier])}
        for identifier in sorted(found)
    ]


def organisation_data(organisation: Organisation) -> JsonObject:
    """An organisation as INDIGO's organisation schema has it."""
    found: JsonObject = {
        "status": PUBLIC,
        "name": {"value": organisation.name},
        "jurisdiction": {"value": "GB"},
        "country": {"value": "GB"},
    }
    if organisation.registered:
        found["org-ids"] = {"primary": {"value": organisation.org_id}}
    if organisation.legal_form in ORGANISATION_TYPES:
        found["type"] = {"value": ORGANISATION_TYPES[organisation.legal_form]}
    if organisation.postcode:
        found["postcode"] = {"value": organisation.postcode}
    return found
