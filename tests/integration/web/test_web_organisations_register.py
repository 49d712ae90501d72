"""The organisations register's pages, browser-free against the real gateway app: finance staff
list the register, register an organisation from the form, see it, correct it; a bad number is
refused beside its field with the register's rule; the open data names it by its org-id; a
board member reads the register but gets no form, and a provider cannot see it at all."""

from __future__ import annotations

import re

import pytest

from tests.integration.gateway.gateway_support import client_for
from tests.integration.web.web_support import browser_client, csrf_token, sign_in, web_user

pytestmark = pytest.mark.integration

AUTHORITY = {
    "organisation_ref": "GM",
    "kind": "combined_authority",
    "name": "Greater Manchester Combined Authority",
    "legal_form": "public_body",
    "org_id_scheme": "GB-LAE",
    "org_id_identifier": "GMCA",
    "postcode": "m1 6eu",
    "is_sme": "",
    "is_vcse": "",
}
PROVIDER = {
    "organisation_ref": "PROV-HUBS",
    "kind": "provider",
    "name": "Salford Family Hubs Trust",
    "legal_form": "charity",
    "org_id_scheme": "GB-CHC",
    "org_id_identifier": "1234567",
    "postcode": "M5 4WT",
    "is_sme": "yes",
    "is_vcse": "yes",
}


def rows(html: str) -> list[str]:
    return re.findall(r'data-reference="([^"]+)"', html)


async def test_finance_staff_register_see_and_correct_an_organisation(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as client:
        await sign_in(client, "fin")
        empty = await client.get("/places/GM/organisations")
        registered = await client.post(
            "/places/GM/organisations", data={**AUTHORITY, "csrf_token": csrf_token(empty.text)}
        )
        shown = await client.get(registered.headers["location"])
        form = await client.get("/places/GM/organisations")
        bad = await client.post(
            "/places/GM/organisations",
            data={**PROVIDER, "org_id_identifier": "12-AB", "csrf_token": csrf_token(form.text)},
        )
        good = await client.post(
            "/places/GM/organisations", data={**PROVIDER, "csrf_token": csrf_token(bad.text)}
        )
        corrected = await client.post(
            "/places/GM/organisations/PROV-HUBS",
            data={
                **PROVIDER,
                "name": "Salford Family Hubs Charitable Trust",
                "is_sme": "no",
                "csrf_token": csrf_token(form.text),
            },
        )
        provider_page = await client.get(corrected.headers["location"])
        listing = await client.get("/places/GM/organisations")
        finance = await client.get("/places/GM/finance")
    async with client_for(settings) as api:
        places = (await api.get("/open-data/places")).json()["places"]

    assert empty.status_code == 200
    assert "No organisation is registered here yet" in empty.text
    assert registered.status_code == 303
    assert registered.headers["location"] == "/places/GM/organisations/GM?sent=registered"
    assert shown.status_code == 200
    assert "Greater Manchester Combined Authority" in shown.text
    assert "GB-LAE-GMCA" in shown.text and "M1 6EU" in shown.text  # postcode normalised
    assert "The organisation is registered" in shown.text
    assert bad.status_code == 422
    assert 'id="org_id_identifier-error"' in bad.text
    assert "(rule: scheme_format)" in bad.text
    assert 'value="Salford Family Hubs Trust"' in bad.text  # the form keeps what was typed
    assert good.status_code == 303
    assert corrected.status_code == 303
    assert corrected.headers["location"] == "/places/GM/organisations/PROV-HUBS?sent=corrected"
    assert "Salford Family Hubs Charitable Trust" in provider_page.text
    assert "GB-CHC-1234567" in provider_page.text
    assert re.search(r"Small or medium-sized enterprise</dt><dd[^>]*>No<", provider_page.text)
    assert rows(listing.text) == ["GM", "PROV-HUBS"]
    assert 'href="/places/GM/organisations"' in finance.text
    assert places[0]["publisher"] == {
        "name": "Greater Manchester Combined Authority",
        "org_id": "GB-LAE-GMCA",
    }


async def test_a_board_member_reads_the_register_without_a_form_and_a_provider_cannot(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    await web_user(database_url, "member", "board_member@GM")
    await web_user(database_url, "provider", "provider@GM:PROV-HUBS")
    async with browser_client(settings) as client:
        await sign_in(client, "fin")
        form = await client.get("/places/GM/organisations")
        await client.post(
            "/places/GM/organisations", data={**PROVIDER, "csrf_token": csrf_token(form.text)}
        )
    async with browser_client(settings) as client:
        await sign_in(client, "member")
        listing = await client.get("/places/GM/organisations")
        entry = await client.get("/places/GM/organisations/PROV-HUBS")
        missing = await client.get("/places/GM/organisations/PROV-NOBODY")
        refused = await client.post(
            "/places/GM/organisations/PROV-HUBS",
            data={**PROVIDER, "name": "Renamed", "csrf_token": csrf_token(entry.text)},
        )
    async with browser_client(settings) as client:
        await sign_in(client, "provider")
        provider = await client.get("/places/GM/organisations")

    assert listing.status_code == 200 and rows(listing.text) == ["PROV-HUBS"]
    assert "Register an organisation" not in listing.text
    assert entry.status_code == 200 and "Correct this entry" not in entry.text
    assert missing.status_code == 404
    assert refused.status_code == 403
    assert provider.status_code == 403
