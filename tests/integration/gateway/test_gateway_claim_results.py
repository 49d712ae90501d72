"""Per-claim results through the real outcomes service and gateway: an evidence file whose
claims are refused for every reason (a metric not priced, at upload; a duplicate in the file;
a claim already made under another provider's contract; the cap; the verifier's failure), each
claim's status and reason read back over the API, page by page and by status, and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from contracts import MetricPrice
from contracts.evidence_file import participant_hash
from contracts.outcomes import EvidenceClaim, RegisterOutcomesContract, SubmitEvidence
from services.outcomes.app import build_definition
from services.outcomes.settings import OutcomesSettings
from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.support.kafka import eventually, publish, running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTRACT = "/api/v1/places/GM/outcomes-contracts/C-A"
HEADER = (
    "participant_reference,metric_id,achieved_on,evidence_reference,referral_date,"
    "difficulty_segment\n"
)
ROWS = (
    "person-1,JOB-START,2026-09-15,payroll-1,2026-05-01,easy\n",  # accepted, sampled, verified
    "person-1,JOB-START,2026-09-15,payroll-1b,2026-05-01,easy\n",  # a duplicate in the file
    "person-9,JOB-START,2026-09-15,payroll-9,2026-05-01,easy\n",  # claimed under PROV-B's contract
    "person-2,JOB-START,2026-09-16,payroll-2,2026-05-01,easy\n",  # fails verification
    "person-3,JOB-START,2026-09-17,payroll-3,2026-05-01,easy\n",  # accepted: the cap's last £1.00
    "person-4,JOB-START,2026-09-18,payroll-4,2026-05-01,easy\n",  # over the cap
    "person-5,SUSTAINED,2026-09-18,payroll-5,2026-05-01,easy\n",  # not priced: refused at upload
)


def contract(contract_id: str, provider_id: str) -> RegisterOutcomesContract:
    return RegisterOutcomesContract(
        place_id="GM",
        contract_id=contract_id,
        allocation_id=f"A-{contract_id}",
        provider_id=provider_id,
        prices=(MetricPrice(metric_id="JOB-START", price_pence=100),),
        cap_pence=300,
    )


async def claims_of(client: httpx.AsyncClient, token: str, **params: Any) -> dict[str, Any]:
    response = await client.get(
        f"{CONTRACT}/evidence/{params.pop('batch_id')}/claims",
        params=params,
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_claims_status_and_reason_reads_back_over_the_api_and_as_csv(
    settings, database_url
) -> None:
    provider = await token_for(database_url, "prov-a", "provider@GM:PROV-A")
    other_provider = await token_for(database_url, "prov-b", "provider@GM:PROV-B")
    verifier = await token_for(database_url, "verifier", "verifier@GM")
    gateway = gateway_settings()
    key = gateway.gateway_pseudonym_key.get_secret_value().encode()
    person = {n: participant_hash(f"person-{n}", key) for n in (1, 2, 3, 4, 9)}
    earlier = SubmitEvidence(
        place_id="GM",
        contract_id="C-B",
        batch_id="B-EARLIER",
        provider_id="PROV-B",
        claims=(
            EvidenceClaim(
                participant_hash=person[9],
                metric_id="JOB-START",
                achieved_on="2026-08-01",
                evidence_reference="other-provider",
            ),
        ),
    )
    outcomes = build_definition(
        OutcomesSettings(verification_sample_share=1.0, event_claim_results_max=2)
    )
    async with running(outcomes, settings), client_for(settings, gateway) as client:
        await publish(settings, contract("C-A", "PROV-A"), contract("C-B", "PROV-B"))

        async def registered() -> bool:
            response = await client.get(CONTRACT + "/evidence", headers=bearer(provider))
            other = await client.get(
                "/api/v1/places/GM/outcomes-contracts/C-B/evidence", headers=bearer(other_provider)
            )
            return response.status_code == 200 and other.status_code == 200

        await eventually(registered)
        await publish(settings, earlier)
        await eventually(lambda: _claims_ready(client, other_provider, "C-B", "B-EARLIER", 1))
        upload = await client.post(
            f"{CONTRACT}/evidence-files",
            files={"file": ("september.csv", (HEADER + "".join(ROWS)).encode(), "text/csv")},
            headers=bearer(provider, "upload-1"),
        )
        assert upload.status_code == 202, upload.text
        batch_id = upload.json()["batch_id"]
        await eventually(lambda: _claims_ready(client, provider, "C-A", batch_id, 6))
        sampled = await eventually(lambda: _sampled(client, provider, batch_id, 3))
        decisions = [
            {"participant_hash": claim["participant_hash"], "metric_id": "JOB-START"}
            | (
                {"passed": False, "reason": "the payslip does not match the employer"}
                if claim["participant_hash"] == person[2]
                else {"passed": True}
            )
            for claim in sampled
        ]
        verified = await client.post(
            f"{CONTRACT}/verification-decisions",
            json={"batch_id": batch_id, "decisions": decisions},
            headers=bearer(verifier, "verify-1"),
        )
        assert verified.status_code == 202, verified.text
        await eventually(lambda: _with_status(client, provider, batch_id, "failed_verification"))
        await eventually(lambda: _with_status(client, provider, batch_id, "verified", 2))
        first_page = await claims_of(client, provider, batch_id=batch_id, limit=4)
        second_page = await claims_of(
            client, provider, batch_id=batch_id, limit=4, after=first_page["next_after"]
        )
        rejected = await claims_of(client, provider, batch_id=batch_id, status="rejected")
        summary = (
            await client.get(
                f"{CONTRACT}/evidence/{batch_id}/claims/summary", headers=bearer(provider)
            )
        ).json()
        exported = await client.get(
            f"{CONTRACT}/evidence/{batch_id}/claims.csv", headers=bearer(provider)
        )
        strangers = await client.get(
            f"{CONTRACT}/evidence/{batch_id}/claims", headers=bearer(other_provider)
        )

    # The metric C-A does not price is refused at upload, naming its row and field.
    assert upload.json()["rows_rejected"] == 1
    assert upload.json()["errors"] == [
        "row 7: metric_id: metric SUSTAINED is not priced in contract C-A (JOB-START)"
    ]
    claims = first_page["claims"] + second_page["claims"]
    assert second_page["next_after"] is None
    assert [claim["row_number"] for claim in claims] == [1, 2, 3, 4, 5, 6]
    by_row = {claim["row_number"]: claim for claim in claims}
    assert [by_row[row]["status"] for row in range(1, 7)] == [
        "verified",
        "rejected",
        "rejected",
        "failed_verification",
        "verified",
        "rejected",
    ]
    assert by_row[1]["participant_hash"] == person[1]
    assert by_row[1]["achieved_on"] == "2026-09-15"
    assert by_row[1]["amount_pence"] == 100
    assert by_row[2]["rule"] == "participant_metric_paid_once"
    assert f"batch {batch_id}" in by_row[2]["reason"] and "row 1" in by_row[2]["reason"]
    assert by_row[3]["rule"] == "participant_metric_paid_once"
    assert "contract C-B" in by_row[3]["reason"]
    assert by_row[4]["reason"] == "the payslip does not match the employer"
    assert by_row[6]["rule"] == "within_cap"
    assert "cap of £3.00" in by_row[6]["reason"]
    assert [claim["row_number"] for claim in rejected["claims"]] == [2, 3, 6]
    counts = {(row["status"], row["rule"]): row["claims"] for row in summary["by"]}
    assert counts == {
        ("verified", None): 2,
        ("rejected", "participant_metric_paid_once"): 2,
        ("rejected", "within_cap"): 1,
        ("failed_verification", "verified_by_sample"): 1,
    }
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(row["row_number"], row["status"], row["reason"]) for row in table] == [
        (str(claim["row_number"]), claim["status"], claim["reason"] or "") for claim in claims
    ]
    assert strangers.status_code == 403


async def _claims_ready(
    client: httpx.AsyncClient, token: str, contract_id: str, batch_id: str, count: int
) -> bool:
    response = await client.get(
        f"/api/v1/places/GM/outcomes-contracts/{contract_id}/evidence/{batch_id}/claims",
        headers=bearer(token),
    )
    return response.status_code == 200 and len(response.json()["claims"]) >= count


async def _sampled(
    client: httpx.AsyncClient, token: str, batch_id: str, count: int
) -> list[dict[str, Any]]:
    found = (await claims_of(client, token, batch_id=batch_id, status="sampled"))["claims"]
    return found if len(found) >= count else []


async def _with_status(
    client: httpx.AsyncClient, token: str, batch_id: str, status: str, count: int = 1
) -> bool:
    found = (await claims_of(client, token, batch_id=batch_id, status=status))["claims"]
    return len(found) >= count
