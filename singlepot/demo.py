"""Loads a small demo place through the gateway's API, as finance staff and a provider would.

It signs in as the demo user `demo` (made here, with a fresh token each time), whose roles cover
the whole walk: finance staff, chair, accounting officer and verifier of GM, auditor, the
provider PROV-WORKWELL and the department DWP. Every request carries a fixed Idempotency-Key,
so loading the demo twice changes nothing. The token is printed and kept in `<data dir>/demo-token`.

For the web pages it also makes one person per role with a fresh random password, written to
`<data dir>/demo-logins.txt` (the data dir is git-ignored) and printed by `singlepot up`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from services.gateway import users
from services.gateway.domain import parse_grant
from services.gateway.web.passwords import generate_password
from services.runtime.db import connect
from services.runtime.settings import RuntimeSettings
from singlepot.local.errors import LocalStackError

PLACE_ID = "GM"
FINANCIAL_YEAR = "2026-27"
DEMO_PSEUDONYM_KEY = b"demo-only-pseudonymisation-key"
BATCH_ID = "B-2026-09"
DEMO_USER = "demo"
DEMO_GRANTS = (
    "finance@GM",
    "chair@GM",
    "accounting_officer@GM",
    "verifier@GM",
    "auditor",
    "provider@GM:PROV-WORKWELL",
    "department:DWP",
)

# One web sign-in per role: (user id, display name, grants).
DEMO_WEB_USERS = (
    ("finance-demo", "Finance officer", ("finance@GM",)),
    ("chair-demo", "Board chair", ("chair@GM",)),
    ("board-demo", "Board member", ("board_member@GM",)),
    ("officer-demo", "Accounting officer", ("accounting_officer@GM",)),
    ("provider-demo", "WorkWell provider", ("provider@GM:PROV-WORKWELL",)),
    ("verifier-demo", "Verifier", ("verifier@GM",)),
    ("department-demo", "DWP analyst", ("department:DWP",)),
    ("auditor-demo", "Auditor", ("auditor",)),
)

SETTLEMENTS = (
    # department, funding stream, 2026-27 pence, 2027-28 pence
    ("DWP", "WORK-AND-HEALTH", 12_000_000_00, 12_500_000_00),
    ("DHSC", "PUBLIC-HEALTH", 8_000_000_00, 8_200_000_00),
    ("MHCLG", "HOMELESSNESS", 5_000_000_00, 5_000_000_00),
)


def participant_hash(reference: str) -> str:
    """A keyed hash of a provider's participant reference: names never leave the provider."""
    return hmac.new(DEMO_PSEUDONYM_KEY, reference.encode(), hashlib.sha256).hexdigest()


def demo_requests() -> list[tuple[str, dict[str, Any]]]:
    """(path, body) of every demo command, in the order they must happen."""
    requests: list[tuple[str, dict[str, Any]]] = []
    for department, stream, first_year, second_year in SETTLEMENTS:
        requests.append(
            (
                f"/api/v1/places/{PLACE_ID}/settlements",
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
            )
        )
    requests.append(
        (
            f"/api/v1/places/{PLACE_ID}/allocations",
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
        )
    )
    requests.append(
        (
            f"/api/v1/places/{PLACE_ID}/allocations/A-1/decision",
            {
                "decision": "approved",
                "reason": "meets the plan",
            },
        )
    )
    # £1.5m is over the accounting officer's sign-off threshold (GovS 015: £100k by default).
    requests.append(
        (f"/api/v1/places/{PLACE_ID}/allocations/A-1/sign-off", {"decision": "signed_off"})
    )
    requests.append(
        (
            f"/api/v1/places/{PLACE_ID}/outcomes-contracts",
            {
                "contract_id": "C-1",
                "allocation_id": "A-1",
                "provider_id": "PROV-WORKWELL",
                "prices": [
                    {"metric_id": "JOB-START", "price_pence": 1_200_00},
                    {"metric_id": "SUSTAINED-26-WEEKS", "price_pence": 3_500_00},
                ],
                "cap_pence": 1_500_000_00,
            },
        )
    )
    claims = [
        {
            "participant_hash": participant_hash(f"participant-{number}"),
            "metric_id": metric,
            "achieved_on": "2026-09-15",
            "evidence_reference": f"payroll-{number}-{metric}",
        }
        for number, metric in [(1, "JOB-START"), (2, "JOB-START"), (3, "SUSTAINED-26-WEEKS")]
    ]
    requests.append(
        (
            f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/evidence",
            {
                "batch_id": BATCH_ID,
                "provider_id": "PROV-WORKWELL",
                "claims": claims,
            },
        )
    )
    return requests


def demo_token(data_dir: Path | None = None) -> str:
    """Make the demo user (if missing) and a new 30-day token for it; keep it in the data dir."""
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
    demo_logins(data_dir or settings.data_dir)
    path = (data_dir or settings.data_dir) / "demo-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


def demo_logins(data_dir: Path) -> Path:
    """Make (or refresh) the demo web users with new random passwords; write them, one
    `user id  password  roles` line each, to `<data dir>/demo-logins.txt` (mode 600)."""
    settings = RuntimeSettings()
    logins = [(user, generate_password(), grants) for user, _, grants in DEMO_WEB_USERS]

    async def make() -> None:
        connection = await connect(settings.effective_database_url())
        try:
            await connection.execute("SET search_path TO gateway")
            for (user, name, grants), (_, password, _) in zip(DEMO_WEB_USERS, logins, strict=True):
                parsed = [parse_grant(text) for text in grants]
                await users.add_principal(connection, user, parsed, display_name=name)
                await users.set_password(connection, user, password)
        finally:
            await connection.close()

    asyncio.run(make())
    path = data_dir / "demo-logins.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{user}  {password}  {', '.join(grants)}" for user, password, grants in logins]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def load_demo(
    gateway_url: str,
    *,
    wait_s: float = 60.0,
    on_step: Callable[[str], None] = lambda _: None,
    token: str | None = None,
) -> dict[str, Any]:
    """Send the demo commands, each once the one before has taken effect; return the pot (with
    the demo user's token under "demo_token")."""
    made_here = token is None
    token = token or demo_token()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway_url, timeout=10.0, headers=headers) as client:
        for number, (path, body) in enumerate(demo_requests(), start=1):
            response = client.post(path, json=body, headers={"Idempotency-Key": f"demo-{number}"})
            if response.status_code >= 400:
                raise LocalStackError(
                    f"The gateway refused demo step {path} with {response.status_code}: "
                    f"{response.text[:300]}"
                )
            on_step(path)
            # The saga is asynchronous: give each step time to reach the ledger before the next.
            _wait_for_step(client, number, wait_s)
        _verify_sample(client, wait_s)
        pot = dict(client.get(f"/api/v1/places/{PLACE_ID}/pot").json())
    if made_here:
        print(
            f"Demo user '{DEMO_USER}' ({', '.join(DEMO_GRANTS)}); its token, valid 30 days, is "
            f"also in {RuntimeSettings().data_dir / 'demo-token'}:\n"
            f"  export SINGLEPOT_TOKEN={token}\n"
            f"Web pages at {gateway_url}/ — demo sign-ins (user id, password, roles), also in "
            f"{RuntimeSettings().data_dir / 'demo-logins.txt'}:\n"
            + (RuntimeSettings().data_dir / "demo-logins.txt").read_text(encoding="utf-8")
        )
    return {**pot, "demo_token": token}


def _wait_for_step(client: httpx.Client, number: int, wait_s: float) -> None:
    settlements = len(SETTLEMENTS)
    if number == settlements:
        expected = sum(first + second for _, _, first, second in SETTLEMENTS)
        _until(
            lambda: _pot(client)["totals"]["settled_pence"] >= expected, wait_s, "the settlements"
        )
    elif number == settlements + 3:
        _until(lambda: _pot(client)["totals"]["reserved_pence"] > 0, wait_s, "the reservation")
    elif number == settlements + 4:
        _until(lambda: bool(_contracts(client)), wait_s, "the outcomes contract")
    elif number == settlements + 5:
        _until(lambda: bool(_spend(client) or _sample(client)), wait_s, "the evidence")


def _verify_sample(client: httpx.Client, wait_s: float) -> None:
    """As the verifier: pass every claim drawn for verification, so the batch is paid."""
    sample = _sample(client)
    if sample:
        decisions = [
            {"participant_hash": c["participant_hash"], "metric_id": c["metric_id"], "passed": True}
            for c in sample
        ]
        response = client.post(
            f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/verification-decisions",
            json={"batch_id": BATCH_ID, "decisions": decisions},
            headers={"Idempotency-Key": "demo-verification"},
        )
        if response.status_code >= 400:
            raise LocalStackError(
                f"The gateway refused the demo's verification with {response.status_code}: "
                f"{response.text[:300]}"
            )
    _until(lambda: bool(_spend(client)), wait_s, "the outcome payment")


def _sample(client: httpx.Client) -> list[Any]:
    response = client.get(f"/api/v1/places/{PLACE_ID}/outcomes-contracts/C-1/evidence")
    batches = [batch for batch in response.json()["batches"] if batch["batch_id"] == BATCH_ID]
    return list(batches[0]["sample"]) if batches else []


def _pot(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/places/{PLACE_ID}/pot").json())


def _contracts(client: httpx.Client) -> list[Any]:
    response = client.get(f"/api/v1/places/{PLACE_ID}/outcomes-contracts")
    return list(response.json()["contracts"])


def _spend(client: httpx.Client) -> list[Any]:
    return list(client.get(f"/api/v1/places/{PLACE_ID}/spend").json()["spend"])


def _until(condition: Callable[[], bool], wait_s: float, what: str) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"The demo waited {wait_s:.0f} s for {what} to take effect; see the services' "
                "logs in .data/logs/."
            )
        time.sleep(0.1)
