"""Duplicate funding on fixtures with figures written here: one charity funded in two places
under two references, matched by its org-id; a singly funded organisation left out; and the
board told of similar funding before it votes."""

from __future__ import annotations

from services.gateway.monitoring.duplicates import Funding, already_funded, report, similar


def funding(place: str, allocation: str, ref: str, org_id: str | None, **changes) -> Funding:
    fields = {
        "place_id": place,
        "allocation_id": allocation,
        "recipient_ref": ref,
        "org_id": org_id,
        "name": "Family Hubs Trust" if org_id == "GB-CHC-1123456" else None,
        "purpose": "Family hubs outreach",
        "mission_id": "M-START-WELL",
        "value_pence": 50_000_00,
        "status": "funded",
        "departments": ("DWP",),
        "streams": ("DWP/WORK",),
    }
    return Funding(**(fields | changes))


HUBS_GM = funding(
    "GM",
    "A-1",
    "PROV-HUBS",
    "GB-CHC-1123456",
    departments=("DFE", "DWP"),
    streams=("DFE/FAMILY-HUBS", "DWP/WORK"),
)
HUBS_LPL = funding(
    "LPL",
    "B-7",
    "LIV-HUBS",
    "GB-CHC-1123456",
    purpose="Family hubs in Liverpool",
    value_pence=20_000_00,
    departments=("DHSC",),
    streams=("DHSC/PH",),
)
OTHER = funding("GM", "A-2", "PROV-OTHER", "GB-CHC-2000001", value_pence=10_000_00)
UNREGISTERED = funding("GM", "A-4", "PROV-NEW", None, value_pence=5_000_00)


def test_an_organisation_funded_in_two_places_is_matched_by_org_id_with_figures_side_by_side():
    rows = report([HUBS_GM, OTHER, HUBS_LPL, UNREGISTERED])
    (row,) = rows
    assert row["organisation"] == "GB-CHC-1123456"
    assert row["name"] == "Family Hubs Trust"
    assert row["places"] == ["GM", "LPL"]
    assert row["departments"] == ["DFE", "DHSC", "DWP"]
    assert (row["total_pence"], row["total"]) == (70_000_00, "£70,000.00")
    assert [
        (a["place_id"], a["recipient_ref"], a["value"], a["purpose"]) for a in row["allocations"]
    ] == [
        ("GM", "PROV-HUBS", "£50,000.00", "Family hubs outreach"),
        ("LPL", "LIV-HUBS", "£20,000.00", "Family hubs in Liverpool"),
    ]


def test_without_an_org_id_an_organisation_is_matched_only_in_its_own_place():
    elsewhere = funding("LPL", "B-9", "PROV-NEW", None, value_pence=7_000_00)
    assert report([UNREGISTERED, elsewhere]) == []
    again = funding("GM", "A-5", "PROV-NEW", None, value_pence=7_000_00)
    (row,) = report([UNREGISTERED, again])
    assert (row["organisation"], row["total_pence"]) == ("GM:PROV-NEW", 12_000_00)


def test_one_allocation_drawing_on_two_departments_is_listed_too():
    (row,) = report([HUBS_GM])
    assert (row["allocations_count"], row["departments"]) == (1, ["DFE", "DWP"])


def test_the_board_sees_existing_funding_for_a_similar_purpose_only():
    proposal = funding(
        "GM",
        "A-3",
        "PROV-HUBS",
        "GB-CHC-1123456",
        purpose="Family hubs evening outreach",
        mission_id="M-OTHER",
        value_pence=15_000_00,
        status="proposed",
    )
    facts = already_funded(proposal, [HUBS_GM, HUBS_LPL, OTHER])
    assert facts == [
        "GB-CHC-1123456 already holds A-1 in GM (£50,000.00, funded) for “Family hubs outreach”",
        "GB-CHC-1123456 already holds B-7 in LPL (£20,000.00, funded) for “Family hubs in "
        "Liverpool”",
    ]
    unrelated = funding("GM", "A-9", "PROV-HUBS", "GB-CHC-1123456", purpose="Debt advice")
    assert not similar(unrelated, HUBS_GM.__class__(**{**HUBS_GM.__dict__, "mission_id": "M-X"}))
