"""The whole system started as a user starts it (`singlepot up`), driven over HTTP, then stopped
with Ctrl-C; and the one-sentence errors for bad configuration."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.gateway.opendata import validation
from singlepot.local.ports import free_port
from tests.support.ocds_review import findings, review
from tests.support.threesixtygiving_quality import quality_notices

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PYTHON = sys.executable


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """A clean environment on free ports, so the test never meets a developer's running system."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SINGLEPOT_") and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    ports = {
        "SINGLEPOT_POSTGRES_PORT": free_port(),
        "SINGLEPOT_BROKER_PORT": free_port(),
        "SINGLEPOT_GATEWAY_PORT": free_port(),
        "SINGLEPOT_LEDGER_HEALTH_PORT": free_port(),
        "SINGLEPOT_ALLOCATIONS_HEALTH_PORT": free_port(),
        "SINGLEPOT_OUTCOMES_HEALTH_PORT": free_port(),
    }
    return {
        **clean,
        **{k: str(v) for k, v in ports.items()},
        "SINGLEPOT_DATA_DIR": str(data_dir),
        "COLUMNS": "200",
        **extra,
    }


def start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "-m", "singlepot", "up"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def wait_for_text(log: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"singlepot up exited early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout_s} s:\n{log.read_text()}"
        time.sleep(0.2)


def demo_token_header(tmp_path: Path) -> dict[str, str]:
    """`up` writes the demo user's token to the data folder (and prints it)."""
    token = (tmp_path / "data" / "demo-token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


# Each demo sign-in's main page: (path, its h1, what the demo put on it).
MAIN_PAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "finance-demo": ("/places/GM/finance", "The pot of GM", ("WORK-AND-HEALTH",)),
    "chair-demo": ("/places/GM/board", "Board proposals of GM", ("Cast vote on A-2",)),
    "board-demo": (
        "/places/GM/board",
        "Board proposals of GM",
        ("Cast vote on A-2", "Housing First has the strongest evidence", "cllr-ahmed"),
    ),
    "officer-demo": (
        "/places/GM/board",
        "Board proposals of GM",
        ("Send sign-off decision on A-3",),
    ),
    "provider-demo": (
        "/places/GM/providers/PROV-WORKWELL",
        "PROV-WORKWELL: contracts, evidence and payments in GM",
        ("C-1", "B-2026-10"),
    ),
    "verifier-demo": (
        "/places/GM/verification",
        "Evidence samples to verify in GM",
        ("B-2026-10",),
    ),
    "department-demo": (
        "/places/GM/departments/DWP",
        "Spend attributed to DWP in GM",
        ("WORK-AND-HEALTH", "A-1"),
    ),
    "auditor-demo": ("/places/GM/finance", "The pot of GM", ("WORK-AND-HEALTH",)),
    "programme-demo": (
        "/places/GM/monitoring",
        "Grant monitoring in GM",
        ("Reports by recipient",),
    ),
}
# Further pages a demo sign-in opens, and what the demo put on them.
MORE_PAGES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "provider-demo": (
        (
            "/places/GM/contracts/C-1",
            ('id="outcomes-against-targets"', 'id="referral-funnel"', "complex-needs"),
        ),
    ),
    "chair-demo": (("/places/GM/claims", ("Overdue", "CL-1", "Accepted in part")),),
    "finance-demo": (("/places/GM", ('id="pot-by-stream"', "Decisions and open data for GM")),),
}
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def demo_logins(tmp_path: Path) -> list[tuple[str, str]]:
    """(user id, password) of each line of `.data/demo-logins.txt`."""
    lines = (tmp_path / "data" / "demo-logins.txt").read_text().splitlines()
    return [(line.split()[0], line.split()[1]) for line in lines if line.strip()]


def main_page_after_sign_in(gateway: str, user: str, password: str) -> tuple[int, str]:
    """Sign in with the web form (CSRF token and all) as a browser does, then open the user's
    main page: (its status, its HTML). The session cookie is Secure, which a browser sends to
    http://127.0.0.1 but httpx does not, so the cookies are carried by hand."""
    with httpx.Client(base_url=gateway, headers={"Accept": "text/html"}) as client:
        form = client.get("/sign-in")
        token = _CSRF.search(form.text)
        assert token, "the sign-in page has no CSRF token"
        signed_in = client.post(
            "/sign-in",
            data={"user_id": user, "password": password, "csrf_token": token.group(1)},
            headers={"Cookie": _cookies(form)},
        )
        assert signed_in.status_code == 303, f"{user} could not sign in: {signed_in.text[:500]}"
        cookie = {"Cookie": _cookies(signed_in)}
        page = client.get(MAIN_PAGES[user][0], headers=cookie)
        more = [client.get(path, headers=cookie).text for path, _ in MORE_PAGES.get(user, ())]
        return page.status_code, "\n".join([page.text, *more])


def _cookies(response: httpx.Response) -> str:
    pairs = [header.split(";")[0] for header in response.headers.get_list("set-cookie")]
    return "; ".join(pair for pair in pairs if pair.split("=", 1)[1] not in ("", '""'))


def stop_with_ctrl_c(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def test_up_serves_the_demo_place_and_ctrl_c_stops_everything_then_a_rerun_reuses_the_data(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path / "data")
    gateway = f"http://127.0.0.1:{env['SINGLEPOT_GATEWAY_PORT']}"
    log = tmp_path / "up.log"
    first = start_up(env, log)
    try:
        wait_for_text(log, "singlepot is up", first, timeout_s=120)
        assert gateway in log.read_text()
        signed_in = demo_token_header(tmp_path)
        pot = httpx.get(f"{gateway}/api/v1/places/GM/pot", headers=signed_in).json()
        spend = httpx.get(f"{gateway}/api/v1/places/GM/spend", headers=signed_in).json()["spend"]
        logins = demo_logins(tmp_path)
        pages = {
            user: main_page_after_sign_in(gateway, user, password) for user, password in logins
        }
        open_data = {
            name: httpx.get(f"{gateway}/open-data/places/GM/{name}").json()
            for name in ("ocds.json", "ocds-records.json", "indigo.json", "360giving.json")
        }
        compared = httpx.get(f"{gateway}/api/v1/places-compared").json()
        forecast = httpx.get(
            f"{gateway}/api/v1/places/WM/insights/liability-forecast", headers=signed_in
        ).json()
    finally:
        exit_code = stop_with_ctrl_c(first)
    assert exit_code == 0
    assert "Stopped every process singlepot started." in log.read_text()
    # Settled 2026-27 + 2027-28 across three departments; one outcome payment of £5,900.
    assert pot["totals"]["settled_pence"] == 50_700_000_00
    assert pot["totals"]["reserved_pence"] == 1_500_000_00 + 80_000_00  # the contract, a grant
    # One outcome payment of £5,900 and the grant's one instalment of £80,000.
    assert pot["totals"]["paid_pence"] == 5_900_00 + 80_000_00
    assert len(spend) == 2
    assert sorted(sum(a["amount_pence"] for a in s["attribution"]) for s in spend) == [
        5_900_00,
        80_000_00,
    ]
    # The demo's outcomes contract passes the OCDS Data Review Tool's library, and names the
    # registered organisations by their org-ids in OCDS and INDIGO alike.
    # Its releases are kept as history (one process, a release per change) and compiled into a
    # record: both packages pass it too.
    assert findings(review(open_data["ocds.json"])) == {}
    assert findings(review(open_data["ocds-records.json"], record_package=True)) == {}
    [record] = open_data["ocds-records.json"]["records"]
    assert len(record["releases"]) == len(open_data["ocds.json"]["releases"]) > 1
    release = open_data["ocds.json"]["releases"][-1]
    funders = {p["id"] for p in release["parties"] if "funder" in p["roles"]}
    assert "GB-GOR-D10" in funders  # DWP
    assert release["awards"][0]["suppliers"][0]["id"] == "GB-COH-09876543"
    indigo_ids = {o["id"] for o in open_data["indigo.json"]["organisations"]}
    assert {"GB-LAE-GMCA", "GB-COH-09876543"} <= indigo_ids
    # Its grant is 360Giving's: valid against 1.4.3, and none of 360Giving's quality checks
    # about identifiers, locations or registered numbers fires.
    grants = open_data["360giving.json"]
    assert validation.errors(validation.threesixtygiving_validator(), grants) == []
    assert quality_notices(grants) == []
    assert [t["value"] for t in grants["grants"][0]["disbursementTransaction"]] == [80_000.0]
    # The demo's two places compare; GM's £5,900 bought 2 job starts and 1 sustained job,
    # worth 2 × (£4,000 + £600) + 1 × (£12,000 + £1,900 + £400) = £23,500 of public value in
    # its illustrative unit-cost table: £3.98 per £1. WM's contract outlives its settlement.
    assert [p["place_id"] for p in compared["places"]] == ["GM", "WM"]
    assert compared["places"][0]["public_value_per_pound_paid"] == "3.98"
    assert "2028-29" in forecast["flagged_years"]
    # Every demo sign-in reaches its main page, with the demo's content on it.
    assert set(pages) == set(MAIN_PAGES)
    for user, (status, html) in pages.items():
        _, heading, contents = MAIN_PAGES[user]
        assert status == 200, f"{user}'s main page answered {status}"
        assert f">{heading}</h1>" in html, f"{user}'s main page lacks the heading {heading!r}"
        for text in contents + tuple(t for _, texts in MORE_PAGES.get(user, ()) for t in texts):
            assert text in html, f"{user}'s pages lack {text!r}"
    for port_name in ("SINGLEPOT_POSTGRES_PORT", "SINGLEPOT_BROKER_PORT", "SINGLEPOT_GATEWAY_PORT"):
        assert _port_closed(int(env[port_name])), f"{port_name} still open after Ctrl-C"

    second_log = tmp_path / "up-again.log"
    second = start_up(env, second_log)
    try:
        wait_for_text(second_log, "singlepot is up", second, timeout_s=120)
        # The same data is still there, and reloading the demo changed nothing. A new run
        # issues a new demo token.
        signed_in = demo_token_header(tmp_path)
        again = httpx.get(f"{gateway}/api/v1/places/GM/pot", headers=signed_in).json()
        assert again["totals"] == pot["totals"]
        spend_again = httpx.get(f"{gateway}/api/v1/places/GM/spend", headers=signed_in).json()
        assert len(spend_again["spend"]) == 2
        assert httpx.get(f"{gateway}/api/v1/places/GM/pot").status_code == 401
        # The demo's people keep their passwords (not hashed again at every start).
        assert demo_logins(tmp_path) == logins
        user, password = logins[0]
        assert main_page_after_sign_in(gateway, user, password)[0] == 200
    finally:
        assert stop_with_ctrl_c(second) == 0


def test_an_unreachable_database_url_is_one_clear_sentence(tmp_path: Path) -> None:
    env = environment(tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    result = subprocess.run(
        [PYTHON, "-m", "singlepot", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "Cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:" in result.stdout
    assert "check DATABASE_URL" in result.stdout


def test_a_port_in_use_is_one_clear_sentence_naming_the_setting(tmp_path: Path) -> None:
    import socket

    env = environment(tmp_path / "data")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["SINGLEPOT_BROKER_PORT"])))
        squatter.listen()
        result = subprocess.run(
            [PYTHON, "-m", "singlepot", "up"], env=env, capture_output=True, text=True, timeout=60
        )
    output = " ".join(result.stdout.split())  # rich wraps long lines
    assert result.returncode == 1
    assert "Traceback" not in output
    assert f"Port {env['SINGLEPOT_BROKER_PORT']} on 127.0.0.1 is already in use" in output
    assert "SINGLEPOT_BROKER_PORT" in output


def _port_closed(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) != 0
