"""OCDS records compiled from the kept releases: per contracting process, its releases (linked,
by their place in the release package), the compiled release (the latest of every field) and
the versioned release (every field's history), merged by the OCDS 1.1.5 merge rules with the
Open Contracting Partnership's own implementation (`ocdsmerge`) over the vendored release
schema. Pure: takes the published releases."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from itertools import groupby
from pathlib import Path

import ocdsmerge

from services.gateway.opendata import ocds
from services.gateway.opendata.publishing import JsonObject, PlaceData

RELEASE_SCHEMA = Path(__file__).parent / "schemas" / "release-schema.json"


@cache
def merger() -> ocdsmerge.Merger:
    """The merge rules of OCDS 1.1.5, read from the vendored schema (no network access)."""
    schema = json.loads(RELEASE_SCHEMA.read_text(encoding="utf-8"))
    return ocdsmerge.Merger(schema=schema)


def record(ocid: str, releases: list[JsonObject], releases_url: str) -> JsonObject:
    """One process's record: its releases linked (oldest first), compiled and versioned."""
    return {
        "ocid": ocid,
        "releases": [
            {
                "url": f"{releases_url}#{release['id']}",
                "date": release["date"],
                "tag": release["tag"],
            }
            for release in releases
        ],
        "compiledRelease": merger().create_compiled_release(releases),
        "versionedRelease": merger().create_versioned_release(releases),
    }


def record_package(
    data: PlaceData,
    releases: list[JsonObject],
    published_at: datetime,
    uri: str,
    releases_url: str,
) -> JsonObject:
    """A record package: one record per ocid, from the place's published releases."""
    package = ocds.package_frame(data, published_at, uri)
    package["packages"] = [releases_url]
    by_ocid = groupby(sorted(releases, key=lambda r: r["ocid"]), key=lambda r: str(r["ocid"]))
    package["records"] = [
        record(ocid, sorted(group, key=lambda r: str(r["date"])), releases_url)
        for ocid, group in by_ocid
    ]
    return package
