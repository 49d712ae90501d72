"""The outcomes service's one refusal event in the gateway's read models: an evidence batch
refused at intake is listed as a rejected batch with the refusal's reason, as it was when the
refusal was an `EvidenceRejected` (the command's status reads every refusal: see
test_gateway_command_status)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.decisions import CommandRefused
from contracts.outcomes import SubmitEvidence
from tests.integration.gateway.gateway_support import bearer, client_for, token_for
from tests.support.kafka import eventually, publish

pytestmark = [pytest.mark.integration]


async def test_an_evidence_batch_refused_at_intake_is_shown_rejected_with_its_reason(
    settings, database_url
) -> None:
    finance = await token_for(database_url, "fin", "finance@GM")
    refusal = CommandRefused(
        place_id="GM",
        decided_by="outcomes",
        contract_id="C-1",
        command_type=SubmitEvidence.event_type,
        subject_id="B-1",
        rule="evidence_batch_valid",
        reason="contract C-1 is held by P-1, not P-X",
    )
    async with client_for(settings) as client:
        await publish(settings, refusal, producer_name="outcomes")

        async def batches() -> list[dict[str, Any]]:
            response = await client.get(
                "/api/v1/places/GM/outcomes-contracts/C-1/evidence", headers=bearer(finance)
            )
            found: list[dict[str, Any]] = response.json().get("batches", [])
            return found

        [batch] = await eventually(batches)

    assert (batch["batch_id"], batch["status"]) == ("B-1", "rejected")
    assert batch["reasons"] == ["contract C-1 is held by P-1, not P-X"]
