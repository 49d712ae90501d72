"""Web sessions: a random id in an HttpOnly, SameSite=Lax cookie (Secure unless turned off),
only its SHA-256 stored, with an expiry; and the short-lived cookie that protects the sign-in
form itself before anyone is signed in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.domain import Principal
from services.gateway.identity import db
from services.gateway.settings import GatewaySettings

SESSION_ID_BYTES = 32
# The sign-in form's own anti-forgery cookie lives this long (a form left open for an hour).
SIGN_IN_COOKIE_S = 3600


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its secret id (from the cookie) and who it belongs to."""

    session_id: str
    principal: Principal


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def session_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def sign_in_cookie_name(settings: GatewaySettings) -> str:
    return f"{settings.web_session_cookie_name}_sign_in"


async def start(
    connection: asyncpg.Connection, principal_id: str, settings: GatewaySettings
) -> tuple[str, datetime]:
    """A new session for the principal; returns its id (for the cookie) and expiry."""
    session_id = new_session_id()
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.web_session_lifetime_s)
    await db.delete_expired_sessions(connection)
    await db.insert_session(connection, session_hash(session_id), principal_id, expires_at)
    return session_id, expires_at


async def current(
    connection: asyncpg.Connection, request: Request, settings: GatewaySettings
) -> Session | None:
    """The live session named by the request's cookie, with its principal's grants now."""
    session_id = request.cookies.get(settings.web_session_cookie_name)
    if not session_id or len(session_id) > 100:
        return None
    principal_id = await db.live_session(connection, session_hash(session_id))
    if principal_id is None:
        return None
    grants = await db.grants_of(connection, principal_id)
    return Session(session_id, Principal(principal_id, grants))


async def end(connection: asyncpg.Connection, session_id: str) -> None:
    await db.end_session(connection, session_hash(session_id))


def set_cookie(
    response: Response, settings: GatewaySettings, name: str, value: str, max_age_s: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.web_session_cookie_secure,
    )


def clear_cookie(response: Response, settings: GatewaySettings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings.web_session_cookie_secure
    )
