"""OCDS release history and records on the fixture (claim periods, a clawback, a cancelled
contract, named payers): a release kept per change with the tag the change deserves, an
amendment described when the value changes, records compiled by the OCDS merge rules
(ocdsmerge), and the standard's own tool (libcoveocds) finding nothing in either package."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from services.gateway.opendata import history, records, validation
from services.gateway.opendata.history import KeptRelease
from services.gateway.opendata.publishing import PlaceData
from tests.support.ocds_review import findings, review
from tests.unit.opendata.opendata_sample import MOMENT, RECOVERED_AT, sample

pytest.importorskip("libcoveocds")

URI = "https://example.org/open-data/places/GM/ocds.json"


def stages() -> list[tuple[str, PlaceData]]:
    """The fixture's outcomes contract A-2 as it grew: awarded, signed, paid, recovered,
    varied, then cancelled."""
    full = sample()
    awarded = replace(full, contracts=(), evidence=(), payments=(), recoveries=())
    signed = replace(full, evidence=(), payments=(), recoveries=())
    paid = replace(full, recoveries=())
    varied = replace(
        full,
        allocations=tuple(
            replace(a, value_pence=1_600_000_00) if a.allocation_id == "A-2" else a
            for a in full.allocations
        ),
    )
    cancelled = replace(
        varied,
        allocations=tuple(
            replace(a, status="cancelled") if a.allocation_id == "A-2" else a
            for a in varied.allocations
        ),
    )
    return [
        ("awarded", awarded),
        ("signed", signed),
        ("paid", paid),
        ("recovered", full),
        ("varied", varied),
        ("cancelled", cancelled),
    ]


def kept_history() -> list[KeptRelease]:
    """What the handlers would keep for A-2: a release per stage whose content changed."""
    kept: list[KeptRelease] = []
    for day, (_, data) in enumerate(stages()):
        allocation = next(a for a in data.contracted() if a.allocation_id == "A-2")
        content = history.current_content(data, allocation)
        previous = kept[-1] if kept else None
        if previous and history.digest(content) == history.digest(previous.release):
            continue
        moment = MOMENT + timedelta(days=day)
        release = history.next_release(previous, content, len(kept) + 1, moment)
        kept.append(KeptRelease("A-2", len(kept) + 1, moment, release))
    return kept


def test_a_release_is_kept_per_change_with_the_tags_of_the_change() -> None:
    kept = kept_history()

    assert [k.release["tag"] for k in kept] == [
        ["tender", "award", "contract"],
        ["contractUpdate"],  # signed: dateSigned and the claim-period milestones
        ["contractUpdate", "implementation"],  # a claim verified, outcomes paid
        ["implementationUpdate"],  # the clawback, a negative transaction
        ["awardUpdate", "contractAmendment"],  # the board varied the value
        ["awardCancellation", "contractTermination"],
    ]
    identity = sample().identity()
    published = [history.identified(k, identity) for k in kept]
    assert {r["ocid"] for r in published} == {"ocds-gmca01-GM-A-2"}
    assert [r["id"] for r in published] == [f"ocds-gmca01-GM-A-2-{n:04d}" for n in range(1, 7)]
    assert "⟨" not in str(published)


def test_an_unchanged_process_keeps_no_new_release() -> None:
    data = sample()
    allocation = next(a for a in data.contracted() if a.allocation_id == "A-2")
    first = history.current_content(data, allocation)
    again = history.current_content(replace(data, publisher=None), allocation)

    assert history.digest(first) == history.digest(again)  # prefixes are not content


def test_an_amendment_names_both_values_and_is_carried_forward() -> None:
    kept = kept_history()
    amended, terminated = kept[-2].release, kept[-1].release

    assert amended["contracts"][0]["amendments"] == [
        {
            "id": f"{amended['id']}-amendment",
            "date": "2026-10-04T12:00:00Z",
            "rationale": "The board varied the allocation that funds the contract",
            "description": "Contract value from £1,500,000.00 to £1,600,000.00",
            "amendsReleaseID": kept[-3].release["id"],
            "releaseID": amended["id"],
        }
    ]
    assert terminated["contracts"][0]["amendments"] == amended["contracts"][0]["amendments"]


def test_the_release_history_passes_libcoveocds() -> None:
    package = history.release_package_of(sample(), kept_history(), RECOVERED_AT, URI)

    assert validation.errors(validation.ocds_validator(), package) == []
    assert findings(review(package)) == {}


def test_records_compile_the_history_by_the_merge_rules_and_pass_libcoveocds() -> None:
    identity = sample().identity()
    releases = [history.identified(k, identity) for k in kept_history()]
    package = records.record_package(
        sample(), releases, RECOVERED_AT, URI.replace("ocds.json", "ocds-records.json"), URI
    )

    [record] = package["records"]
    compiled, versioned = record["compiledRelease"], record["versionedRelease"]
    assert record["ocid"] == "ocds-gmca01-GM-A-2"
    assert [r["url"] for r in record["releases"]] == [f"{URI}#{r['id']}" for r in releases]
    assert compiled["tag"] == ["compiled"]
    assert compiled["contracts"][0]["status"] == "terminated"
    assert compiled["contracts"][0]["value"]["amount"] == 1_600_000.0
    assert [v["value"] for v in versioned["contracts"][0]["value"]["amount"]] == [
        1_500_000.0,
        1_600_000.0,
    ]
    transactions = compiled["contracts"][0]["implementation"]["transactions"]
    assert [t["value"]["amount"] for t in transactions] == [
        t["value"]["amount"] for t in releases[-1]["contracts"][0]["implementation"]["transactions"]
    ]
    assert validation.errors(validation.ocds_record_validator(), package) == []
    assert findings(review(package, record_package=True)) == {}
