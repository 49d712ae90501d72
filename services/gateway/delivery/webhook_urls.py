"""Which URLs a department's webhook may point at, so that a department token cannot make the
gateway post into its own network (server-side request forgery).

The rule: `https` only, no credentials in the URL, the scheme's default port, and a host whose
every address is public (not loopback, private, link-local, shared CGNAT space, multicast,
reserved or otherwise special, IPv4 or IPv6, nor an IPv4 one inside IPv6). An operator may name
hosts that skip the scheme, port and address parts (an on-premises receiver); other http URLs and
other ports are allowed only when settings say so.

The rule is checked when a webhook is registered, with the names resolved then, and again on
every delivery against the addresses the gateway actually connects to (see `webhooks.py`), so a
name that later resolves somewhere private (DNS rebinding) still reaches nothing. This module
does no I/O itself: resolving is a function passed in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import AnyHttpUrl, TypeAdapter, ValidationError

from services.gateway.errors import GatewayError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Resolves a host name and port to the IP addresses (as text) a connection would try."""

DEFAULT_PORTS = {"https": 443, "http": 80}
ALLOWED_HOSTS_SETTING = "SINGLEPOT_WEBHOOK_ALLOWED_HOSTS"
ALLOW_HTTP_SETTING = "SINGLEPOT_WEBHOOK_ALLOW_HTTP"
ALLOWED_PORTS_SETTING = "SINGLEPOT_WEBHOOK_ALLOWED_PORTS"

_URL = TypeAdapter(AnyHttpUrl)
_RFC1918 = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class WebhookUrlRefused(GatewayError, ValueError):
    """A webhook URL (or an address it resolves to) that breaks the rule named by `rule`."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class WebhookUrlPolicy:
    """What the operator allows beyond the rule: hosts (names or IP addresses, compared
    case-insensitively) that may be reached whatever their scheme, port and address; plain http
    to public addresses; and ports other than the scheme's default."""

    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    allow_http: bool = False
    allowed_ports: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        allowed_hosts: Iterable[str] = (),
        allow_http: bool = False,
        allowed_ports: Iterable[int] = (),
    ) -> WebhookUrlPolicy:
        hosts = frozenset(normal_host(host) for host in allowed_hosts if host.strip())
        return cls(hosts, allow_http, frozenset(allowed_ports))

    def host_allowed(self, host: str) -> bool:
        return normal_host(host) in self.allowed_hosts


@dataclass(frozen=True)
class Destination:
    """Where a checked URL leads: the host to resolve and the port to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    allow_listed: bool


def split_list(text: str) -> list[str]:
    """A comma-separated setting's entries, without blanks."""
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def normal_host(host: str) -> str:
    """A host as compared with the allow-list: lower case, no brackets, no trailing dot, and an
    IP address in its canonical form (`[::0001]` and `::1` are the same host)."""
    bare = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    address = _address(bare)
    return str(address) if address is not None else bare


def check_url(url: str, policy: WebhookUrlPolicy) -> Destination:
    """The URL's destination, if its scheme, credentials, port and (for an IP address written in
    the URL) address are allowed; otherwise `WebhookUrlRefused` naming the rule."""
    try:
        parsed = _URL.validate_python(url)
    except ValidationError:
        raise WebhookUrlRefused("url", f"{url!r} is not an http(s) URL") from None
    host = normal_host(parsed.host or "")
    scheme = parsed.scheme
    port = parsed.port or DEFAULT_PORTS[scheme]
    allow_listed = policy.host_allowed(host)
    if parsed.username or parsed.password:
        raise WebhookUrlRefused(
            "no_credentials",
            "a webhook URL must not carry a user name or password; the gateway signs every "
            "delivery, so check the Singlepot-Signature header instead",
        )
    if not allow_listed and scheme != "https" and not policy.allow_http:
        raise WebhookUrlRefused(
            "https_only",
            f"webhook URLs must use https, not {scheme} (plain http only for hosts in "
            f"{ALLOWED_HOSTS_SETTING}, or when {ALLOW_HTTP_SETTING} is true)",
        )
    if not allow_listed and port != DEFAULT_PORTS[scheme] and port not in policy.allowed_ports:
        raise WebhookUrlRefused(
            "default_port",
            f"port {port} is not allowed for a webhook; use the {scheme} default port "
            f"{DEFAULT_PORTS[scheme]}, or one listed in {ALLOWED_PORTS_SETTING}",
        )
    destination = Destination(str(parsed), scheme, host, port, allow_listed)
    literal = _address(host)
    if literal is not None and not allow_listed:
        check_addresses(host, [literal])
    return destination


def check_addresses(host: str, addresses: Sequence[IPAddress]) -> None:
    """Refuse a host unless every one of its addresses is public: a name with one public and one
    internal address could otherwise be steered to the internal one."""
    if not addresses:
        raise WebhookUrlRefused("public_address", f"{host} has no address")
    for address in addresses:
        kind = internal_kind(address)
        if kind is not None:
            shown = host if host == str(address) else f"{host} resolves to {address}, which"
            raise WebhookUrlRefused(
                "public_address",
                f"{shown} is {kind}; webhooks go only to public internet addresses, unless the "
                f"host is listed in {ALLOWED_HOSTS_SETTING}",
            )


async def check_url_resolved(url: str, policy: WebhookUrlPolicy, resolve: Resolver) -> Destination:
    """`check_url`, then the addresses the host name resolves to now. A name that does not resolve
    (yet) is accepted: every delivery resolves it again and checks each address before it
    connects, so it can only ever reach a public one."""
    destination = check_url(url, policy)
    if destination.allow_listed or _address(destination.host) is not None:
        return destination
    try:
        resolved = await resolve(destination.host, destination.port)
    except (OSError, TimeoutError):
        return destination
    check_addresses(destination.host, parse_addresses(resolved))
    return destination


def parse_addresses(resolved: Iterable[str]) -> list[IPAddress]:
    addresses = [_address(text) for text in resolved]
    return [address for address in addresses if address is not None]


def internal_kind(address: IPAddress) -> str | None:
    """What makes an address unfit for a webhook (in words), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind = internal_kind(embedded)
            return None if kind is None else f"{kind} (the IPv4 address {embedded} inside IPv6)"
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
    checks: list[tuple[bool, str]] = [
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata services live there)"),
        (any(address in network for network in _RFC1918), "a private address (RFC 1918)"),
        (address in _THIS_NETWORK, "in 'this network' (0.0.0.0/8)"),
        (address in _UNIQUE_LOCAL, "an IPv6 unique local address (fc00::/7)"),
        (address in _CGNAT, "in the shared CGNAT space (100.64.0.0/10, RFC 6598)"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (getattr(address, "is_site_local", False), "an IPv6 site-local address"),
        (
            address.is_private or not address.is_global,
            "a special-purpose address, not a public internet one",
        ),
    ]
    return next((kind for matched, kind in checks if matched), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64 or IPv4-compatible), whose
    traffic would reach that IPv4 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, IPv4-compatible (deprecated)
        return ipaddress.IPv4Address(int(address))
    return None


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
