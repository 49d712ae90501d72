"""The OCDS Data Review Tool's library (libcoveocds) run offline on a release package: it reads
the vendored OCDS 1.1.5 schemas and codelists instead of downloading the standard."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from services.gateway.opendata import validation

STANDARD = "https://standard.open-contracting.org/schema/1__1__5/"


class _VendoredStandard:
    """Stands in for `requests` inside jsonref: libcoveocds dereferences a record package's
    `versionedRelease` by its URL, and this answers that URL with the vendored file (the same
    bytes, byte for byte: schemas/README.md), so the review needs no network access."""

    class _Answer:
        def __init__(self, document: Any) -> None:
            self.document = document

        def raise_for_status(self) -> None:
            return None

        def json(self, **_: Any) -> Any:
            return self.document

    def get(self, uri: str) -> _Answer:
        if not uri.startswith(STANDARD):
            raise LookupError(f"the review asked for {uri}, which is not vendored")
        name = uri.removeprefix(STANDARD)
        return self._Answer(json.loads((validation.SCHEMAS / name).read_text(encoding="utf-8")))


def review(document: dict[str, Any], record_package: bool = False) -> dict[str, Any]:
    """libcoveocds's whole report: validation errors, additional fields, codelist values and
    its additional checks (of a record package when `record_package`)."""
    from libcoveocds.api import ocds_json_output  # a test-only dependency
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig()
    config.config["context"] = "api"
    config.config["standard_zip"] = validation.ocds_standard_zip()
    import jsonref

    with mock.patch.object(jsonref, "requests", _VendoredStandard()):
        result: dict[str, Any] = ocds_json_output(
            json_data=document, lib_cove_ocds_config=config, record_pkg=record_package
        )
    return result


def findings(result: dict[str, Any]) -> dict[str, Any]:
    """What a publisher must fix before publishing: empty when the file is clean."""
    found = {
        "validation_errors": result["validation_errors"],
        "additional_fields": result["additional_fields"],
        "additional_closed_codelist_values": result["additional_closed_codelist_values"],
        "additional_open_codelist_values": result["additional_open_codelist_values"],
        "additional_checks": result["additional_checks"],
    }
    return {name: value for name, value in found.items() if value}
