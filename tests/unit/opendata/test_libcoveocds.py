"""The Open Contracting Partnership's own tool, libcoveocds (the library behind the OCDS Data
Review Tool), on the OCDS exports: schema errors, additional fields, codelist values and its
additional checks. It reads the vendored OCDS 1.1.5 files (no network access)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.gateway.opendata import ocds
from tests.support.ocds_review import findings, review
from tests.unit.opendata.opendata_sample import MOMENT, sample

pytest.importorskip("libcoveocds")


def test_the_ocds_export_passes_libcoveocds_with_no_errors_or_additional_fields() -> None:
    result = review(ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json"))

    assert result["version_used"] == "1.1"
    assert findings(result) == {}


def test_libcoveocds_catches_a_milestone_value_ocds_1_1_5_does_not_have() -> None:
    document = ocds.release_package(sample(), MOMENT, "https://example.org/ocds.json")
    milestone = document["releases"][0]["contracts"][0]["milestones"][0]
    milestone["value"] = {"amount": 1.0, "currency": "GBP"}

    result = review(document)

    assert [field["path"] for field in result["additional_fields"]] == [
        "/releases/contracts/milestones"
    ]


def test_a_cancelled_outcomes_contract_passes_libcoveocds_too() -> None:
    data = sample()
    cancelled = replace(
        data,
        allocations=tuple(
            replace(a, status="cancelled") if a.allocation_id == "A-2" else a
            for a in data.allocations
        ),
    )
    result = review(ocds.release_package(cancelled, MOMENT, "https://example.org/ocds.json"))
    assert findings(result) == {}
