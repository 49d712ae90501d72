"""Signing in and out of the web pages on the real gateway and database: sessions, cookies,
CSRF refusals, answers that do not reveal who has an account, and slowed guessing."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.gateway.gateway_support import gateway_settings
from tests.integration.web.web_support import (
    PASSWORD,
    browser_client,
    csrf_token,
    sign_in,
    web_user,
)

pytestmark = pytest.mark.integration


async def test_a_person_signs_in_with_a_password_and_gets_a_secure_http_only_session_cookie(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as client:
        answer = await sign_in(client, "fin")
        account = await client.get("/account")

    # Finance staff land on their own page, the place's pot, not a list of links.
    assert answer.status_code == 303 and answer.headers["location"] == "/places/GM/finance"
    cookie = next(
        value
        for value in answer.headers.get_list("set-cookie")
        if value.startswith("singlepot_session=")
    )
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    assert account.status_code == 200
    assert "Signed in as <strong>fin</strong>" in account.text
    assert "/places/GM/finance" in account.text
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        stored = await connection.fetchval("SELECT session_hash FROM web_sessions")
    finally:
        await connection.close()
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert len(stored) == 32 and session_id.encode() not in stored


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as client:
        wrong = await sign_in(client, "fin", "not the password at all")
        unknown = await sign_in(client, "nobody", "not the password at all")
        account = await client.get("/account")

    assert wrong.status_code == unknown.status_code == 400
    for answer in (wrong, unknown):
        assert "There is a problem" in answer.text
        assert 'href="#user_id"' in answer.text
        assert "Enter a correct user ID and password" in answer.text
    assert account.status_code == 303 and account.headers["location"].startswith("/sign-in")


async def test_a_sign_in_form_without_its_csrf_token_is_refused_with_a_403_page(
    settings, database_url
) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as client:
        await client.get("/sign-in")
        answer = await client.post("/sign-in", data={"user_id": "fin", "password": PASSWORD})

    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert "Set-Cookie" not in answer.headers or "singlepot_session=" not in str(answer.headers)


async def test_a_form_post_with_another_sessions_token_is_refused(settings, database_url) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as first, browser_client(settings) as second:
        await sign_in(first, "fin")
        await sign_in(second, "fin")
        foreign = csrf_token((await second.get("/account")).text)
        answer = await first.post("/sign-out", data={"csrf_token": foreign})
        still = await first.get("/account")

    assert answer.status_code == 403
    assert still.status_code == 200


async def test_signing_out_ends_the_session_on_the_server(settings, database_url) -> None:
    await web_user(database_url, "fin", "finance@GM")
    async with browser_client(settings) as client:
        await sign_in(client, "fin")
        cookie = client.cookies.get("singlepot_session")
        token = csrf_token((await client.get("/account")).text)
        out = await client.post("/sign-out", data={"csrf_token": token})
        client.cookies.set("singlepot_session", cookie, domain="gateway")
        replayed = await client.get("/account")

    assert out.status_code == 303
    assert replayed.status_code == 303, "a copied cookie must not outlive sign-out"


async def test_repeated_failed_sign_ins_are_slowed_with_a_429(settings, database_url) -> None:
    await web_user(database_url, "fin", "finance@GM")
    gateway = gateway_settings(web_sign_in_attempts_burst_max=2, web_sign_in_attempts_per_s=0.01)
    async with browser_client(settings, gateway) as client:
        answers = [await sign_in(client, "fin", "wrong password!!") for _ in range(3)]
        right = await sign_in(client, "fin")

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert "Too many sign-in attempts" in answers[2].text
    assert right.status_code == 429, "even the right password waits once the attempts are spent"


async def test_browsers_get_the_start_page_and_api_clients_the_json_index(settings) -> None:
    async with browser_client(settings) as client:
        page = await client.get("/")
        index = await client.get("/", headers={"Accept": "application/json"})

    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<h1") == 1 and "govuk-skip-link" in page.text
    assert index.json()["api"] == "/api/v1"


async def test_a_browser_lost_at_an_unknown_address_gets_a_page_and_api_clients_a_problem(
    settings,
) -> None:
    async with browser_client(settings) as client:
        page = await client.get("/no-such-page")
        problem = await client.get("/no-such-page", headers={"Accept": "application/json"})
        under_api = await client.get("/api/v1/no-such-thing")

    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<h1" in page.text and "Page not found" in page.text and 'lang="en"' in page.text
    for answer in (problem, under_api):
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
