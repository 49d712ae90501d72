"""The webhook URL rule (no server-side request forgery): which URLs a department may register,
and which addresses a delivery may connect to, with a fake resolver standing in for DNS."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from services.gateway.delivery.webhook_urls import (
    WebhookUrlPolicy,
    WebhookUrlRefused,
    check_url,
    check_url_resolved,
    internal_kind,
    normal_host,
)
from services.gateway.delivery.webhooks import GuardedResolver, WebhookConnectRefused, url_policy
from services.gateway.settings import GatewaySettings

STRICT = WebhookUrlPolicy.of()
PUBLIC_V4 = "151.101.0.1"
PUBLIC_V6 = "2606:4700::1111"


class FakeDns:
    """Answers from a table; a name not in it does not resolve. Counts the questions."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = dict(table)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"{host} does not resolve")
        return self.table[host]


DNS = FakeDns(
    {
        "hooks.dwp.example": [PUBLIC_V4, PUBLIC_V6],
        "internal.dwp.example": ["10.0.0.5"],
        "metadata.attacker.example": ["169.254.169.254"],
        "half.attacker.example": [PUBLIC_V4, "127.0.0.1"],
        "v6-loopback.attacker.example": ["::1"],
        "ula.attacker.example": ["fd12:3456::1"],
    }
)

ACCEPTED = [
    ("https://hooks.dwp.example/singlepot", STRICT),
    ("https://HOOKS.dwp.example./singlepot?x=1", STRICT),
    (f"https://{PUBLIC_V4}/hook", STRICT),
    (f"https://[{PUBLIC_V6}]/hook", STRICT),
    ("https://hooks.dwp.example:443/hook", STRICT),
    ("https://not-yet-in-dns.example/hook", STRICT),
    ("https://hooks.dwp.example:8443/hook", WebhookUrlPolicy.of(allowed_ports=[8443])),
    ("http://hooks.dwp.example/hook", WebhookUrlPolicy.of(allow_http=True)),
    ("http://127.0.0.1:9000/hook", WebhookUrlPolicy.of(["127.0.0.1"])),
    ("http://[::1]:9000/hook", WebhookUrlPolicy.of(["::1"])),
    ("http://LocalHost:8080/hook", WebhookUrlPolicy.of(["localhost"])),
    ("http://internal.dwp.example:81/hook", WebhookUrlPolicy.of([" internal.dwp.example "])),
]


@pytest.mark.parametrize(("url", "policy"), ACCEPTED)
async def test_a_public_https_url_or_an_allowed_host_is_accepted(
    url: str, policy: WebhookUrlPolicy
) -> None:
    destination = await check_url_resolved(url, policy, DNS)

    assert destination.host == normal_host(destination.host)
    assert destination.port in (443, 8443, 80, 9000, 8080, 81)


REFUSED = [
    # (url, rule, words the message must contain)
    ("http://hooks.dwp.example/hook", "https_only", "must use https"),
    ("https://user:secret@hooks.dwp.example/hook", "no_credentials", "password"),
    ("https://token@hooks.dwp.example/hook", "no_credentials", "user name"),
    ("https://hooks.dwp.example:6379/hook", "default_port", "port 6379"),
    ("https://hooks.dwp.example:22/hook", "default_port", "port 22"),
    ("https://127.0.0.1/hook", "public_address", "loopback"),
    ("https://2130706433/hook", "public_address", "loopback"),  # 127.0.0.1 as one number
    ("https://0x7f.1/hook", "public_address", "loopback"),
    ("https://127.1/hook", "public_address", "loopback"),
    ("https://0.0.0.0/hook", "public_address", "unspecified"),
    ("https://10.1.2.3/hook", "public_address", "RFC 1918"),
    ("https://172.16.0.1/hook", "public_address", "RFC 1918"),
    ("https://192.168.1.1/hook", "public_address", "RFC 1918"),
    ("https://169.254.169.254/latest/meta-data/", "public_address", "link-local"),
    ("https://100.64.0.1/hook", "public_address", "CGNAT"),
    ("https://224.0.0.1/hook", "public_address", "multicast"),
    ("https://240.0.0.1/hook", "public_address", "reserved"),
    ("https://192.0.2.10/hook", "public_address", "not a public"),  # documentation range
    ("https://[::1]/hook", "public_address", "loopback"),
    ("https://[::]/hook", "public_address", "unspecified"),
    ("https://[fd00::1]/hook", "public_address", "unique local"),
    ("https://[fe80::1]/hook", "public_address", "link-local"),
    ("https://[ff02::1]/hook", "public_address", "multicast"),
    ("https://[::ffff:127.0.0.1]/hook", "public_address", "inside IPv6"),
    ("https://[::ffff:169.254.169.254]/hook", "public_address", "link-local"),
    ("https://[64:ff9b::a9fe:a9fe]/hook", "public_address", "169.254.169.254"),  # NAT64
    ("https://[2002:a00:1::]/hook", "public_address", "RFC 1918"),  # 6to4 of 10.0.0.1
    ("https://internal.dwp.example/hook", "public_address", "resolves to 10.0.0.5"),
    ("https://metadata.attacker.example/hook", "public_address", "169.254.169.254"),
    ("https://half.attacker.example/hook", "public_address", "127.0.0.1"),
    ("https://v6-loopback.attacker.example/hook", "public_address", "::1"),
    ("https://ula.attacker.example/hook", "public_address", "unique local"),
    ("ftp://hooks.dwp.example/hook", "url", "not an http(s) URL"),
    ("hooks.dwp.example/hook", "url", "not an http(s) URL"),
]


@pytest.mark.parametrize(("url", "rule", "words"), REFUSED)
async def test_an_internal_plain_or_odd_url_is_refused_naming_the_rule(
    url: str, rule: str, words: str
) -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        await check_url_resolved(url, STRICT, DNS)

    assert refused.value.rule == rule
    assert words in refused.value.message


def test_an_internal_address_is_refused_with_a_pointer_to_the_allow_list() -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        check_url("https://10.0.0.1/hook", STRICT)

    assert "SINGLEPOT_WEBHOOK_ALLOWED_HOSTS" in refused.value.message


def test_the_allow_list_names_hosts_exactly_so_a_neighbour_is_still_refused() -> None:
    policy = WebhookUrlPolicy.of(["127.0.0.1"])

    with pytest.raises(WebhookUrlRefused) as refused:
        check_url("https://127.0.0.2/hook", policy)

    assert refused.value.rule == "public_address"


def test_credentials_are_refused_even_for_an_allowed_host() -> None:
    with pytest.raises(WebhookUrlRefused) as refused:
        check_url("http://me:pw@127.0.0.1:9000/hook", WebhookUrlPolicy.of(["127.0.0.1"]))

    assert refused.value.rule == "no_credentials"


async def test_an_allowed_host_or_address_literal_is_not_looked_up() -> None:
    dns = FakeDns({})

    await check_url_resolved("http://localhost:9000/hook", WebhookUrlPolicy.of(["localhost"]), dns)
    await check_url_resolved(f"https://{PUBLIC_V4}/hook", STRICT, dns)

    assert dns.asked == []


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "151.101.0.1", "2606:4700::1111", "2a00:1450:4009:81f::200e", "100.128.0.1"],
)
def test_public_addresses_have_nothing_internal_about_them(address: str) -> None:
    assert internal_kind(ipaddress.ip_address(address)) is None


def test_hosts_compare_without_case_brackets_trailing_dot_or_ipv6_spelling() -> None:
    assert normal_host("[0:0:0:0:0:0:0:1]") == "::1"
    assert normal_host("Hooks.DWP.example.") == "hooks.dwp.example"


def test_the_settings_give_the_policy_from_comma_separated_lists() -> None:
    settings = GatewaySettings(
        webhook_allowed_hosts="127.0.0.1, localhost,,", webhook_allowed_ports="8443,9443"
    )

    policy = url_policy(settings)

    assert policy.allowed_hosts == frozenset({"127.0.0.1", "localhost"})
    assert policy.allowed_ports == frozenset({8443, 9443})
    assert policy.allow_http is False


def test_a_port_setting_that_is_not_a_port_fails_naming_it() -> None:
    with pytest.raises(ValidationError, match="'http' is not a port"):
        GatewaySettings(webhook_allowed_ports="8443,http")


# --- At delivery: every connection resolves again and checks what it connects to -------------


async def test_a_delivery_connects_only_to_the_addresses_it_checked() -> None:
    resolver = GuardedResolver(STRICT, FakeDns({"hooks.dwp.example": [PUBLIC_V4, PUBLIC_V6]}))

    found = await resolver.resolve("hooks.dwp.example", 443)

    # What aiohttp connects to: the checked addresses, the name kept for TLS's SNI.
    assert [(r["hostname"], r["host"], r["port"], r["family"]) for r in found] == [
        ("hooks.dwp.example", PUBLIC_V4, 443, socket.AF_INET),
        ("hooks.dwp.example", PUBLIC_V6, 443, socket.AF_INET6),
    ]


async def test_a_name_rebound_to_a_private_address_after_registration_is_refused_at_delivery() -> (
    None
):
    dns = FakeDns({"hooks.dwp.example": [PUBLIC_V4]})
    await check_url_resolved("https://hooks.dwp.example/hook", STRICT, dns)
    resolver = GuardedResolver(STRICT, dns)
    dns.table["hooks.dwp.example"] = ["169.254.169.254"]

    with pytest.raises(WebhookConnectRefused, match="link-local"):
        await resolver.resolve("hooks.dwp.example", 443)
    assert dns.asked == ["hooks.dwp.example", "hooks.dwp.example"]


async def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    resolver = GuardedResolver(STRICT, FakeDns({"hooks.dwp.example": [PUBLIC_V4, "10.0.0.7"]}))

    with pytest.raises(WebhookConnectRefused, match="private"):
        await resolver.resolve("hooks.dwp.example", 443)


async def test_a_delivery_to_a_name_that_no_longer_resolves_fails_to_connect() -> None:
    resolver = GuardedResolver(STRICT, FakeDns({}))

    with pytest.raises(WebhookConnectRefused, match="could not resolve gone.example"):
        await resolver.resolve("gone.example", 443)


async def test_a_delivery_to_an_internal_address_literal_is_refused_without_a_lookup() -> None:
    dns = FakeDns({})
    resolver = GuardedResolver(STRICT, dns)

    with pytest.raises(WebhookConnectRefused, match="loopback"):
        await resolver.allowed_addresses("127.0.0.1", 8080)
    assert dns.asked == []


async def test_a_delivery_to_an_allowed_host_connects_wherever_it_resolves() -> None:
    resolver = GuardedResolver(
        WebhookUrlPolicy.of(["localhost"]), FakeDns({"localhost": ["127.0.0.1", "::1"]})
    )

    assert await resolver.allowed_addresses("localhost", 8080) == ["127.0.0.1", "::1"]
