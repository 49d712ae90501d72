"""VAT and merchant category recorded on a payment by finance staff and carried to the
Transparency Code return's columns, figures written by hand (the quarter of
test_gateway_transparency_return.py): P-1 paid £1,200.00 with £200.00 irrecoverable VAT, a
quarter of it (£300.00) recovered, so the credit note carries -£50.00 of VAT."""

from __future__ import annotations

import csv
import io

import pytest

from tests.integration.gateway.gateway_support import (
    bearer,
    client_for,
    gateway_settings,
    token_for,
)
from tests.integration.gateway.test_gateway_transparency_return import RETURN, write_read_models

pytestmark = pytest.mark.integration

TAX = "/api/v1/places/GM/payments/{payment_id}/tax-details"


async def test_recorded_vat_and_category_reach_the_transparency_columns(
    settings, database_url
) -> None:
    await write_read_models(database_url)
    finance = bearer(await token_for(database_url, "fin-gm", "finance@GM"))
    auditor = bearer(await token_for(database_url, "audit-gm", "auditor@GM"))
    async with client_for(settings, gateway_settings()) as client:
        recorded = await client.post(
            TAX.format(payment_id="P-1"),
            json={"irrecoverable_vat_pence": 200_00, "merchant_category": "Employment support"},
            headers={**finance, "Idempotency-Key": "t-1"},
        )
        too_much = await client.post(
            TAX.format(payment_id="P-3"),
            json={"irrecoverable_vat_pence": 900_00},
            headers={**finance, "Idempotency-Key": "t-2"},
        )
        unknown = await client.post(
            TAX.format(payment_id="P-404"),
            json={"irrecoverable_vat_pence": 0},
            headers={**finance, "Idempotency-Key": "t-3"},
        )
        by_auditor = await client.post(
            TAX.format(payment_id="P-3"),
            json={"irrecoverable_vat_pence": 0},
            headers={**auditor, "Idempotency-Key": "t-4"},
        )
        zero = await client.post(
            TAX.format(payment_id="P-3"),
            json={"irrecoverable_vat_pence": 0},
            headers={**finance, "Idempotency-Key": "t-5"},
        )
        status = await client.get(recorded.headers["location"], headers=finance)
        csv_answer = await client.get(RETURN, headers=finance)

    assert recorded.status_code == 201, recorded.text
    assert status.json()["status"] == "done"
    assert status.json()["made"] == {"payment_id": "P-1"}
    assert too_much.status_code == 409
    assert too_much.json()["errors"][0]["rule"] == "vat_within_payment"
    assert unknown.status_code == 404
    assert by_auditor.status_code == 403
    assert zero.status_code == 201
    rows = {
        (row["Transaction number"], row["Amount"]): row
        for row in csv.DictReader(io.StringIO(csv_answer.text))
    }
    payment, credit_note = rows[("P-1", "1200.00")], rows[("P-1", "-300.00")]
    assert payment["Irrecoverable VAT"] == "200.00"
    assert payment["Merchant category"] == "Employment support"
    assert credit_note["Irrecoverable VAT"] == "-50.00"  # £300 of £1,200 is a quarter
    assert rows[("P-3", "800.00")]["Irrecoverable VAT"] == "0.00"
