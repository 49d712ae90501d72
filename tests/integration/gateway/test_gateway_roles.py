"""The role matrix: each role can do exactly what it should on the real gateway and gets 403
everywhere else — including one place's staff against another place's pot, and one provider
against another provider's contract and evidence. Tokens that are missing, unknown, expired or
revoked get 401."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from contracts import MetricPrice, OutcomesContractRegistered
from services.gateway.identity import users
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    evidence_body,
    proposal_body,
    settlement_body,
    token_for,
)
from tests.support.kafka import eventually, publish

pytestmark = pytest.mark.integration

GM = "/api/v1/places/GM"
CONTRACT_A = f"{GM}/outcomes-contracts/C-A"
CONTRACT_B = f"{GM}/outcomes-contracts/C-B"

# Every operation the matrix tries: (method, path, body).
OPERATIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "settle": ("POST", f"{GM}/settlements", settlement_body()),
    "receipt": (
        "POST",
        f"{GM}/receipts",
        {
            "receipt_id": "R-1",
            "settlement_id": "S-1",
            "department_code": "DWP",
            "funding_stream_code": "WORK",
            "financial_year": "2026-27",
            "amount_pence": 500,
        },
    ),
    "close_period": ("POST", f"{GM}/periods/2026-27/close", {}),
    "virement": (
        "POST",
        f"{GM}/virements",
        {
            "virement_id": "V-1",
            "financial_year": "2026-27",
            "from_funding_stream_code": "WORK",
            "to_funding_stream_code": "HEALTH",
            "amount_pence": 100,
            "approval_reference": "BOARD-2026-04",
        },
    ),
    "propose": ("POST", f"{GM}/allocations", proposal_body()),
    "decide": ("POST", f"{GM}/allocations/A-1/decision", {"decision": "approved"}),
    "vote": ("POST", f"{GM}/allocations/A-1/votes", {"vote": "for"}),
    "sign_off": ("POST", f"{GM}/allocations/A-1/sign-off", {"decision": "signed_off"}),
    "verify": (
        "POST",
        f"{CONTRACT_A}/verification-decisions",
        {
            "batch_id": "B-1",
            "decisions": [{"participant_hash": "a" * 64, "metric_id": "JOB-START", "passed": True}],
        },
    ),
    "register_contract": (
        "POST",
        f"{GM}/outcomes-contracts",
        {
            "contract_id": "C-NEW",
            "allocation_id": "A-1",
            "provider_id": "PROV-A",
            "prices": [{"metric_id": "JOB-START", "price_pence": 100}],
            "cap_pence": 10_000,
        },
    ),
    "evidence_own": ("POST", f"{CONTRACT_A}/evidence", evidence_body("PROV-A")),
    "evidence_other": ("POST", f"{CONTRACT_B}/evidence", evidence_body("PROV-B")),
    "read_pot": ("GET", f"{GM}/pot", None),
    "read_other_place_pot": ("GET", "/api/v1/places/WM/pot", None),
    "read_statements": ("GET", f"{GM}/statements", None),
    "read_spend": ("GET", f"{GM}/spend", None),
    "read_payments": ("GET", f"{GM}/payments", None),
    "read_allocations": ("GET", f"{GM}/allocations", None),
    "read_contracts": ("GET", f"{GM}/outcomes-contracts", None),
    "read_evidence_own": ("GET", f"{CONTRACT_A}/evidence", None),
    "read_evidence_other": ("GET", f"{CONTRACT_B}/evidence", None),
    "department_spend_own": ("GET", "/api/v1/departments/DWP/spend", None),
    "department_spend_other": ("GET", "/api/v1/departments/DHSC/spend", None),
    "department_webhooks_own": ("GET", "/api/v1/departments/DWP/webhooks", None),
    "department_webhooks_other": ("GET", "/api/v1/departments/DHSC/webhooks", None),
}

PLACE_READS = {
    "read_pot",
    "read_statements",
    "read_spend",
    "read_payments",
    "read_allocations",
    "read_contracts",
}

# Who holds what (grant strings), and exactly what each may do; everything else is 403.
ROLES: dict[str, tuple[str, set[str]]] = {
    "finance": (
        "finance@GM",
        PLACE_READS
        | {
            "settle",
            "receipt",
            "close_period",
            "virement",
            "propose",
            "register_contract",
            "read_evidence_own",
            "read_evidence_other",
        },
    ),
    "other_place_finance": ("finance@WM", {"read_other_place_pot"}),
    "board_member": ("board_member@GM", PLACE_READS | {"propose", "vote"}),
    "chair": ("chair@GM", PLACE_READS | {"propose", "decide", "vote"}),
    "accounting_officer": ("accounting_officer@GM", PLACE_READS | {"decide", "sign_off"}),
    "provider": (
        "provider@GM:PROV-A",
        {"evidence_own", "read_contracts", "read_evidence_own"},
    ),
    "verifier": (
        "verifier@GM",
        {"verify", "read_contracts", "read_evidence_own", "read_evidence_other"},
    ),
    "department": ("department:DWP", {"department_spend_own", "department_webhooks_own"}),
    "auditor": (
        "auditor",
        PLACE_READS
        | {
            "read_other_place_pot",
            "read_evidence_own",
            "read_evidence_other",
            "department_spend_own",
            "department_spend_other",
        },
    ),
    "public": ("public@GM", {"read_pot", "read_allocations"}),
}


def contract(contract_id: str, provider_id: str) -> OutcomesContractRegistered:
    return OutcomesContractRegistered(
        place_id="GM",
        contract_id=contract_id,
        allocation_id="A-1",
        provider_id=provider_id,
        prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
        cap_pence=10_000,
    )


async def test_each_role_can_do_exactly_what_it_should_and_gets_403_elsewhere(
    settings, database_url
) -> None:
    tokens = {
        role: await token_for(database_url, f"user-{role}", grant)
        for role, (grant, _) in ROLES.items()
    }
    auditor = bearer(tokens["auditor"])
    async with client_for(settings) as client:
        await publish(settings, contract("C-A", "PROV-A"), contract("C-B", "PROV-B"))

        async def both_contracts_known() -> bool:
            response = await client.get(f"{GM}/outcomes-contracts", headers=auditor)
            return len(response.json()["contracts"]) == 2

        await eventually(both_contracts_known)
        mismatches = []
        for role, (_, allowed) in ROLES.items():
            for name, (method, path, body) in OPERATIONS.items():
                headers = bearer(tokens[role], f"{role}-{name}")
                response = await client.request(method, path, json=body, headers=headers)
                expected_ok = name in allowed
                if (response.status_code < 300) != expected_ok or (
                    not expected_ok and response.status_code != 403
                ):
                    mismatches.append((role, name, response.status_code, response.text[:200]))
    assert mismatches == []


async def test_a_provider_sees_only_its_own_contracts(settings, database_url) -> None:
    token = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    async with client_for(settings) as client:
        await publish(settings, contract("C-A", "PROV-A"), contract("C-B", "PROV-B"))

        async def both_listed() -> list[str] | None:
            response = await client.get(f"{GM}/outcomes-contracts", headers=auditor)
            found = [row["contract_id"] for row in response.json()["contracts"]]
            return found if len(found) == 2 else None

        listed = await eventually(both_listed)
        assert sorted(listed or []) == ["C-A", "C-B"]
        response = await client.get(f"{GM}/outcomes-contracts", headers=bearer(token))
    assert [row["contract_id"] for row in response.json()["contracts"]] == ["C-A"]


async def test_a_provider_cannot_submit_evidence_in_another_providers_name(
    settings, database_url
) -> None:
    token = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    auditor = bearer(await token_for(database_url, "audit", "auditor"))
    async with client_for(settings) as client:
        await publish(settings, contract("C-A", "PROV-A"))

        async def known() -> bool:
            response = await client.get(f"{GM}/outcomes-contracts", headers=auditor)
            return bool(response.json()["contracts"])

        await eventually(known)
        response = await client.post(
            f"{CONTRACT_A}/evidence", json=evidence_body("PROV-B"), headers=bearer(token, "k")
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "provider_id"


async def test_missing_unknown_expired_and_revoked_tokens_get_401(settings, database_url) -> None:
    good = await token_for(database_url, "fin", "finance@GM")
    expired = await token_for(database_url, "old", "finance@GM", days=-1)
    revoked = await token_for(database_url, "gone", "finance@GM")
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        assert await users.revoke(connection, "gone") == 1
    finally:
        await connection.close()
    async with client_for(settings) as client:
        answers = {
            name: await client.get(f"{GM}/pot", headers=headers)
            for name, headers in {
                "missing": {},
                "not bearer": {"Authorization": f"Basic {good}"},
                "unknown": bearer("sp_not-a-real-token"),
                "expired": bearer(expired),
                "revoked": bearer(revoked),
                "good": bearer(good),
            }.items()
        }
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "missing": 401,
        "not bearer": 401,
        "unknown": 401,
        "expired": 401,
        "revoked": 401,
        "good": 200,
    }
    assert "expired" in answers["expired"].json()["detail"]
    assert "revoked" in answers["revoked"].json()["detail"]
    assert answers["missing"].headers["content-type"] == "application/problem+json"


async def test_every_command_records_who_did_it(settings, database_url) -> None:
    chair = await token_for(database_url, "chair-jo", "chair@GM")
    async with client_for(settings) as client:
        impersonation = await client.post(
            f"{GM}/allocations/A-1/decision",
            json={"decision": "approved", "decided_by": "someone-else"},
            headers=bearer(chair, "d-0"),
        )
        accepted = await client.post(
            f"{GM}/allocations/A-1/decision",
            json={"decision": "approved"},
            headers=bearer(chair, "d-1"),
        )
    assert impersonation.status_code == 422
    assert impersonation.json()["errors"][0]["field"] == "decided_by"
    assert accepted.status_code == 202
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        logged = await connection.fetchrow(
            "SELECT principal_id, event_type FROM command_log WHERE idempotency_key = 'd-1'"
        )
        payload = await connection.fetchval(
            "SELECT convert_from(value, 'UTF8')::jsonb -> 'payload' ->> 'decided_by' FROM outbox"
        )
    finally:
        await connection.close()
    assert dict(logged) == {"principal_id": "chair-jo", "event_type": "DecideAllocation"}
    assert payload == "chair-jo"
