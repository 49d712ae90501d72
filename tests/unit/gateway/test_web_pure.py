"""Pure parts of the web pages: password hashing, pounds typed by people, CSV cells that a
spreadsheet would run, safe redirects after sign-in, and which pages each grant opens."""

from __future__ import annotations

import pytest

from services.gateway.domain import Principal, parse_grant
from services.gateway.identity import passwords
from services.gateway.web import csrf
from services.gateway.web.pages.department import spend_csv
from services.gateway.web.rendering import parse_pounds, pounds
from services.gateway.web.routes import _safe_next, links_for


def test_a_password_verifies_against_its_hash_and_a_wrong_one_does_not() -> None:
    stored = passwords.hash_password("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password("a long enough password", stored)
    assert not passwords.verify_password("a long enough passworD", stored)
    assert not passwords.verify_password("a long enough password", None)


def test_a_short_password_is_refused_naming_the_rule() -> None:
    with pytest.raises(passwords.PasswordRuleError, match="at least 12 characters"):
        passwords.hash_password("short")


def test_a_csrf_token_belongs_to_one_session_only() -> None:
    token = csrf.token_for("session-one")
    csrf.check(token, "session-one")
    with pytest.raises(csrf.CsrfRefused):
        csrf.check(token, "session-two")
    with pytest.raises(csrf.CsrfRefused):
        csrf.check(None, "session-one")


@pytest.mark.parametrize(
    ("typed", "pence"),
    [("1250", 125_000), ("£1,250.5", 125_050), ("0.07", 7), ("12,000,000.00", 1_200_000_000)],
)
def test_pounds_typed_by_people_become_exact_pence(typed: str, pence: int) -> None:
    assert parse_pounds(typed) == pence
    assert pounds(pence).replace(",", "") == "£" + f"{pence // 100}.{pence % 100:02d}"


@pytest.mark.parametrize("typed", ["1.234", "-5", "12,34", "ten", ""])
def test_amounts_that_are_not_pounds_and_pence_are_refused(typed: str) -> None:
    with pytest.raises(ValueError, match="pounds"):
        parse_pounds(typed)


def test_csv_cells_a_spreadsheet_would_run_are_defused_and_quotes_escaped() -> None:
    text = spend_csv([{"spend_id": "=1+1", "purpose": 'say "hi", then', "amount_pence": -5}])
    lines = text.split("\r\n")
    assert lines[1].startswith("'=1+1,")
    assert '"say ""hi"", then"' in lines[1]
    assert lines[1].endswith(",-5,-0.05")


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/places/GM/finance", "/places/GM/finance"),
        ("//evil.example", "/account"),
        ("https://evil.example", "/account"),
        ("/\\evil", "/account"),
    ],
)
def test_sign_in_only_redirects_to_this_site(target: str, safe: str) -> None:
    assert _safe_next(target) == safe


def test_a_providers_pages_are_its_own_and_an_every_place_grant_opens_every_place() -> None:
    principal = Principal(
        "someone", (parse_grant("provider@GM:PROV-1"), parse_grant("department:DWP"))
    )
    hrefs = [link["href"] for link in links_for(principal, ["GM", "WM"])]
    assert hrefs == [
        "/places/GM/departments/DWP",
        "/places/GM/providers/PROV-1",
        "/places/GM/grants/PROV-1",
        "/places/WM/departments/DWP",
    ]


def test_finance_and_board_roles_also_open_the_claims_page_of_their_place() -> None:
    principal = Principal("someone", (parse_grant("chair@GM"), parse_grant("provider@WM:P-1")))
    hrefs = [link["href"] for link in links_for(principal, ["GM", "WM"])]
    assert hrefs == [
        "/places/GM/board",
        "/places/GM/claims",
        "/places/WM/providers/P-1",
        "/places/WM/grants/P-1",
    ]
