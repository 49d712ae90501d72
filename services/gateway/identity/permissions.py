"""The gateway's one permission table: for every door (each API route, web page and form, the
feed, the SSE stream, webhook management, open data) the action it needs and the scope the
caller's grant must reach. Together with `domain.ROLE_PERMISSIONS` (which role may take which
action) it decides every request: role × action × scope. Pure, no I/O: the guards in `auth.py`
and `web/routes.py` look a route's door up here, and a test walks every route of the app
against this table, so a route without a door cannot be served (`doors_missing`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from services.gateway.command_table import COMMAND_ROUTES, Subject
from services.gateway.domain import (
    CLAIM_REVIEWS,
    EVERY_PLACE,
    ROLE_PERMISSIONS,
    SUBJECT_ROLES,
    Permission,
    PlaceSet,
    Principal,
    Role,
)


class Scope(StrEnum):
    """What a grant must reach for a door to open."""

    # Anyone, with no token or session (open data, the public place page, sign-in, the docs).
    OPEN = "open"
    # Any valid token or web session, whatever its grants (`/me`, `/account`).
    SIGNED_IN = "signed in"
    # A grant for {place_id} (or every place) of a role that is not bound to a subject.
    PLACE = "place"
    # A grant for {place_id}, of any role holding the action; the answer holds only the rows of
    # the caller's own subject (a provider's contracts) or the endpoint checks the subject named
    # in the body (a claim's claimant).
    PLACE_OWN_ROWS = "place, own rows"
    # As PLACE, or a subject-bound grant for {place_id} whose subject is the provider of the
    # contract {contract_id}.
    CONTRACT_PROVIDER = "place, the contract's provider"
    # As PLACE, or a subject-bound grant for {place_id} whose subject is {provider_id}.
    PATH_PROVIDER = "place, {provider_id}"
    # As PLACE, or a subject-bound grant for {place_id} whose subject is {department_code}.
    PATH_DEPARTMENT = "place, {department_code}"
    # As PLACE, or a grant for {place_id} whose subject is the `department_code` query value.
    QUERY_DEPARTMENT = "place, ?department_code"
    # The department {department_code} (its own grant, or a role that reads every department)
    # in at least one place; the answer holds only the places the caller's grants cover, and a
    # webhook registered by the caller delivers only those places' spend.
    DEPARTMENT_PLACES = "{department_code}, the places granted"


@dataclass(frozen=True)
class Door:
    """What one route needs: an action under a scope, or else the `otherwise` door."""

    permission: Permission | None
    scope: Scope
    otherwise: Door | None = None


OPEN = Door(None, Scope.OPEN)
SIGNED_IN = Door(None, Scope.SIGNED_IN)
P = Permission
API = "/api/v1"
PLACE = "/places/{place_id}"
CONTRACT = f"{PLACE}/outcomes-contracts/{{contract_id}}"
DEPARTMENT = f"{API}/departments/{{department_code}}"
WEBHOOK = f"{DEPARTMENT}/webhooks/{{subscription_id}}"
BALANCE_STATEMENT = f"{PLACE}/departments/{{department_code}}/balance-statements/{{financial_year}}"
PARTNER_RETURN = f"{PLACE}/returns/partner-returns/{{financial_year}}/{{quarter}}"
NOTICES = (
    "payments-compliance/{financial_year}/{half}",
    "payments-over-30000/{financial_year}/{quarter}",
)

_COMMAND_SCOPES = {
    Subject.NONE: Scope.PLACE,
    Subject.CONTRACT_PROVIDER: Scope.CONTRACT_PROVIDER,
    Subject.CLAIMANT: Scope.PLACE_OWN_ROWS,
}
COMMAND_DOORS: dict[tuple[str, str], Door] = {
    ("POST", f"{API}{route.path}"): Door(route.permission, _COMMAND_SCOPES[route.subject])
    for route in COMMAND_ROUTES
}

QUERY_DOORS: dict[tuple[str, str], Door] = {
    ("GET", f"{API}/me"): SIGNED_IN,
    ("GET", f"{API}{PLACE}/pot"): Door(P.READ_POT, Scope.PLACE),
    ("GET", f"{API}{PLACE}/pot/overview"): Door(P.READ_POT, Scope.PLACE),
    ("GET", f"{API}{PLACE}/statements"): Door(P.READ_STATEMENTS, Scope.PLACE),
    ("GET", f"{API}{PLACE}/spend"): Door(P.READ_SPEND, Scope.PLACE),
    ("GET", f"{API}{PLACE}/spend/monthly"): Door(
        P.READ_SPEND, Scope.PLACE, Door(P.READ_DEPARTMENT_SPEND, Scope.QUERY_DEPARTMENT)
    ),
    ("GET", f"{API}{PLACE}/payments"): Door(P.READ_PAYMENTS, Scope.PLACE),
    ("GET", f"{API}{PLACE}/refused-instalments"): Door(P.READ_PAYMENTS, Scope.PLACE),
    ("GET", f"{API}{PLACE}/allocations"): Door(P.READ_ALLOCATIONS, Scope.PLACE),
    ("GET", f"{API}{PLACE}/decisions"): Door(P.READ_ALLOCATIONS, Scope.PLACE),
    ("GET", f"{API}{PLACE}/board/proposals"): Door(P.READ_BOARD, Scope.PLACE),
    ("GET", f"{API}{PLACE}/claims"): Door(P.READ_CLAIMS, Scope.PLACE),
    ("GET", f"{API}{PLACE}/outcomes-contracts"): Door(P.READ_CONTRACTS, Scope.PLACE_OWN_ROWS),
    ("GET", f"{API}{CONTRACT}/evidence"): Door(P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER),
    ("GET", f"{API}{CONTRACT}/targets"): Door(P.READ_CONTRACTS, Scope.CONTRACT_PROVIDER),
    ("GET", f"{API}{CONTRACT}/funnel"): Door(P.READ_CONTRACTS, Scope.CONTRACT_PROVIDER),
    ("GET", f"{API}{PLACE}/providers/{{provider_id}}/overview"): Door(
        P.READ_CONTRACTS, Scope.PATH_PROVIDER
    ),
    ("GET", f"{API}{PLACE}/verification-queue"): Door(P.READ_EVIDENCE, Scope.PLACE),
    ("GET", f"{API}{PLACE}/departments/{{department_code}}/spend"): Door(
        P.READ_DEPARTMENT_SPEND, Scope.PATH_DEPARTMENT
    ),
    ("GET", f"{API}{PLACE}/audit-export"): Door(P.READ_AUDIT, Scope.PLACE),
    ("GET", f"{API}{PLACE}/trial-balance/{{financial_year}}"): Door(P.READ_AUDIT, Scope.PLACE),
    ("GET", f"{API}{PLACE}/balances-as-at"): Door(P.READ_BALANCES, Scope.PLACE),
    ("GET", f"{API}{PLACE}/returns/transparency/{{financial_year}}/{{quarter}}"): Door(
        P.READ_RETURNS, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/returns/prompt-payment/{{financial_year}}/{{half}}"): Door(
        P.READ_RETURNS, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/returns/payments-over-30000/{{financial_year}}/{{quarter}}"): Door(
        P.READ_RETURNS, Scope.PLACE
    ),
    # The payments notices (services/gateway/returns/notices_api.py).
    **{
        (method, f"{API}{PLACE}/returns/notices/{notice}"): Door(permission, Scope.PLACE)
        for notice in NOTICES
        for method, permission in (("GET", P.READ_RETURNS),)
    },
    **{
        ("POST", f"{API}{PLACE}/returns/notices/{notice}/approval"): Door(
            P.APPROVE_RETURNS, Scope.PLACE
        )
        for notice in NOTICES
    },
    # Agreement of balances (services/gateway/returns/agreement_api.py).
    ("GET", f"{API}{BALANCE_STATEMENT}"): Door(
        P.READ_RETURNS, Scope.PLACE, Door(P.AGREE_BALANCES, Scope.PATH_DEPARTMENT)
    ),
    ("POST", f"{API}{BALANCE_STATEMENT}/{{funding_stream_code}}/answer"): Door(
        P.AGREE_BALANCES, Scope.PATH_DEPARTMENT
    ),
    ("GET", f"{API}{PLACE}/balance-disputes"): Door(P.READ_RETURNS, Scope.PLACE),
    ("POST", f"{API}{PLACE}/balance-disputes/{{dispute_id}}/notes"): Door(
        P.APPROVE_RETURNS, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/returns/agreement-of-balances/{{financial_year}}"): Door(
        P.READ_RETURNS, Scope.PLACE
    ),
    # VAT and merchant category on payments (services/gateway/returns/payment_tax_api.py).
    ("POST", f"{API}{PLACE}/payments/{{payment_id}}/tax-details"): Door(
        P.APPROVE_RETURNS, Scope.PLACE
    ),
    # Partner returns (services/gateway/returns/partner_returns_api.py).
    ("GET", f"{API}{PARTNER_RETURN}"): Door(P.READ_RETURNS, Scope.PLACE),
    ("POST", f"{API}{PARTNER_RETURN}/{{department_code}}/narrative"): Door(
        P.APPROVE_RETURNS, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/insights/liability-forecast"): Door(P.READ_BOARD, Scope.PLACE),
    ("GET", f"{API}{PLACE}/insights/provider-concentration"): Door(P.READ_BOARD, Scope.PLACE),
    ("GET", f"{API}{PLACE}/insights/rules"): Door(P.READ_BOARD, Scope.PLACE),
    ("POST", f"{API}{PLACE}/insights/unit-costs"): Door(P.MANAGE_BOARD, Scope.PLACE),
    ("GET", f"{API}{PLACE}/insights/unit-costs"): Door(P.READ_POT, Scope.PLACE),
    ("GET", f"{API}{PLACE}/insights/reform-dividend"): Door(P.READ_POT, Scope.PLACE),
    ("PUT", f"{API}{PLACE}/insights/rules"): Door(P.MANAGE_BOARD, Scope.PLACE),
    ("POST", f"{API}{CONTRACT}/evidence-files"): Door(P.SUBMIT_EVIDENCE, Scope.CONTRACT_PROVIDER),
    ("GET", f"{API}{CONTRACT}/evidence/{{batch_id}}/claims"): Door(
        P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER
    ),
    ("GET", f"{API}{CONTRACT}/evidence/{{batch_id}}/claims/summary"): Door(
        P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER
    ),
    ("GET", f"{API}{CONTRACT}/evidence/{{batch_id}}/claims.csv"): Door(
        P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER
    ),
    ("PUT", f"{API}{PLACE}/organisations/{{organisation_ref}}"): Door(
        P.REGISTER_ORGANISATION, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/organisations"): Door(P.READ_ALLOCATIONS, Scope.PLACE),
    # Any signed-in caller may ask; the answer is the command's only for its sender or for
    # whoever may send that command in its place (`command_status.may_read`), else a 404, so
    # the existence of another's command does not leak.
    ("GET", f"{API}/commands/{{command_id}}"): Door(None, Scope.SIGNED_IN),
}

SUBSCRIPTION_DOORS: dict[tuple[str, str], Door] = {
    ("GET", f"{DEPARTMENT}/spend"): Door(P.READ_DEPARTMENT_SPEND, Scope.DEPARTMENT_PLACES),
    ("GET", f"{DEPARTMENT}/spend/stream"): Door(P.READ_DEPARTMENT_SPEND, Scope.DEPARTMENT_PLACES),
    ("POST", f"{DEPARTMENT}/webhooks"): Door(P.MANAGE_WEBHOOKS, Scope.DEPARTMENT_PLACES),
    ("GET", f"{DEPARTMENT}/webhooks"): Door(P.MANAGE_WEBHOOKS, Scope.DEPARTMENT_PLACES),
    ("GET", f"{WEBHOOK}/deliveries"): Door(P.MANAGE_WEBHOOKS, Scope.DEPARTMENT_PLACES),
    ("POST", f"{WEBHOOK}/replay"): Door(P.MANAGE_WEBHOOKS, Scope.DEPARTMENT_PLACES),
    ("POST", f"{WEBHOOK}/deactivate"): Door(P.MANAGE_WEBHOOKS, Scope.DEPARTMENT_PLACES),
}

OPEN_DATA = "/open-data/places/{place_id}"
OPEN_DATA_FILES = (
    "/open-data/places",
    OPEN_DATA,
    f"{OPEN_DATA}/360giving.json",
    f"{OPEN_DATA}/360giving.csv",
    f"{OPEN_DATA}/ocds.json",
    f"{OPEN_DATA}/ocds-records.json",
    f"{OPEN_DATA}/indigo.json",
    f"{OPEN_DATA}/insights.json",
    f"{OPEN_DATA}/transparency/{{financial_year}}/{{quarter}}/transparency.csv",
    *(f"{OPEN_DATA}/payment-notices/{notice}/notice.json" for notice in NOTICES),
)
DOCUMENTATION = ("/openapi.json",)
OPEN_DOORS: dict[tuple[str, str], Door] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/web-charts.css"): OPEN,
    # Places compared from their open data: for the public and the Office for Place.
    ("GET", f"{API}/places-compared"): OPEN,
    # Swagger UI from the installed package (services/gateway/identity/security.py); no ReDoc.
    ("GET", "/docs"): OPEN,
    # The API's documentation and open data answer HEAD as well as GET (open-data users' tools
    # ask HEAD before they fetch).
    **{
        (method, path): OPEN
        for path in (*DOCUMENTATION, *OPEN_DATA_FILES)
        for method in ("GET", "HEAD")
    },
}

# The web pages ask what the API asks for the same figures, so the two always agree.
WEB_DOORS: dict[tuple[str, str], Door] = {
    ("GET", "/"): OPEN,
    ("GET", "/sign-in"): OPEN,
    ("POST", "/sign-in"): OPEN,
    ("POST", "/sign-out"): OPEN,
    ("GET", "/account"): SIGNED_IN,
    ("GET", PLACE): OPEN,
    ("GET", "/places-compared"): OPEN,
    ("GET", f"{PLACE}/finance"): Door(P.READ_SPEND, Scope.PLACE),
    ("POST", f"{PLACE}/finance/receipts"): Door(P.RECORD_RECEIPT, Scope.PLACE),
    ("GET", f"{PLACE}/finance/close"): Door(P.CLOSE_PERIOD, Scope.PLACE),
    ("POST", f"{PLACE}/finance/close"): Door(P.CLOSE_PERIOD, Scope.PLACE),
    # The organisations register (services/gateway/web/pages/organisations.py), as its API has it.
    ("GET", f"{PLACE}/organisations"): Door(P.READ_ALLOCATIONS, Scope.PLACE),
    ("POST", f"{PLACE}/organisations"): Door(P.REGISTER_ORGANISATION, Scope.PLACE),
    ("GET", f"{PLACE}/organisations/{{organisation_ref}}"): Door(P.READ_ALLOCATIONS, Scope.PLACE),
    ("POST", f"{PLACE}/organisations/{{organisation_ref}}"): Door(
        P.REGISTER_ORGANISATION, Scope.PLACE
    ),
    ("GET", f"{PLACE}/finance/returns"): Door(P.READ_RETURNS, Scope.PLACE),
    ("GET", f"{PLACE}/board"): Door(P.READ_BOARD, Scope.PLACE),
    ("GET", f"{PLACE}/liability-forecast"): Door(P.READ_BOARD, Scope.PLACE),
    ("GET", f"{PLACE}/provider-concentration"): Door(P.READ_BOARD, Scope.PLACE),
    ("POST", f"{PLACE}/board/allocations/{{allocation_id}}/votes"): Door(P.VOTE, Scope.PLACE),
    ("POST", f"{PLACE}/board/allocations/{{allocation_id}}/sign-off"): Door(
        P.SIGN_OFF_ALLOCATION, Scope.PLACE
    ),
    ("GET", f"{PLACE}/claims"): Door(P.READ_CLAIMS, Scope.PLACE),
    ("GET", f"{PLACE}/providers/{{provider_id}}"): Door(P.READ_CONTRACTS, Scope.PATH_PROVIDER),
    ("GET", f"{PLACE}/contracts/{{contract_id}}"): Door(P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER),
    ("POST", f"{PLACE}/contracts/{{contract_id}}/evidence-files"): Door(
        P.SUBMIT_EVIDENCE, Scope.CONTRACT_PROVIDER
    ),
    ("GET", f"{PLACE}/contracts/{{contract_id}}/batches/{{batch_id}}"): Door(
        P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER
    ),
    ("GET", f"{PLACE}/contracts/{{contract_id}}/batches/{{batch_id}}/claims.csv"): Door(
        P.READ_EVIDENCE, Scope.CONTRACT_PROVIDER
    ),
    ("GET", f"{PLACE}/verification"): Door(P.READ_EVIDENCE, Scope.PLACE),
    ("POST", f"{PLACE}/contracts/{{contract_id}}/verification"): Door(
        P.VERIFY_EVIDENCE, Scope.PLACE
    ),
    ("GET", f"{PLACE}/departments/{{department_code}}"): Door(
        P.READ_DEPARTMENT_SPEND, Scope.PATH_DEPARTMENT
    ),
    ("GET", f"{PLACE}/departments/{{department_code}}/spend.csv"): Door(
        P.READ_DEPARTMENT_SPEND, Scope.PATH_DEPARTMENT
    ),
}

# Grant monitoring (services/gateway/monitoring): a recipient (a provider grant) acts on its own
# grants under /providers/{provider_id}; programme and finance staff work on the place's.
GRANTS = f"{PLACE}/providers/{{provider_id}}/grants"
MONITORING_DOORS: dict[tuple[str, str], Door] = {
    ("PUT", f"{API}{PLACE}/allocations/{{allocation_id}}/monitoring"): Door(
        P.SET_MONITORING, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/monitoring"): Door(P.READ_MONITORING, Scope.PLACE),
    ("GET", f"{API}{GRANTS}"): Door(P.READ_MONITORING, Scope.PATH_PROVIDER),
    ("POST", f"{API}{GRANTS}/{{allocation_id}}/reports/{{report_number}}"): Door(
        P.SUBMIT_GRANT_REPORT, Scope.PATH_PROVIDER
    ),
    ("POST", f"{API}{PLACE}/allocations/{{allocation_id}}/reports/{{report_number}}/review"): Door(
        P.REVIEW_GRANT_REPORT, Scope.PLACE
    ),
    ("POST", f"{API}{GRANTS}/{{allocation_id}}/claims"): Door(
        P.CLAIM_GRANT_PAYMENT, Scope.PATH_PROVIDER
    ),
    # A grant claim's reviews, one route each (`domain.CLAIM_REVIEWS`), here and on the pages.
    **{
        ("POST", f"{API}{PLACE}/grant-claims/{{claim_id}}/{step}-review"): Door(
            permission, Scope.PLACE
        )
        for step, permission in CLAIM_REVIEWS.items()
    },
    ("PUT", f"{API}{PLACE}/organisations/{{organisation_ref}}/due-diligence"): Door(
        P.RECORD_DUE_DILIGENCE, Scope.PLACE
    ),
    ("GET", f"{API}{PLACE}/organisations/{{organisation_ref}}/due-diligence"): Door(
        P.READ_MONITORING, Scope.PLACE
    ),
    ("POST", f"{API}{PLACE}/organisations/{{organisation_ref}}/due-diligence/override"): Door(
        P.OVERRIDE_RED_RATING, Scope.PLACE
    ),
    ("PUT", f"{API}{PLACE}/due-diligence/rules"): Door(P.RECORD_DUE_DILIGENCE, Scope.PLACE),
    ("GET", f"{API}{PLACE}/returns/duplicate-funding"): Door(P.READ_RETURNS, Scope.PLACE),
    # The pages.
    ("GET", f"{PLACE}/grants/{{provider_id}}"): Door(P.READ_MONITORING, Scope.PATH_PROVIDER),
    ("POST", f"{PLACE}/grants/{{provider_id}}/reports"): Door(
        P.SUBMIT_GRANT_REPORT, Scope.PATH_PROVIDER
    ),
    ("POST", f"{PLACE}/grants/{{provider_id}}/claims"): Door(
        P.CLAIM_GRANT_PAYMENT, Scope.PATH_PROVIDER
    ),
    ("GET", f"{PLACE}/monitoring"): Door(P.READ_MONITORING, Scope.PLACE),
    ("POST", f"{PLACE}/monitoring/reviews"): Door(P.REVIEW_GRANT_REPORT, Scope.PLACE),
    **{
        ("POST", f"{PLACE}/monitoring/claims/{step}"): Door(permission, Scope.PLACE)
        for step, permission in CLAIM_REVIEWS.items()
    },
}

# Citizens in the loop (services/gateway/citizens): what is public is open to anyone.
CITIZENS = f"{API}{PLACE}/citizens"
CITIZENS_DOORS: dict[tuple[str, str], Door] = {
    ("GET", f"{CITIZENS}/rules"): OPEN,
    ("PUT", f"{CITIZENS}/rules"): Door(P.MANAGE_BOARD, Scope.PLACE),
    ("GET", f"{CITIZENS}/panel"): OPEN,
    ("POST", f"{CITIZENS}/panel/members"): Door(P.MANAGE_PANEL, Scope.PLACE),
    ("POST", f"{CITIZENS}/panel/meetings"): Door(P.MANAGE_PANEL, Scope.PLACE),
    ("POST", f"{CITIZENS}/panel/questions"): Door(P.MANAGE_PANEL, Scope.PLACE),
    ("POST", f"{CITIZENS}/panel/questions/{{question_id}}/answer"): Door(
        P.ANSWER_PANEL, Scope.PLACE
    ),
    ("GET", f"{CITIZENS}/triggers"): OPEN,
    ("POST", f"{CITIZENS}/triggers"): Door(P.PETITION, Scope.PLACE),
    ("POST", f"{CITIZENS}/triggers/{{trigger_id}}/support"): Door(P.PETITION, Scope.PLACE),
    ("GET", f"{CITIZENS}/committee"): OPEN,
    ("POST", f"{CITIZENS}/committee/members"): Door(P.ACT_AS_COMMITTEE, Scope.PLACE),
    ("POST", f"{CITIZENS}/committee/referrals"): Door(P.REFER_TO_COMMITTEE, Scope.PLACE),
    ("POST", f"{CITIZENS}/committee/referrals/{{referral_id}}/status"): Door(
        P.ACT_AS_COMMITTEE, Scope.PLACE
    ),
    ("POST", f"{CITIZENS}/committee/reports"): Door(P.ACT_AS_COMMITTEE, Scope.PLACE),
    (
        "POST",
        f"{CITIZENS}/committee/reports/{{report_id}}/recommendations/{{recommendation_number}}"
        "/completion",
    ): Door(P.ACT_AS_COMMITTEE, Scope.PLACE),
    # Open data of the panel, the triggers and the committee (citizens/open_data.py).
    ("GET", f"{CITIZENS}/panel/open-data"): OPEN,
    ("GET", f"{CITIZENS}/triggers/open-data"): OPEN,
    ("GET", f"{CITIZENS}/committee/open-data"): OPEN,
    # Participatory budgeting rounds (services/gateway/citizens/rounds_api.py).
    ("GET", f"{CITIZENS}/rounds"): OPEN,
    ("POST", f"{CITIZENS}/rounds"): Door(P.RUN_ROUNDS, Scope.PLACE),
    ("GET", f"{CITIZENS}/rounds/{{round_id}}"): OPEN,
    ("GET", f"{CITIZENS}/rounds/{{round_id}}/open-data"): OPEN,
    ("POST", f"{CITIZENS}/rounds/{{round_id}}/proposals"): Door(P.TAKE_PART, Scope.PLACE),
    ("POST", f"{CITIZENS}/rounds/{{round_id}}/proposals/{{proposal_id}}/moderation"): Door(
        P.MODERATE_PROPOSALS, Scope.PLACE
    ),
    ("POST", f"{CITIZENS}/rounds/{{round_id}}/ballots"): Door(P.TAKE_PART, Scope.PLACE),
    ("POST", f"{CITIZENS}/rounds/{{round_id}}/count"): Door(P.RUN_ROUNDS, Scope.PLACE),
    # A round's public page, and the ballot form for residents while voting is open.
    ("GET", f"{PLACE}/citizens/rounds/{{round_id}}"): OPEN,
    ("POST", f"{PLACE}/citizens/rounds/{{round_id}}/ballot"): Door(P.TAKE_PART, Scope.PLACE),
    # The public page, with the panel's forms for those who may send them.
    ("GET", f"{PLACE}/citizens"): OPEN,
    ("POST", f"{PLACE}/citizens/questions"): Door(P.MANAGE_PANEL, Scope.PLACE),
    ("POST", f"{PLACE}/citizens/questions/{{question_id}}/answer"): Door(
        P.ANSWER_PANEL, Scope.PLACE
    ),
}

DOORS: Mapping[tuple[str, str], Door] = {
    **COMMAND_DOORS,
    **QUERY_DOORS,
    **SUBSCRIPTION_DOORS,
    **OPEN_DOORS,
    **WEB_DOORS,
    **MONITORING_DOORS,
    **CITIZENS_DOORS,
}


def door_of(method: str, path: str) -> Door | None:
    """The door of a route, by its method and path template (None: not in the table)."""
    return DOORS.get((method.upper(), path))


def route_doors(methods: Iterable[str] | None, path: str) -> dict[str, Door]:
    """The doors of one route, by method; a route missing from the table cannot be built, so
    no route is ever served unguarded."""
    doors = {method: door_of(method, path) for method in methods or ()}
    missing = sorted(method for method, door in doors.items() if door is None)
    if missing:
        where = "services/gateway/identity/permissions.py"
        raise LookupError(f"{missing} {path} has no door in {where}")
    return {method: door for method, door in doors.items() if door is not None}


def doors_missing(routes: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (method, path template) pairs with no door: each must be added to the table."""
    return sorted({(m.upper(), p) for m, p in routes if (m.upper(), p) not in DOORS})


@dataclass(frozen=True)
class Target:
    """The scope a request names: its place, and the subject the door checks (a provider id,
    a department code; None when the door names none or it is unknown, e.g. no such contract)."""

    place_id: str | None = None
    subject_id: str | None = None


def opens(door: Door, principal: Principal | None, target: Target) -> bool:
    """Whether this door (not its `otherwise`, which reads its own target) opens for the
    principal (None: no token or session) at the target."""
    if door.scope is Scope.OPEN:
        return True
    if principal is None:
        return False
    return _opens_here(door, principal, target)


def _opens_here(door: Door, principal: Principal, target: Target) -> bool:
    if door.scope is Scope.SIGNED_IN:
        return True
    permission = door.permission
    assert permission is not None, f"a {door.scope} door names an action"
    if door.scope is Scope.DEPARTMENT_PLACES:
        assert target.subject_id is not None, "a department door names its department"
        return not principal.places(permission, target.subject_id).is_empty
    assert target.place_id is not None, f"a {door.scope} door names its place"
    if door.scope is Scope.PLACE:
        return principal.sees_everything(permission, target.place_id)
    if door.scope is Scope.PLACE_OWN_ROWS:
        return principal.may_for_some_subject(permission, target.place_id)
    return principal.may(permission, target.place_id, target.subject_id) or (
        principal.sees_everything(permission, target.place_id)
    )


def reachable_places(principal: Principal, permission: Permission, subject_id: str) -> PlaceSet:
    """The places whose rows a DEPARTMENT_PLACES door may answer with."""
    return principal.places(permission, subject_id)


# --- The table as README shows it -------------------------------------------------------------

_EXAMPLES = {
    Role.PROVIDER: "provider@GM:PROV-1",
    Role.DEPARTMENT: "department@GM:DWP",
}


def _roles_opening(door: Door) -> str:
    if door.scope is Scope.OPEN:
        return "anyone (no token)"
    if door.scope is Scope.SIGNED_IN:
        return "any signed-in caller"
    names = [role.value for role in Role if door.permission in ROLE_PERMISSIONS[role]]
    text = ", ".join(names) or "nobody"
    if door.otherwise is not None:
        text += f"; or {_roles_opening(door.otherwise)} ({door.otherwise.scope})"
    return text


def markdown_table() -> str:
    """The door table as Markdown, one row per route: what README.md carries (a test checks
    README holds exactly this text)."""
    lines = ["| method | path | action | scope | roles |", "|---|---|---|---|---|"]
    for (method, path), door in sorted(DOORS.items(), key=lambda item: (item[0][1], item[0][0])):
        action = door.permission.value if door.permission else "-"
        lines.append(f"| {method} | `{path}` | {action} | {door.scope} | {_roles_opening(door)} |")
    return "\n".join(lines)


def role_table() -> str:
    """Which role may take which action, as Markdown (subject roles act for their own id)."""
    roles = list(Role)
    lines = [
        "| action | " + " | ".join(role.value for role in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for permission in Permission:
        marks = [
            ("own" if role in SUBJECT_ROLES else "yes")
            if permission in ROLE_PERMISSIONS[role]
            else ""
            for role in roles
        ]
        lines.append(f"| {permission.value} | " + " | ".join(marks) + " |")
    return "\n".join(lines)


__all__ = ["EVERY_PLACE", "DOORS", "Door", "Scope", "Target", "opens", "markdown_table"]


if __name__ == "__main__":
    # `python -m services.gateway.permissions` prints the tables README.md carries.
    print(role_table(), markdown_table(), sep="\n\n")
