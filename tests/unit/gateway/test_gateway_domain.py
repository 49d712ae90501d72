"""The gateway's pure rules: grants and permissions, pro-rata splits, webhook signatures and
back-off, request fingerprints, the rate limiter, and what a department sees of spend."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import AttributionShare, SpendRecorded
from services.gateway import domain
from services.gateway.delivery import domain as delivery_domain
from services.gateway.domain import Grant, Permission, Principal, Role
from services.gateway.identity.auth import RateLimiter
from services.gateway.projections import domain as projections_domain


def test_a_grant_string_names_role_place_and_subject() -> None:
    assert domain.parse_grant("finance@GM") == Grant(Role.FINANCE, "GM", "")
    assert domain.parse_grant("provider:PROV-1") == Grant(Role.PROVIDER, "*", "PROV-1")
    assert domain.format_grant(domain.parse_grant("department@GM:DWP")) == "department@GM:DWP"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mayor@GM", "unknown role 'mayor'"),
        ("provider@GM", "a provider grant needs a subject"),
        ("finance@GM:DWP", "a finance grant takes no subject"),
    ],
)
def test_a_bad_grant_string_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        domain.parse_grant(text)


def test_staff_of_one_place_have_no_rights_in_another() -> None:
    staff = Principal("fin", (Grant(Role.FINANCE, "GM"),))
    assert staff.may(Permission.RECORD_SETTLEMENT, "GM", None)
    assert not staff.may(Permission.RECORD_SETTLEMENT, "WM", None)


def test_a_provider_may_act_only_for_itself() -> None:
    provider = Principal("p", (Grant(Role.PROVIDER, "*", "PROV-A"),))
    assert provider.may(Permission.SUBMIT_EVIDENCE, "GM", "PROV-A")
    assert not provider.may(Permission.SUBMIT_EVIDENCE, "GM", "PROV-B")
    assert not provider.may(Permission.SUBMIT_EVIDENCE, "GM", None)
    assert provider.subjects(Permission.READ_CONTRACTS, "GM", Role.PROVIDER) == {"PROV-A"}
    assert not provider.sees_everything(Permission.READ_CONTRACTS, "GM")


def test_a_department_cannot_allocate() -> None:
    department = Principal("d", (Grant(Role.DEPARTMENT, "*", "DWP"),))
    assert not department.may_for_some_subject(Permission.PROPOSE_ALLOCATION, "GM")
    assert department.may(Permission.READ_DEPARTMENT_SPEND, None, "DWP")
    assert not department.may(Permission.READ_DEPARTMENT_SPEND, None, "DHSC")


def test_the_auditor_reads_everything_and_changes_nothing() -> None:
    auditor = Principal("a", (Grant(Role.AUDITOR),))
    reads = [p for p in Permission if p.value.startswith("read.")]
    assert all(auditor.may(p, "ANY", "ANY") for p in reads)
    assert not any(auditor.may_for_some_subject(p, "ANY") for p in Permission if p not in reads)


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12),
)
def test_a_pro_rata_split_adds_up_to_the_penny(amount: int, weights: list[int]) -> None:
    parts = projections_domain.split_pro_rata(amount, weights)
    assert sum(parts) == amount
    assert len(parts) == len(weights)
    assert all(part >= 0 for part in parts)


def test_a_signature_is_valid_only_for_the_same_secret_time_and_body() -> None:
    signature = delivery_domain.webhook_signature("secret", 1_700_000_000, b'{"a":1}')
    assert signature.startswith("v1=")
    assert delivery_domain.signature_is_valid("secret", 1_700_000_000, b'{"a":1}', signature)
    assert not delivery_domain.signature_is_valid("other", 1_700_000_000, b'{"a":1}', signature)
    assert not delivery_domain.signature_is_valid("secret", 1_700_000_001, b'{"a":1}', signature)
    assert not delivery_domain.signature_is_valid("secret", 1_700_000_000, b'{"a":2}', signature)


def test_webhook_retries_back_off_exponentially_up_to_a_maximum() -> None:
    delays = [delivery_domain.retry_delay_s(attempt, 1.0, 10.0) for attempt in range(1, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_the_same_request_fingerprints_the_same_whatever_its_key_order() -> None:
    one = domain.request_fingerprint("POST /x", {"a": 1, "b": [1, 2]})
    assert one == domain.request_fingerprint("POST /x", {"b": [1, 2], "a": 1})
    assert one != domain.request_fingerprint("POST /y", {"a": 1, "b": [1, 2]})
    assert one != domain.request_fingerprint("POST /x", {"a": 2, "b": [1, 2]})


def test_command_ids_differ_between_principals_with_the_same_key() -> None:
    assert domain.command_event_id("a", "k") == domain.command_event_id("a", "k")
    assert domain.command_event_id("a", "k") != domain.command_event_id("b", "k")


def test_tokens_are_random_and_only_their_hashes_are_compared() -> None:
    first, second = domain.new_token(), domain.new_token()
    assert first != second and first.startswith("sp_") and len(first) > 40
    assert domain.token_hash(first) != domain.token_hash(second)
    assert len(domain.token_hash(first)) == 32


def test_the_rate_limiter_allows_a_burst_then_refills_at_its_rate() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst_max=3)
    assert [limiter.wait_s("t", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_s("t", now=0.0) == pytest.approx(0.5)
    assert limiter.wait_s("t", now=0.5) == 0.0
    assert limiter.wait_s("other", now=0.5) == 0.0


def test_a_department_sees_only_its_own_shares_of_a_spend() -> None:
    spend = SpendRecorded(
        place_id="GM",
        spend_id="SP-1",
        payment_id="P-1",
        allocation_id="A-1",
        provider_id="PROV-1",
        contract_id=None,
        amount_pence=1_000,
        payment_kind="grant_instalment",
        purpose="hubs",
        financial_year="2026-27",
        attribution=(
            AttributionShare(department_code="DWP", funding_stream_code="A", amount_pence=300),
            AttributionShare(department_code="DHSC", funding_stream_code="B", amount_pence=500),
            AttributionShare(department_code="DWP", funding_stream_code="C", amount_pence=200),
        ),
        transfer_id="T-1",
    )
    views = {view.department_code: view for view in projections_domain.department_views(spend)}
    assert set(views) == {"DWP", "DHSC"}
    assert views["DWP"].amount_pence == 500
    assert {s["department_code"] for s in views["DWP"].record["attribution"]} == {"DWP"}
    assert views["DHSC"].record["department_amount_pence"] == 500


def test_the_pot_overview_shows_available_as_the_ledger_booked_it_per_stream_and_in_total() -> None:
    # The first stream had 5p recovered into it: available is the ledger's unreserved pot as the
    # row carries it, not settled less reserved.
    rows = [
        {
            "settled_pence": 100,
            "received_pence": 50,
            "reserved_pence": 30,
            "paid_pence": 10,
            "available_pence": 75,
        },
        {
            "settled_pence": 200,
            "received_pence": 0,
            "reserved_pence": 0,
            "paid_pence": 0,
            "available_pence": 200,
        },
    ]
    overview = projections_domain.pot_overview(rows)
    assert [s["available_pence"] for s in overview["streams"]] == [75, 200]
    assert overview["totals"]["available_pence"] == 275
