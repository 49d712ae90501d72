"""A place of the end-to-end benchmark's own, set up through the gateway's API as finance staff
would: money settled by DWP, an outcomes-contract allocation decided and funded, and an outcomes
contract whose caps pay every claim the run will send (the demo's C-1 pays about 1,250).

The place has no board, so its allocation is decided without votes (as the demo's first one
is); its value stays under the accounting officer's sign-off threshold, so no sign-off is needed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

PLACE_ID = "E2E"
PROVIDER_ID = "PROV-E2E"
CONTRACT_ID = "C-E2E"
ALLOCATION_ID = "A-E2E"
METRIC_ID = "JOB-START"
PRICE_PENCE = 100  # £1 an outcome: small, so even a long run's cap stays under sign-off
FINANCIAL_YEAR = "2026-27"
# The day every claim says its outcome was achieved: inside the contract's dates and the
# settlement's financial year.
ACHIEVED_ON = "2026-09-20"
# A decision above this value waits for the accounting officer (GovS 015's £100k).
SIGN_OFF_THRESHOLD_PENCE = 100_000_00
# The grants the benchmark's token needs for this place, beside the demo's.
GRANTS = (
    f"finance@{PLACE_ID}",
    f"accounting_officer@{PLACE_ID}",
    f"provider@{PLACE_ID}:{PROVIDER_ID}",
)


def outcomes_needed(rate_per_s: int, seconds: float) -> int:
    """Every claim a run offers, a quarter more and a hundred spare, so no claim meets a cap."""
    return int(rate_per_s * seconds * 1.25) + 100


def evidence_path() -> str:
    return f"/api/v1/places/{PLACE_ID}/outcomes-contracts/{CONTRACT_ID}/evidence"


def evidence_batch(batch_id: str, participant_hash: str, reference: str) -> dict[str, Any]:
    """A one-claim evidence batch; each participant is distinct (an outcome is paid once)."""
    return {
        "batch_id": batch_id,
        "provider_id": PROVIDER_ID,
        "claims": [
            {
                "participant_hash": participant_hash,
                "metric_id": METRIC_ID,
                "achieved_on": ACHIEVED_ON,
                "evidence_reference": reference,
            }
        ],
    }


async def set_up(client: httpx.AsyncClient, outcomes: int, wait_s: float = 120.0) -> None:
    """Settle, allocate, decide and contract for `outcomes` outcomes, each step once what it
    needs has taken effect (the saga between the services is asynchronous)."""
    cap_pence = outcomes * PRICE_PENCE
    place = f"/api/v1/places/{PLACE_ID}"
    await _post(client, f"{place}/settlements", _settlement(cap_pence), "e2e-settlement")
    await _until(client, lambda pot: pot["totals"]["settled_pence"] >= cap_pence, wait_s, "settled")
    await _post(client, f"{place}/allocations", _allocation(cap_pence), "e2e-allocation")
    await _post(
        client,
        f"{place}/allocations/{ALLOCATION_ID}/decision",
        {"decision": "approved", "reason": "the end-to-end benchmark's contract"},
        "e2e-decision",
    )
    if cap_pence > SIGN_OFF_THRESHOLD_PENCE:
        await _post(
            client,
            f"{place}/allocations/{ALLOCATION_ID}/sign-off",
            {"decision": "signed_off"},
            "e2e-sign-off",
        )
    await _until(client, lambda pot: pot["totals"]["reserved_pence"] >= cap_pence, wait_s, "funded")
    await _post(client, f"{place}/outcomes-contracts", _contract(cap_pence), "e2e-contract")
    deadline = time.monotonic() + wait_s
    while not (await client.get(f"{place}/outcomes-contracts")).json()["contracts"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the benchmark's contract was not made within {wait_s:.0f} s")
        await asyncio.sleep(0.2)


def _settlement(amount_pence: int) -> dict[str, Any]:
    return {
        "settlement_id": "SR25-DWP-E2E",
        "department_code": "DWP",
        "funding_stream_code": "WORK",
        "spending_review_period": "SR2025",
        "profile": [{"financial_year": FINANCIAL_YEAR, "amount_pence": amount_pence}],
    }


def _allocation(value_pence: int) -> dict[str, Any]:
    return {
        "allocation_id": ALLOCATION_ID,
        "allocation_type": "outcomes_contract",
        "recipient_id": PROVIDER_ID,
        "purpose": "The end-to-end benchmark's outcomes contract",
        "mission_id": "M-E2E",
        "start_date": "2026-05-01",
        "end_date": "2027-03-31",
        "value_pence": value_pence,
        "financial_year": FINANCIAL_YEAR,
    }


def _contract(cap_pence: int) -> dict[str, Any]:
    return {
        "contract_id": CONTRACT_ID,
        "allocation_id": ALLOCATION_ID,
        "provider_id": PROVIDER_ID,
        "prices": [{"metric_id": METRIC_ID, "price_pence": PRICE_PENCE}],
        "metrics": [
            {
                "metric_id": METRIC_ID,
                "definition": "Started paid work of 16 hours a week or more",
                "target_count": cap_pence // PRICE_PENCE,
            }
        ],
        "cap_pence": cap_pence,
        "start_date": "2026-05-01",
        "end_date": "2027-03-31",
    }


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> None:
    response = await client.post(path, json=body, headers={"Idempotency-Key": key})
    if response.status_code >= 400:
        raise RuntimeError(f"{path} refused with {response.status_code}: {response.text[:300]}")


async def _until(
    client: httpx.AsyncClient, condition: Callable[[Any], bool], wait_s: float, what: str
) -> None:
    deadline = time.monotonic() + wait_s
    while not condition((await client.get(f"/api/v1/places/{PLACE_ID}/pot")).json()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the benchmark's place was not {what} within {wait_s:.0f} s")
        await asyncio.sleep(0.2)
