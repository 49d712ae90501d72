"""Loads a small demo place through the gateway's API, as finance staff and a provider would.

It signs in as the demo user `demo` (made here, with a fresh token each time), whose roles cover
the whole walk: finance staff, chair, accounting officer and verifier of GM, auditor, the
provider PROV-WORKWELL and the department DWP. Every request carries a fixed Idempotency-Key,
so loading the demo twice changes nothing. The token is printed and kept in `<data dir>/demo-token`.

The place it leaves gives every page something to show: settlements, an outcomes contract
(allocation A-1, decided before the board existed) with targets, difficulty segments,
referrals, engagements, one paid evidence batch and one waiting in the verifier's sample queue,
spend attributed to departments; then a board with members, decision rules and a plan, A-2
awaiting the members' votes, A-3 voted through (with reasons) and awaiting the accounting
officer's sign-off, and three Right to Serve / Right to Request claims (one overdue, one
answered). Board members who vote do so with their own short-lived tokens.

For the web pages it also makes one person per role with a fresh random password, written to
`<data dir>/demo-logins.txt` (the data dir is git-ignored) and printed by `singlepot up`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from services.gateway.command_log import db as command_log_db
from services.gateway.domain import parse_grant, request_fingerprint
from services.gateway.identity import users
from services.gateway.identity.passwords import generate_password
from services.gateway.insights import unit_costs
from services.runtime.db import connect
from services.runtime.settings import RuntimeSettings
from singlepot.background import InBackground
from singlepot.local.errors import LocalStackError

PLACE_ID = "GM"
FINANCIAL_YEAR = "2026-27"
DEMO_PSEUDONYM_KEY = b"demo-only-pseudonymisation-key"
BATCH_ID = "B-2026-09"
VERIFICATION_KEY = "demo-verification"
DEMO_USER = "demo"
DEMO_GRANTS = (
    "finance@GM",
    "chair@GM",
    "accounting_officer@GM",
    "verifier@GM",
    "auditor@*",
    "provider@GM:PROV-WORKWELL",
    "department@*:DWP",
    # The second place, so the demo can compare places (its money only: no board or provider).
    "finance@WM",
    "chair@WM",
    "accounting_officer@WM",
)

# One web sign-in per role: (user id, display name, grants).
DEMO_WEB_USERS = (
    ("finance-demo", "Finance officer", ("finance@GM",)),
    ("chair-demo", "Board chair", ("chair@GM",)),
    ("board-demo", "Board member", ("board_member@GM",)),
    ("officer-demo", "Accounting officer", ("accounting_officer@GM",)),
    ("provider-demo", "WorkWell provider", ("provider@GM:PROV-WORKWELL",)),
    ("verifier-demo", "Verifier", ("verifier@GM",)),
    ("department-demo", "DWP analyst", ("department@*:DWP",)),
    ("auditor-demo", "Auditor", ("auditor@*",)),
    ("programme-demo", "Programme manager", ("programme@GM",)),
)

SETTLEMENTS = (
    # department, funding stream, 2026-27 pence, 2027-28 pence
    ("DWP", "WORK-AND-HEALTH", 12_000_000_00, 12_500_000_00),
    ("DHSC", "PUBLIC-HEALTH", 8_000_000_00, 8_200_000_00),
    ("MHCLG", "HOMELESSNESS", 5_000_000_00, 5_000_000_00),
)


# Board members who act in their own name in the demo (they vote and declare an interest); each
# gets a short-lived token. chair-demo is also a web sign-in; cllr-ahmed is not.
BOARD_ACTORS = (
    ("chair-demo", "Board chair", ("chair@GM",)),
    ("cllr-ahmed", "Cllr Ahmed", ("board_member@GM",)),
)
BOARD_ACTOR_TOKEN_LIFETIME = timedelta(hours=1)

BOARD = {
    "board_version": 1,
    "chair_id": "chair-demo",
    "chair_role": "mayor",
    "accounting_officer_id": "officer-demo",
    "members": [
        {"member_id": "chair-demo", "name": "Board chair", "seat": "combined_authority"},
        {"member_id": "board-demo", "name": "Board member", "seat": "voluntary_sector"},
        {"member_id": "cllr-ahmed", "name": "Cllr Ahmed", "seat": "council"},
        {"member_id": "dr-okafor", "name": "Dr Okafor", "seat": "nhs_icb"},
    ],
}
DECISION_RULES = {"rules_version": 1, "quorum_members": 2, "majority": "simple"}
PLAN = {
    "plan_id": "LRP-GM-SR2025",
    "spending_review_period": "SR2025",
    "title": "Greater Manchester Local Reform Plan",
    "missions": [
        {"mission_id": "M-GOOD-JOBS", "title": "Good work for people with a health condition"},
        {"mission_id": "M-EARLY-HELP", "title": "Early help for every family that needs it"},
        {"mission_id": "M-HOMES", "title": "Nobody sleeping rough"},
    ],
}
# The place's organisations register: the combined authority, the departments with their
# government organisation register ids (org-id.guide GB-GOR; checked against the register's data,
# openregister/government-organisation-data: D10 DWP, D12 Department of Health, D4 the
# communities department), and the providers (fictional organisations with plausible, made-up
# numbers). Every open-data file names them by these ids. The combined authority's is GB-LAE-GMCA:
# the Local Authorities for England register's final data lists GMCA as local-authority-type
# COMB, "Combined Authority" (organisations.COMBINED_AUTHORITIES_GB_LAE says where).
ORGANISATIONS: dict[str, dict[str, Any]] = {
    "GM": {
        "kind": "combined_authority",
        "name": "Greater Manchester Combined Authority",
        "legal_form": "public_body",
        "org_id_scheme": "GB-LAE",
        "org_id_identifier": "GMCA",
        "postcode": "M1 6EU",
    },
    "DWP": {
        "kind": "department",
        "name": "Department for Work and Pensions",
        "legal_form": "public_body",
        "org_id_scheme": "GB-GOR",
        "org_id_identifier": "D10",
        "postcode": "SW1H 9NA",
    },
    "DHSC": {
        "kind": "department",
        "name": "Department of Health and Social Care",
        "legal_form": "public_body",
        "org_id_scheme": "GB-GOR",
        "org_id_identifier": "D12",
        "postcode": "SW1H 0EU",
    },
    "MHCLG": {
        "kind": "department",
        "name": "Ministry of Housing, Communities and Local Government",
        "legal_form": "public_body",
        "org_id_scheme": "GB-GOR",
        "org_id_identifier": "D4",
        "postcode": "SW1P 4DF",
    },
    "PROV-WORKWELL": {
        "kind": "provider",
        "name": "WorkWell Employment CIC",
        "legal_form": "social_enterprise",
        "org_id_scheme": "GB-COH",
        "org_id_identifier": "09876543",
        "postcode": "M4 5JD",
        "is_sme": True,
        "is_vcse": True,
    },
    "FAMILY-HUBS-TRUST": {
        "kind": "provider",
        "name": "Greater Manchester Family Hubs Trust",
        "legal_form": "charity",
        "org_id_scheme": "GB-CHC",
        "org_id_identifier": "1187654",
        "postcode": "M5 4WT",
        "is_sme": True,
        "is_vcse": True,
    },
    "GM-HOUSING-FIRST": {
        "kind": "provider",
        "name": "Housing First Greater Manchester Co-operative",
        "legal_form": "co_operative",
        "org_id_scheme": "GB-MPR",
        "org_id_identifier": "31245R",
        "postcode": "M15 4PS",
        "is_sme": True,
        "is_vcse": True,
    },
}

GRANT = {
    "allocation_id": "A-4",
    "allocation_type": "grant",
    "recipient_id": "FAMILY-HUBS-TRUST",
    "purpose": "Outreach from family hubs in Salford over the winter",
    "mission_id": "M-EARLY-HELP",
    "start_date": "2026-11-01",
    "end_date": "2027-03-31",
    "value_pence": 80_000_00,
    "financial_year": FINANCIAL_YEAR,
}

PROPOSALS = (
    # Awaiting the members' votes: the board page shows the vote form.
    {
        "allocation_id": "A-2",
        "allocation_type": "grant",
        "recipient_id": "FAMILY-HUBS-TRUST",
        "purpose": "Family hubs in every borough",
        "mission_id": "M-EARLY-HELP",
        "start_date": "2026-12-01",
        "end_date": "2027-11-30",
        "value_pence": 250_000_00,
        "financial_year": FINANCIAL_YEAR,
        "purpose_tags": ["early-intervention"],
    },
    # Voted through below; over £100k, so it awaits the accounting officer's sign-off.
    {
        "allocation_id": "A-3",
        "allocation_type": "grant",
        "recipient_id": "GM-HOUSING-FIRST",
        "purpose": "Housing First for people sleeping rough",
        "mission_id": "M-HOMES",
        "start_date": "2027-01-01",
        "end_date": "2027-12-31",
        "value_pence": 400_000_00,
        "financial_year": FINANCIAL_YEAR,
    },
)
VOTES_ON_A3 = (
    ("chair-demo", "Housing First has the strongest evidence of any rough sleeping programme"),
    ("cllr-ahmed", "The councils can refer people from the first week"),
)
CLAIMS = (
    # Lodged more than 56 days ago and unanswered: overdue.
    {
        "claim_id": "CL-1",
        "claim_kind": "right_to_serve",
        "claimant_id": "ANCOATS-COMMUNITY-TRUST",
        "claimant_kind": "community_group",
        "service_description": "Run the youth service in Ancoats and New Islington",
        "lodged_on": "2026-09-01",
    },
    {
        "claim_id": "CL-2",
        "claim_kind": "right_to_request",
        "claimant_id": "SALFORD-CITY-COUNCIL",
        "claimant_kind": "council",
        "service_description": "Pool the adult skills budget for Salford",
        "lodged_on": "2026-11-02",
    },
    {
        "claim_id": "CL-3",
        "claim_kind": "right_to_serve",
        "claimant_id": "WIGAN-FOOD-COOP",
        "claimant_kind": "community_group",
        "service_description": "Run the holiday food and activities programme in Wigan",
        "lodged_on": "2026-07-01",
    },
)
DIFFICULTY_SEGMENTS = ("ready-for-work", "some-barriers", "complex-needs")
CONTRACT_TERMS = {
    "contract_id": "C-1",
    "allocation_id": "A-1",
    "provider_id": "PROV-WORKWELL",
    "prices": [
        {"metric_id": "JOB-START", "price_pence": 1_200_00},
        {"metric_id": "SUSTAINED-26-WEEKS", "price_pence": 3_500_00},
    ],
    "metrics": [
        {
            "metric_id": "JOB-START",
            "definition": "Started paid work of 16 hours a week or more",
            "target_count": 300,
            "validation_method": "payroll record",
        },
        {
            "metric_id": "SUSTAINED-26-WEEKS",
            "definition": "In paid work for 26 of the 30 weeks after starting",
            "target_count": 150,
            "validation_method": "payroll record",
        },
    ],
    "cap_pence": 1_500_000_00,
    "start_date": "2026-05-01",
    "end_date": "2028-03-31",
    "difficulty_segments": list(DIFFICULTY_SEGMENTS),
}
# (participant number, segment) referred; the numbers that engaged; the evidence batches.
REFERRALS = tuple(
    (number, DIFFICULTY_SEGMENTS[0 if number <= 6 else 1 if number <= 11 else 2])
    for number in range(1, 16)
)
ENGAGED = (1, 2, 3, 4, 5, 7, 8, 9, 12)
FIRST_BATCH = ((1, "JOB-START"), (2, "JOB-START"), (3, "SUSTAINED-26-WEEKS"))
SECOND_BATCH_ID = "B-2026-10"
# Left for the verifier: the verifier's page shows its sample.
SECOND_BATCH = ((4, "JOB-START"), (8, "JOB-START"))


def participant_hash(reference: str) -> str:
    """A keyed hash of a provider's participant reference: names never leave the provider."""
    return hmac.new(DEMO_PSEUDONYM_KEY, reference.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Step:
    """One demo command: its fixed Idempotency-Key (so a second run replays it and changes
    nothing), its API path and body, who sends it, and what must have taken effect after it."""

    key: str
    path: str
    body: dict[str, Any]
    # A board member votes or declares an interest in their own name, with their own token.
    sender: str = DEMO_USER
    # The name of the condition (in `_READY`) to wait for before the next step, if any.
    ready: str | None = None


def demo_steps() -> list[Step]:
    """Every demo command, in the order they must happen: the money first (settlements, an
    allocation decided before the board existed, its outcomes contract, evidence), then the
    board (members, rules, plan), proposals awaiting votes and sign-off, and claims."""
    return [
        *_money_steps(),
        *_delivery_steps(),
        *_board_steps(),
        *_claim_steps(),
        _evidence_step("demo-evidence-october", SECOND_BATCH_ID, SECOND_BATCH, "2026-10-20"),
        *_second_place_steps(),
    ]


def _money_steps() -> list[Step]:
    place = f"/api/v1/places/{PLACE_ID}"
    steps = [
        Step(
            f"demo-{number}",
            f"{place}/settlements",
            {
                "settlement_id": f"SR25-{department}-{stream}",
                "department_code": department,
                "funding_stream_code": stream,
                "spending_review_period": "SR2025",
                "profile": [
                    {"financial_year": "2026-27", "amount_pence": first_year},
                    {"financial_year": "2027-28", "amount_pence": second_year},
                ],
            },
            ready="settled" if number == len(SETTLEMENTS) else None,
        )
        for number, (department, stream, first_year, second_year) in enumerate(SETTLEMENTS, start=1)
    ]
    first = len(SETTLEMENTS) + 1
    return [
        *steps,
        Step(
            f"demo-{first}",
            f"{place}/allocations",
            {
                "allocation_id": "A-1",
                "allocation_type": "outcomes_contract",
                "recipient_id": "PROV-WORKWELL",
                "purpose": "Supported employment for people out of work with a health condition",
                "mission_id": "M-GOOD-JOBS",
                "start_date": "2026-05-01",
                "end_date": "2028-03-31",
                "value_pence": 1_500_000_00,
                "financial_year": FINANCIAL_YEAR,
            },
        ),
        # Decided without votes: the place has no board yet when the demo starts.
        Step(
            f"demo-{first + 1}",
            f"{place}/allocations/A-1/decision",
            {"decision": "approved", "reason": "meets the plan"},
        ),
        # £1.5m is over the accounting officer's sign-off threshold (GovS 015: £100k).
        Step(
            f"demo-{first + 2}",
            f"{place}/allocations/A-1/sign-off",
            {"decision": "signed_off"},
            ready="reserved",
        ),
        # A grant beside the contract, so the 360Giving files have one: under £100k, it needs
        # no sign-off.
        Step("demo-grant-A-4", f"{place}/allocations", GRANT),
        Step(
            "demo-grant-A-4-decision",
            f"{place}/allocations/A-4/decision",
            {"decision": "approved", "reason": "meets the plan"},
            ready="granted",
        ),
        # Its one instalment falls due on its start date: run the due work as of that day, so
        # the payment is made now whatever today's date (the daily run finds nothing more).
        Step(
            "demo-grant-A-4-due",
            f"{place}/due-work",
            {"as_of": GRANT["start_date"]},
            ready="grant paid",
        ),
    ]


def _delivery_steps() -> list[Step]:
    """The outcomes contract with targets and difficulty segments, its referrals and
    engagements (the funnel by segment), and the first evidence batch."""
    contract = f"/api/v1/places/{PLACE_ID}/outcomes-contracts"
    referrals = [
        {
            "participant_hash": participant_hash(f"participant-{number}"),
            "difficulty_segment": segment,
            "referred_on": f"2026-05-{number + 1:02d}",
        }
        for number, segment in REFERRALS
    ]
    engagements = [
        {
            "participant_hash": participant_hash(f"participant-{number}"),
            "engaged_on": f"2026-06-{number + 1:02d}",
        }
        for number in ENGAGED
    ]
    return [
        # Named apart from the first demo's "demo-7": these terms add targets and segments.
        Step("demo-contract-C-1", contract, CONTRACT_TERMS, ready="contract"),
        Step(
            "demo-referrals",
            f"{contract}/C-1/referrals",
            {"provider_id": "PROV-WORKWELL", "referrals": referrals},
        ),
        Step(
            "demo-engagements",
            f"{contract}/C-1/engagements",
            {"provider_id": "PROV-WORKWELL", "engagements": engagements},
        ),
        _evidence_step(f"demo-{len(SETTLEMENTS) + 5}", BATCH_ID, FIRST_BATCH, "2026-09-15"),
    ]


def _evidence_step(key: str, batch_id: str, claims: tuple[tuple[int, str], ...], day: str) -> Step:
    return Step(
        key,
        f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/evidence",
        {
            "batch_id": batch_id,
            "provider_id": "PROV-WORKWELL",
            "claims": [
                {
                    "participant_hash": participant_hash(f"participant-{number}"),
                    "metric_id": metric,
                    "achieved_on": day,
                    "evidence_reference": f"payroll-{number}-{metric}",
                }
                for number, metric in claims
            ],
        },
    )


def _board_steps() -> list[Step]:
    """The board (so the board pages have members, rules and a plan), then two proposals: A-2
    awaiting the members' votes and A-3 voted through, awaiting the accounting officer."""
    place = f"/api/v1/places/{PLACE_ID}"
    return [
        Step("demo-board", f"{place}/board", BOARD),
        Step("demo-decision-rules", f"{place}/decision-rules", DECISION_RULES),
        Step("demo-plan", f"{place}/plans", PLAN),
        Step(
            "demo-interest",
            f"{place}/interests",
            {
                "interest_id": "I-AHMED-1",
                "recipient_id": "FAMILY-HUBS-TRUST",
                "description": "Trustee of the Family Hubs Trust",
            },
            sender="cllr-ahmed",
        ),
        *[Step(f"demo-propose-{p['allocation_id']}", f"{place}/allocations", p) for p in PROPOSALS],
        *[
            Step(
                f"demo-vote-A-3-{member}",
                f"{place}/allocations/A-3/votes",
                {"vote": "for", "reason": reason},
                sender=member,
            )
            for member, reason in VOTES_ON_A3
        ],
        Step("demo-close-vote-A-3", f"{place}/allocations/A-3/votes/close", {}),
    ]


def _claim_steps() -> list[Step]:
    place = f"/api/v1/places/{PLACE_ID}"
    steps = [Step(f"demo-claim-{c['claim_id']}", f"{place}/claims", c) for c in CLAIMS]
    response = {
        "outcome": "accepted_in_part",
        "reasons": "The trust may run the Saturday sessions; weekday cover stays with the council",
        "responded_on": "2026-08-20",
    }
    return [*steps, Step("demo-claim-response-CL-3", f"{place}/claims/CL-3/response", response)]


def demo_token(data_dir: Path | None = None) -> str:
    """Make the demo user (if missing) and a new 30-day token for it; keep it in the data dir.
    (Its web users are `demo_logins`.)"""
    settings = RuntimeSettings()

    async def issue() -> str:
        connection = await connect(settings.effective_database_url())
        try:
            await connection.execute("SET search_path TO gateway")
            grants = [parse_grant(text) for text in DEMO_GRANTS]
            await users.add_principal(connection, DEMO_USER, grants, display_name="Demo user")
            issued = await users.issue_token(
                connection, DEMO_USER, lifetime=timedelta(days=30), description="singlepot up"
            )
        finally:
            await connection.close()
        return issued.token

    token = asyncio.run(issue())
    path = (data_dir or settings.data_dir) / "demo-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


def demo_logins(data_dir: Path) -> Path:
    """Make the demo web users, each with a new random password, and write them, one
    `user id  password  roles` line each, to `<data dir>/demo-logins.txt` (mode 600). A user
    the file already lists keeps its password: hashing nine with Argon2id took seconds of every
    warm start, and a password someone set since stays theirs."""
    settings = RuntimeSettings()
    path = data_dir / "demo-logins.txt"
    kept = _listed_passwords(path)
    logins = [
        (user, kept.get(user) or generate_password(), grants) for user, _, grants in DEMO_WEB_USERS
    ]

    async def make() -> None:
        connection = await connect(settings.effective_database_url())
        try:
            await connection.execute("SET search_path TO gateway")
            for (user, name, grants), (_, password, _) in zip(DEMO_WEB_USERS, logins, strict=True):
                parsed = [parse_grant(text) for text in grants]
                await users.add_principal(connection, user, parsed, display_name=name)
                if user not in kept or not await users.has_password(connection, user):
                    await users.set_password(connection, user, password)
        finally:
            await connection.close()

    asyncio.run(make())
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{user}  {password}  {', '.join(grants)}" for user, password, grants in logins]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _listed_passwords(path: Path) -> dict[str, str]:
    """user id → password, from an earlier run's demo-logins.txt (empty if there is none)."""
    if not path.exists():
        return {}
    listed = (line.split("  ") for line in path.read_text(encoding="utf-8").splitlines())
    return {fields[0]: fields[1] for fields in listed if len(fields) == 3}


def board_actor_tokens(database_url: str | None = None) -> dict[str, str]:
    """Short-lived tokens for the board members who vote and declare interests in the demo, in
    their own names (the gateway fills member_id from the caller, so nobody votes for another).
    They are made in the gateway's database at `database_url` (the configured one if None)."""
    database_url = database_url or RuntimeSettings().effective_database_url()

    async def issue() -> dict[str, str]:
        connection = await connect(database_url)
        try:
            await connection.execute("SET search_path TO gateway")
            tokens = {}
            for member, name, grants in BOARD_ACTORS:
                parsed = [parse_grant(text) for text in grants]
                await users.add_principal(connection, member, parsed, display_name=name)
                issued = await users.issue_token(
                    connection,
                    member,
                    lifetime=BOARD_ACTOR_TOKEN_LIFETIME,
                    description="singlepot up: the demo's votes",
                )
                tokens[member] = issued.token
            return tokens
        finally:
            await connection.close()

    return asyncio.run(issue())


def load_demo(
    gateway_url: str,
    *,
    wait_s: float = 60.0,
    on_step: Callable[[str], None] = lambda _: None,
    token: str | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Send the demo commands, each once what it needs has taken effect; return the pot (with
    the demo user's token under "demo_token"). The board members' tokens are made in the
    gateway's database at `database_url` (the configured one if None)."""
    made_here = token is None
    # The web users' passwords are hashed (Argon2id, about 0.1 s of CPU each on a new data
    # folder) while the steps go, which mostly wait for their effects; they are needed only
    # for what is printed at the end.
    logins = InBackground(lambda: demo_logins(RuntimeSettings().data_dir)) if made_here else None
    token = token or demo_token()
    tokens = {DEMO_USER: token, **board_actor_tokens(database_url)}
    headers = {"Authorization": f"Bearer {token}"}
    steps = demo_steps()
    accepted = accepted_before(steps, database_url)
    # The last step still to send: the effects of those accepted before it are awaited first.
    last_to_send = max(
        (i for i, step in enumerate(steps) if (step.sender, step.key) not in accepted), default=-1
    )
    with httpx.Client(base_url=gateway_url, timeout=10.0, headers=headers) as client:
        _register_organisations(client)
        _load_unit_costs(client)
        for index, step in enumerate(steps):
            if (step.sender, step.key) in accepted:
                # Accepted at an earlier start: its event is in the gateway's outbox already.
                if step.ready and index < last_to_send:
                    what, condition = _READY[step.ready]
                    _until(functools.partial(condition, client), wait_s, what)
                continue
            response = client.post(
                step.path,
                json=step.body,
                headers={
                    "Idempotency-Key": step.key,
                    "Authorization": f"Bearer {tokens[step.sender]}",
                },
            )
            if response.status_code >= 400:
                raise LocalStackError(
                    f"The gateway refused demo step {step.path} with {response.status_code}: "
                    f"{response.text[:300]}"
                )
            on_step(step.path)
            # The saga is asynchronous: what the next step needs must have taken effect.
            if step.ready:
                what, condition = _READY[step.ready]
                _until(functools.partial(condition, client), wait_s, what)
        if VERIFICATION_KEY in accepted_keys(database_url, DEMO_USER, [VERIFICATION_KEY]):
            _until(lambda: bool(_outcome_spend(client)), wait_s, "the outcome payment")
        else:
            _verify_sample(client, wait_s)
        for what, condition in _READY.values():
            _until(functools.partial(condition, client), wait_s, what)
        pot = dict(client.get(f"/api/v1/places/{PLACE_ID}/pot").json())
    if logins is not None:
        logins.result()
        print(
            f"Demo user '{DEMO_USER}' ({', '.join(DEMO_GRANTS)}); its token, valid 30 days, is "
            f"also in {RuntimeSettings().data_dir / 'demo-token'}:\n"
            f"  export SINGLEPOT_TOKEN={token}\n"
            f"Web pages at {gateway_url}/ — demo sign-ins (user id, password, roles), also in "
            f"{RuntimeSettings().data_dir / 'demo-logins.txt'}:\n"
            + (RuntimeSettings().data_dir / "demo-logins.txt").read_text(encoding="utf-8")
        )
    return {**pot, "demo_token": token}


def accepted_before(steps: list[Step], database_url: str | None = None) -> set[tuple[str, str]]:
    """The steps, as (sender, key), whose very request (same Idempotency-Key, path and body,
    from the same sender) the gateway already accepted at an earlier `up` on this database:
    sending them again would only replay the answer, and wait for its effect, on every warm
    start. A step not accepted yet (a load cut short, a step added since) is sent as before."""
    accepted = set()
    for sender in {step.sender for step in steps}:
        own = [step for step in steps if step.sender == sender]
        hashes = accepted_keys(database_url, sender, [step.key for step in own])
        accepted |= {(sender, s.key) for s in own if hashes.get(s.key) == _request_hash(s)}
    return accepted


def _request_hash(step: Step) -> str:
    """The hash the gateway keeps of a request (services/gateway/command_log/idempotency.py)."""
    return request_fingerprint(f"POST {step.path}", step.body)


def accepted_keys(database_url: str | None, principal_id: str, keys: list[str]) -> dict[str, str]:
    """Key → request hash of the requests `principal_id` had accepted with these keys."""
    database_url = database_url or RuntimeSettings().effective_database_url()

    async def look() -> dict[str, str]:
        connection = await connect(database_url)
        try:
            await connection.execute("SET search_path TO gateway")
            return await command_log_db.accepted_keys(connection, principal_id, keys)
        finally:
            await connection.close()

    return asyncio.run(look())


def _register_organisations(client: httpx.Client) -> None:
    """The organisations register, as finance staff fill it in (PUT: a second run changes
    nothing). Those already registered as the demo has them are left: one read instead of a
    request each on every warm start."""
    listed = client.get(f"/api/v1/places/{PLACE_ID}/organisations")
    registered = {
        entry["organisation_ref"]: entry
        for entry in (listed.json()["organisations"] if listed.status_code == 200 else [])
    }
    for reference, body in ORGANISATIONS.items():
        entry = registered.get(reference, {})
        if all(entry.get(field) == value for field, value in body.items()):
            continue
        response = client.put(f"/api/v1/places/{PLACE_ID}/organisations/{reference}", json=body)
        if response.status_code >= 400:
            raise LocalStackError(
                f"The gateway refused to register {reference} with {response.status_code}: "
                f"{response.text[:300]}"
            )


# The demo's unit-cost table for the reform dividend. The figures are ILLUSTRATIVE: laid out as
# the GMCA (New Economy) unit cost database lays out its entries (fiscal saving per outcome by
# the agency that benefits, and public value), not values taken from it.
DEMO_UNIT_COST_SOURCE = (
    "Illustrative figures in the structure of the GMCA unit cost database (not sourced values)"
)
DEMO_UNIT_COSTS = "\n".join(
    [
        "metric_id,beneficiary_agency,fiscal_saving_pence,public_value_pence,source,source_year",
        *(
            f"{metric},{agency},{saving},{value},{DEMO_UNIT_COST_SOURCE},2024"
            for metric, agency, saving, value in (
                ("JOB-START", "DWP", 250_000, 400_000),
                ("JOB-START", "HMRC", 60_000, 60_000),
                ("SUSTAINED-26-WEEKS", "DWP", 780_000, 1_200_000),
                ("SUSTAINED-26-WEEKS", "HMRC", 190_000, 190_000),
                ("SUSTAINED-26-WEEKS", "NHS", 40_000, 40_000),
            )
        ),
    ]
)


def _load_unit_costs(client: httpx.Client) -> None:
    """The place's unit-cost table, as the board's managers load it: a new version when the
    place's latest table is not the demo's (not at every warm start)."""
    latest = client.get(f"/api/v1/places/{PLACE_ID}/insights/unit-costs")
    wanted = json.loads(json.dumps([vars(unit) for unit in unit_costs.table_of(DEMO_UNIT_COSTS)]))
    if latest.status_code == 200 and latest.json()["unit_costs"] == wanted:
        return
    response = client.post(
        f"/api/v1/places/{PLACE_ID}/insights/unit-costs",
        content=DEMO_UNIT_COSTS.encode("utf-8"),
        headers={"Content-Type": "text/csv"},
    )
    if response.status_code >= 400:
        raise LocalStackError(
            f"The gateway refused the demo's unit costs with {response.status_code}: "
            f"{response.text[:300]}"
        )


def _verify_sample(client: httpx.Client, wait_s: float) -> None:
    """As the verifier: pass every claim drawn from the first batch, so it is paid. The second
    batch is left in the verifier's queue."""
    _until(lambda: bool(_outcome_spend(client) or _sample(client)), wait_s, "the evidence")
    sample = _sample(client)
    if sample:
        decisions = [
            {"participant_hash": c["participant_hash"], "metric_id": c["metric_id"], "passed": True}
            for c in sample
        ]
        response = client.post(
            f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/verification-decisions",
            json={"batch_id": BATCH_ID, "decisions": decisions},
            headers={"Idempotency-Key": VERIFICATION_KEY},
        )
        if response.status_code >= 400:
            raise LocalStackError(
                f"The gateway refused the demo's verification with {response.status_code}: "
                f"{response.text[:300]}"
            )
    _until(lambda: bool(_outcome_spend(client)), wait_s, "the outcome payment")


def _board_ready(client: httpx.Client) -> bool:
    """A-2 awaits votes and A-3 the accounting officer's sign-off."""
    response = client.get(f"/api/v1/places/{PLACE_ID}/board/proposals")
    status = {row["allocation_id"]: row["status"] for row in response.json()["proposals"]}
    return status.get("A-2") == "proposed" and status.get("A-3") == "awaiting_sign_off"


def _claims_ready(client: httpx.Client) -> bool:
    claims = client.get(f"/api/v1/places/{PLACE_ID}/claims").json()["claims"]
    return len(claims) == len(CLAIMS) and any(c["status"] == "responded" for c in claims)


def _queue_ready(client: httpx.Client) -> bool:
    batches = client.get(f"/api/v1/places/{PLACE_ID}/verification-queue").json()["batches"]
    if any(batch["batch_id"] == SECOND_BATCH_ID for batch in batches):
        return True
    # Where no sample is drawn (SINGLEPOT_OUTCOMES_VERIFICATION_SAMPLE_SHARE=0, as the
    # end-to-end benchmark runs) the batch goes straight on without waiting in the queue.
    response = client.get(f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/evidence")
    return any(
        batch["batch_id"] == SECOND_BATCH_ID and batch["status"] != "submitted"
        for batch in response.json()["batches"]
    )


def _sample(client: httpx.Client) -> list[Any]:
    response = client.get(f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/evidence")
    batches = [batch for batch in response.json()["batches"] if batch["batch_id"] == BATCH_ID]
    return list(batches[0]["sample"]) if batches else []


def _pot(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/places/{PLACE_ID}/pot").json())


def _settled(client: httpx.Client) -> bool:
    expected = sum(first + second for _, _, first, second in SETTLEMENTS)
    return bool(_pot(client)["totals"]["settled_pence"] >= expected)


def _contracts(client: httpx.Client) -> list[Any]:
    response = client.get(f"/api/v1/places/{PLACE_ID}/outcomes-contracts")
    return list(response.json()["contracts"])


def _spend(client: httpx.Client) -> list[Any]:
    return list(client.get(f"/api/v1/places/{PLACE_ID}/spend").json()["spend"])


def _outcome_spend(client: httpx.Client) -> list[Any]:
    """The outcomes contract's payments (the grant's instalment is spend too, and may come
    first)."""
    return [spend for spend in _spend(client) if spend.get("contract_id") == "C-1"]


# What must have taken effect, by the name a step's `ready` gives: (what, condition).
_READY: dict[str, tuple[str, Callable[[httpx.Client], bool]]] = {
    "settled": ("the settlements", _settled),
    "reserved": ("the reservation", lambda client: _pot(client)["totals"]["reserved_pence"] > 0),
    "granted": (
        "the grant's reservation",
        lambda client: _pot(client)["totals"]["reserved_pence"] >= 1_500_000_00 + 80_000_00,
    ),
    "grant paid": (
        "the grant's instalment",
        lambda client: _pot(client)["totals"]["paid_pence"] >= GRANT["value_pence"],
    ),
    "contract": ("the outcomes contract", lambda client: bool(_contracts(client))),
    "board": ("the board's proposals", _board_ready),
    "claims": ("the claims", _claims_ready),
    "queue": ("the second evidence batch's sample", _queue_ready),
}


# How often the demo asks whether a step has taken effect: on a new data folder it waits so
# for about fifteen effects in a row, each on the way to "singlepot is up", and a question is
# one small read of the gateway's.
EFFECT_POLL_INTERVAL_S = 0.05


def _until(condition: Callable[[], bool], wait_s: float, what: str) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"The demo waited {wait_s:.0f} s for {what} to take effect; see the services' "
                "logs in .data/logs/."
            )
        time.sleep(EFFECT_POLL_INTERVAL_S)


# --- A second place, so places can be compared (issue 17) ------------------------------------

SECOND_PLACE_ID = "WM"
SECOND_PLACE_SETTLEMENT = (6_000_000_00, 6_200_000_00)  # DWP WORK-AND-HEALTH, 2026-27, 2027-28
SECOND_PLACE_CONTRACT = {
    "contract_id": "C-WM-1",
    "allocation_id": "A-WM-1",
    "provider_id": "PROV-WM-ACTIVE",
    "prices": [{"metric_id": "JOB-START", "price_pence": 1_500_00}],
    "metrics": [
        {
            "metric_id": "JOB-START",
            "definition": "Started paid work of 16 hours a week or more",
            "target_count": 200,
        }
    ],
    "cap_pence": 600_000_00,
    "start_date": "2026-06-01",
    # It runs a year past the settlement: the liability forecast flags 2028-29.
    "end_date": "2029-03-31",
    "claim_periods": [
        {"claim_period_id": "WM-CP-1", "starts_on": "2026-06-01", "ends_on": "2027-03-31",
         "planned_payment_pence": 150_000_00},
        {"claim_period_id": "WM-CP-2", "starts_on": "2027-04-01", "ends_on": "2028-03-31",
         "planned_payment_pence": 225_000_00},
        {"claim_period_id": "WM-CP-3", "starts_on": "2028-04-01", "ends_on": "2029-03-31",
         "planned_payment_pence": 225_000_00},
    ],
}  # fmt: skip
SECOND_PLACE_GRANT = {
    "allocation_id": "A-WM-2",
    "allocation_type": "grant",
    "recipient_id": "WM-COMMUNITY-FOUNDATION",
    "purpose": "Community hubs' early help in Wolverhampton",
    "mission_id": "M-WM-EARLY-HELP",
    "start_date": "2026-07-01",
    "end_date": "2027-03-31",
    "value_pence": 50_000_00,
    "financial_year": FINANCIAL_YEAR,
    "purpose_tags": ["early-intervention"],
}


def _second_place_steps() -> list[Step]:
    """West Midlands: one settlement, an outcomes contract that outlives it, and a paid grant;
    decided without a board, as the first place's first allocation was."""
    place = f"/api/v1/places/{SECOND_PLACE_ID}"
    first_year, second_year = SECOND_PLACE_SETTLEMENT
    settlement = {
        "settlement_id": "SR25-DWP-WORK-AND-HEALTH",
        "department_code": "DWP",
        "funding_stream_code": "WORK-AND-HEALTH",
        "spending_review_period": "SR2025",
        "profile": [
            {"financial_year": "2026-27", "amount_pence": first_year},
            {"financial_year": "2027-28", "amount_pence": second_year},
        ],
    }
    contract_allocation = {
        "allocation_id": "A-WM-1",
        "allocation_type": "outcomes_contract",
        "recipient_id": "PROV-WM-ACTIVE",
        "purpose": "Supported employment in the Black Country",
        "mission_id": "M-WM-JOBS",
        "start_date": "2026-06-01",
        "end_date": "2029-03-31",
        "value_pence": 600_000_00,
        "financial_year": FINANCIAL_YEAR,
        "purpose_tags": ["employment"],
    }
    approve = {"decision": "approved", "reason": "meets the plan"}
    return [
        Step("demo-wm-settlement", f"{place}/settlements", settlement, ready="wm settled"),
        Step("demo-wm-A-1", f"{place}/allocations", contract_allocation),
        Step("demo-wm-A-1-decision", f"{place}/allocations/A-WM-1/decision", approve),
        Step(
            "demo-wm-A-1-sign-off",
            f"{place}/allocations/A-WM-1/sign-off",
            {"decision": "signed_off"},
            ready="wm reserved",
        ),
        Step(
            "demo-wm-contract",
            f"{place}/outcomes-contracts",
            SECOND_PLACE_CONTRACT,
            ready="wm contract",
        ),
        Step("demo-wm-grant", f"{place}/allocations", SECOND_PLACE_GRANT),
        Step(
            "demo-wm-grant-decision",
            f"{place}/allocations/A-WM-2/decision",
            approve,
            ready="wm granted",
        ),
        Step(
            "demo-wm-grant-due",
            f"{place}/due-work",
            {"as_of": SECOND_PLACE_GRANT["start_date"]},
            ready="wm grant paid",
        ),
    ]


def _second_pot(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/places/{SECOND_PLACE_ID}/pot").json())


def _second_contracts(client: httpx.Client) -> list[Any]:
    response = client.get(f"/api/v1/places/{SECOND_PLACE_ID}/outcomes-contracts")
    return list(response.json()["contracts"])


_READY.update(
    {
        "wm settled": (
            "the second place's settlement",
            lambda client: (
                _second_pot(client)["totals"]["settled_pence"] >= sum(SECOND_PLACE_SETTLEMENT)
            ),
        ),
        "wm reserved": (
            "the second place's contract reservation",
            lambda client: _second_pot(client)["totals"]["reserved_pence"] >= 600_000_00,
        ),
        "wm contract": (
            "the second place's outcomes contract",
            lambda client: bool(_second_contracts(client)),
        ),
        "wm granted": (
            "the second place's grant reservation",
            lambda client: (
                _second_pot(client)["totals"]["reserved_pence"] >= 600_000_00 + 50_000_00
            ),
        ),
        "wm grant paid": (
            "the second place's grant instalment",
            lambda client: _second_pot(client)["totals"]["paid_pence"] >= 50_000_00,
        ),
    }
)
