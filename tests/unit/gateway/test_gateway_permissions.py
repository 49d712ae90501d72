"""The permission table and grants, as pure rules: a grant's place is always checked, a national
grant is written `@*` and shown so, the places a department reads are exactly its grants', and
README.md carries the table as the module has it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.gateway.domain import (
    Permission,
    PlaceSet,
    Principal,
    explicit_grant,
    format_grant,
    parse_grant,
)
from services.gateway.identity import permissions
from services.gateway.identity.permissions import Scope, Target

README = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")


def principal(*grants: str) -> Principal:
    return Principal("someone", tuple(parse_grant(grant) for grant in grants))


def test_a_grant_for_one_place_never_answers_for_another() -> None:
    gm, lpl_auditor = principal("department@GM:DWP"), principal("auditor@LPL")
    assert gm.may(Permission.READ_DEPARTMENT_SPEND, "GM", "DWP")
    assert not gm.may(Permission.READ_DEPARTMENT_SPEND, "LPL", "DWP")
    assert not gm.may(Permission.READ_DEPARTMENT_SPEND, "GM", "DHSC")
    assert lpl_auditor.may(Permission.READ_DEPARTMENT_SPEND, "LPL", "DHSC")
    assert not lpl_auditor.may(Permission.READ_DEPARTMENT_SPEND, "GM", "DHSC")


def test_the_places_a_department_reads_are_exactly_those_its_grants_cover() -> None:
    spend = Permission.READ_DEPARTMENT_SPEND
    assert principal("department@GM:DWP").places(spend, "DWP") == PlaceSet(places=frozenset({"GM"}))
    assert principal("department@GM:DWP").places(spend, "DHSC").is_empty
    assert principal("department@*:DWP").places(spend, "DWP").every
    assert principal("auditor@LPL").places(spend, "DHSC").as_filter() == ["LPL"]
    assert principal("finance@GM").places(spend, "DWP").is_empty


def test_a_national_grant_is_written_with_a_star_and_a_grant_must_name_its_place() -> None:
    assert format_grant(explicit_grant("department@*:DWP")) == "department@*:DWP"
    assert format_grant(parse_grant("auditor")) == "auditor@*"
    assert format_grant(explicit_grant("provider@GM:P-1")) == "provider@GM:P-1"
    with pytest.raises(ValueError, match=r"department@PLACE:DWP for one place"):
        explicit_grant("department:DWP")
    with pytest.raises(ValueError, match="names no place"):
        explicit_grant("finance")


def test_a_department_door_opens_for_some_place_and_a_place_door_for_that_place_only() -> None:
    feed = permissions.door_of("GET", "/api/v1/departments/{department_code}/spend")
    board = permissions.door_of("GET", "/places/{place_id}/board")
    assert feed is not None and board is not None
    assert feed.scope is Scope.DEPARTMENT_PLACES
    gm_dwp = principal("department@GM:DWP")
    assert permissions.opens(feed, gm_dwp, Target(subject_id="DWP"))
    assert not permissions.opens(feed, gm_dwp, Target(subject_id="DHSC"))
    assert permissions.opens(board, principal("chair@GM"), Target("GM"))
    assert not permissions.opens(board, principal("chair@GM"), Target("LPL"))
    assert not permissions.opens(board, principal("public@GM"), Target("GM"))
    assert not permissions.opens(board, None, Target("GM"))


def test_the_api_and_the_page_for_the_same_figures_need_the_same_action() -> None:
    pairs = [
        ("/api/v1/places/{place_id}/board/proposals", "/places/{place_id}/board"),
        ("/api/v1/places/{place_id}/claims", "/places/{place_id}/claims"),
        ("/api/v1/places/{place_id}/verification-queue", "/places/{place_id}/verification"),
        ("/api/v1/places/{place_id}/spend/monthly", "/places/{place_id}/finance"),
    ]
    for api, page in pairs:
        api_door, page_door = permissions.DOORS[("GET", api)], permissions.DOORS[("GET", page)]
        assert (api_door.permission, api_door.scope) == (page_door.permission, page_door.scope)


def test_a_route_with_no_door_cannot_be_built() -> None:
    with pytest.raises(LookupError, match="has no door"):
        permissions.route_doors({"GET"}, "/api/v1/places/{place_id}/secret")


@pytest.mark.parametrize(
    ("name", "table"),
    [("role-table", permissions.role_table), ("door-table", permissions.markdown_table)],
)
def test_readme_carries_the_table_as_the_module_has_it(name: str, table) -> None:
    found = re.search(f"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", README, re.S)
    assert found, f"README.md has no {name} markers"
    assert found.group(1) == table(), (
        "run `python -m tools.readme_tables` to rewrite README's tables"
    )
