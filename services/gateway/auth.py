"""Sign-in for the gateway: bearer tokens looked up by their SHA-256 hash, rate limits per token,
and the permission check every endpoint makes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway import db, domain
from services.gateway.domain import Permission, Principal
from services.gateway.problems import ProblemError, field_problem
from services.gateway.settings import GatewaySettings
from services.runtime.host import ServiceHost

bearer = HTTPBearer(auto_error=False, description="A token from `singlepot users token`.")
BEARER = Depends(bearer)

# The most tokens the rate limiter remembers; the least recently seen are forgotten first.
RATE_LIMITER_TOKENS_MAX = 100_000


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


@dataclass
class Gateway:
    """What every endpoint needs: the service host (its pool), the settings, the limiter."""

    host: ServiceHost
    settings: GatewaySettings
    limiter: RateLimiter
    # Recently seen tokens (by hash): when looked up, the principal, and when the token expires.
    principals: dict[bytes, tuple[float, Principal, datetime]] = field(default_factory=dict)

    def remember(self, hashed: bytes, entry: tuple[float, Principal, datetime]) -> None:
        if len(self.principals) >= RATE_LIMITER_TOKENS_MAX:
            self.principals.pop(next(iter(self.principals)))
        self.principals[hashed] = entry

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
    or revoked token, 429 when the token is over its rate limit."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise unauthorized("send a token as 'Authorization: Bearer <token>'")
    gateway = gateway_of(request)
    hashed = domain.token_hash(credentials.credentials)
    now = time.monotonic()
    cached = gateway.principals.get(hashed)
    if cached is not None and now - cached[0] < gateway.settings.gateway_token_cache_s:
        principal, expires_at = cached[1], cached[2]
    else:
        principal, expires_at = await _principal(gateway, hashed)
        gateway.remember(hashed, (now, principal, expires_at))
    if expires_at <= datetime.now(UTC):
        raise unauthorized(f"the token expired at {expires_at.isoformat()}")
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
    place_id: str | None,
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


def forbid(principal: Principal, permission: Permission, place_id: str | None, what: str) -> None:
    held = ", ".join(domain.format_grant(grant) for grant in principal.grants) or "no roles"
    where = f" in place {place_id}" if place_id else ""
    target = f" for {what}" if what else ""
    detail = f"{principal.principal_id} ({held}) may not {permission}{where}{target}"
    field = "place_id" if place_id and principal.may_for_some_subject(permission, None) else "path"
    raise ProblemError(
        403, "forbidden", detail, errors=[field_problem(field, f"permission:{permission}", detail)]
    )


CALLER = Depends(authenticate)
"""The authenticated caller, as an endpoint parameter default."""
