"""The OCDS Data Review Tool's library (libcoveocds) run offline on a release package: it reads
the vendored OCDS 1.1.5 schemas and codelists instead of downloading the standard."""

from __future__ import annotations

from typing import Any

from services.gateway.opendata import validation


def review(document: dict[str, Any]) -> dict[str, Any]:
    """libcoveocds's whole report: validation errors, additional fields, codelist values and
    its additional checks."""
    from libcoveocds.api import ocds_json_output  # a test-only dependency
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig()
    config.config["context"] = "api"
    config.config["standard_zip"] = validation.ocds_standard_zip()
    result: dict[str, Any] = ocds_json_output(
        json_data=document, lib_cove_ocds_config=config, record_pkg=False
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
