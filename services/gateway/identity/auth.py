"""Sign-in for the gateway: bearer tokens looked up by their SHA-256 hash, rate limits per token,
and the permission checks: the door of every route (`permissions.DOORS`), checked before its
endpoint runs by `GuardedRoute`, and the finer checks endpoints make on what they read."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway import domain
from services.gateway.domain import Permission, PlaceSet, Principal
from services.gateway.identity import db, permissions
from services.gateway.identity.permissions import Door, Scope, Target
from services.gateway.problems import ProblemError, field_problem
from services.gateway.settings import GatewaySettings
from services.runtime.host import ServiceHost

bearer = HTTPBearer(auto_error=False, description="A token from `singlepot users token`.")
BEARER = Depends(bearer)

# The most tokens the rate limiter remembers; the least recently seen are forgotten first.
RATE_LIMITER_TOKENS_MAX = 100_000
# Contracts whose providers one process keeps (the oldest found is forgotten first).
CONTRACT_PROVIDERS_MAX = 100_000


@dataclass
class RateLimiter:
    """A token bucket per bearer token: `burst_max` at once, refilled at `rate_per_s`."""

    rate_per_s: float
    burst_max: int
    _buckets: dict[object, tuple[float, float]] = field(default_factory=dict)

    def wait_s(self, key: object, now: float | None = None) -> float:
        """Take one request from the bucket: 0 when allowed, else seconds until it would be."""
        now = time.monotonic() if now is None else now
        level, last = self._buckets.pop(key, (float(self.burst_max), now))
        level = min(float(self.burst_max), level + (now - last) * self.rate_per_s)
        if level >= 1:
            self._remember(key, (level - 1, now))
            return 0.0
        self._remember(key, (level, now))
        return (1 - level) / self.rate_per_s

    def _remember(self, key: object, bucket: tuple[float, float]) -> None:
        if len(self._buckets) >= RATE_LIMITER_TOKENS_MAX:
            self._buckets.pop(next(iter(self._buckets)))
        self._buckets[key] = bucket


# (connection, place_id, contract_id) → the contract's provider, or None for no such contract.
ContractProvider = Callable[[asyncpg.Connection, str, str], Awaitable[str | None]]


@dataclass
class Gateway:
    """What every endpoint needs: the service host (its pool), the settings, the limiter."""

    host: ServiceHost
    settings: GatewaySettings
    limiter: RateLimiter
    # Who provides a contract (the projections' read model), for doors scoped to a contract's
    # provider; handed in by the app, as identity sits below the rooms that keep read models.
    contract_provider: ContractProvider
    # Recently seen tokens (by hash): when looked up, the principal, and when the token expires.
    principals: dict[bytes, tuple[float, Principal, datetime]] = field(default_factory=dict)
    # Contracts' providers found so far, by (place, contract): see `contract_provider_of`.
    providers: dict[tuple[str, str], str] = field(default_factory=dict)

    def remember(self, hashed: bytes, entry: tuple[float, Principal, datetime]) -> None:
        if len(self.principals) >= RATE_LIMITER_TOKENS_MAX:
            self.principals.pop(next(iter(self.principals)))
        self.principals[hashed] = entry

    def remember_provider(self, contract: tuple[str, str], provider_id: str) -> None:
        if len(self.providers) >= CONTRACT_PROVIDERS_MAX:
            self.providers.pop(next(iter(self.providers)))
        self.providers[contract] = provider_id

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.host.pool is not None, "the gateway's host is started before it serves"
        return self.host.pool


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        detail,
        errors=[field_problem("header.authorization", "valid_token", detail)],
        headers={"WWW-Authenticate": 'Bearer realm="singlepot"'},
    )


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None = BEARER
) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 for a missing, unknown, expired
    or revoked token, 429 when the token is over its rate limit. Once per request: the route's
    door check and the endpoint share the answer."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized("send a token as 'Authorization: Bearer <token>'")
    gateway = gateway_of(request)
    hashed = domain.token_hash(credentials.credentials)
    principal = await current_principal(gateway, hashed)
    wait_s = gateway.limiter.wait_s(principal.token_id)
    if wait_s > 0:
        raise ProblemError(
            429,
            "rate-limited",
            f"this token may make {gateway.settings.gateway_rate_limit_per_s:g} requests a "
            f"second; retry after {wait_s:.2f} s",
            errors=[field_problem("header.authorization", "rate_limit", "too many requests")],
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
    request.state.principal = principal
    return principal


async def current_principal(gateway: Gateway, hashed: bytes) -> Principal:
    """The token's principal, trusted from memory for `gateway_token_cache_s` at most; 401 for
    an unknown, revoked or expired token. Open streams call this again as they run."""
    now = time.monotonic()
    cached = gateway.principals.get(hashed)
    if cached is not None and now - cached[0] < gateway.settings.gateway_token_cache_s:
        principal, expires_at = cached[1], cached[2]
    else:
        principal, expires_at = await _principal(gateway, hashed)
        gateway.remember(hashed, (now, principal, expires_at))
    if expires_at <= datetime.now(UTC):
        raise unauthorized(f"the token expired at {expires_at.isoformat()}")
    return principal


async def _principal(gateway: Gateway, hashed: bytes) -> tuple[Principal, datetime]:
    async with gateway.pool.acquire() as connection:
        row = await db.token_by_hash(connection, hashed)
    if row is None:
        raise unauthorized("the token is not known")
    if row["revoked_at"] is not None:
        raise unauthorized(f"the token was revoked at {row['revoked_at'].isoformat()}")
    principal = Principal(row["principal_id"], row["grants"], row["token_id"])
    return principal, row["expires_at"]


def require(
    principal: Principal,
    permission: Permission,
    place_id: str,
    subject_id: str | None = None,
    *,
    what: str = "",
) -> None:
    """403 unless the principal may do `permission` in the place, for the subject."""
    if principal.may(permission, place_id, subject_id):
        return
    forbid(principal, permission, place_id, what)


def require_some_subject(principal: Principal, permission: Permission, place_id: str) -> None:
    """403 unless some grant allows `permission` in the place (its subject is checked later)."""
    if not principal.may_for_some_subject(permission, place_id):
        forbid(principal, permission, place_id, "")


def require_places(principal: Principal, permission: Permission, subject_id: str) -> PlaceSet:
    """The places whose rows of the subject (a department) the principal may have; 403 when
    none. Answers then carry those places only."""
    places = principal.places(permission, subject_id)
    if places.is_empty:
        forbid(principal, permission, None, subject_id)
    return places


def forbid(principal: Principal, permission: Permission, place_id: str | None, what: str) -> None:
    held = ", ".join(domain.format_grant(grant) for grant in principal.grants) or "no roles"
    where = f" in place {place_id}" if place_id else ""
    target = f" for {what}" if what else ""
    detail = f"{principal.principal_id} ({held}) may not {permission}{where}{target}"
    field = "path"
    if place_id and any(permission in domain.ROLE_PERMISSIONS[g.role] for g in principal.grants):
        field = "place_id"
    raise ProblemError(
        403, "forbidden", detail, errors=[field_problem(field, f"permission:{permission}", detail)]
    )


CALLER = Depends(authenticate)
"""The authenticated caller, as an endpoint parameter default."""


# --- Doors: the permission table, checked before any endpoint runs ----------------------------


async def door_target(gateway: Gateway, door: Door, request: Request) -> Target:
    """The place and subject a request names, as its door's scope reads them."""
    path = request.path_params
    place_id = path.get("place_id")
    scope = door.scope
    if scope is Scope.CONTRACT_PROVIDER and place_id is not None and "contract_id" in path:
        if "\x00" in place_id + path["contract_id"]:
            return Target(place_id, None)  # PostgreSQL text cannot hold NUL: no such contract
        provider = await contract_provider_of(gateway, request, place_id, path["contract_id"])
        return Target(place_id, provider)
    subject_by_scope = {
        Scope.PATH_PROVIDER: path.get("provider_id"),
        Scope.PATH_DEPARTMENT: path.get("department_code"),
        Scope.DEPARTMENT_PLACES: path.get("department_code"),
        Scope.QUERY_DEPARTMENT: request.query_params.get("department_code"),
    }
    return Target(place_id, subject_by_scope.get(scope))


async def contract_provider_of(
    gateway: Gateway, request: Request, place_id: str, contract_id: str
) -> str | None:
    """The contract's provider (None for no such contract), for the door (is the caller this
    contract's provider?) and the endpoint (does the body name it?). A contract's provider is
    set when it is registered and never changes (the read model inserts it once and never
    updates it; a rebuild replays the same registration), so one found is kept for the process
    and an evidence POST then reads nothing; a contract not found is read at most once per
    request. Each read cost a pooled connection and a round trip (bench/NOTES.md, issue 24)."""
    contract = (place_id, contract_id)
    remembered = gateway.providers.get(contract)
    if remembered is not None:
        return remembered
    known = getattr(request.state, "contract_provider", None)
    if known is not None and known[0] == contract:
        return known[1]  # type: ignore[no-any-return]
    async with gateway.pool.acquire() as connection:
        provider = await gateway.contract_provider(connection, place_id, contract_id)
    request.state.contract_provider = (contract, provider)
    if provider is not None:
        gateway.remember_provider(contract, provider)
    return provider


async def check_door(gateway: Gateway, door: Door, principal: Principal, request: Request) -> None:
    """403 unless the door (and, failing it, its `otherwise` door) opens for the principal."""
    candidate: Door | None = door
    while candidate is not None:
        target = await door_target(gateway, candidate, request)
        if permissions.opens(candidate, principal, target):
            return
        candidate = candidate.otherwise
    target = await door_target(gateway, door, request)
    assert door.permission is not None, "open and signed-in doors always open"
    forbid(principal, door.permission, target.place_id, target.subject_id or "")


class GuardedRoute(APIRoute):
    """An API route whose door (`permissions.DOORS`) is checked before its endpoint runs: no
    route is served without an entry in the table."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        doors = permissions.route_doors(self.methods, self.path_format)

        async def guarded(request: Request) -> Response:
            door = doors[request.method]
            if door.scope is not Scope.OPEN:
                principal = await authenticate(request, await bearer(request))
                await check_door(gateway_of(request), door, principal, request)
            return await handler(request)

        return guarded
