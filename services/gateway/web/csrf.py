"""Cross-site request forgery protection: a synchroniser token per session. The token is an HMAC
of the session's secret id, so it is tied to that session, needs no storage, and is checked in
constant time on every form post."""

from __future__ import annotations

import hashlib
import hmac

from services.gateway.errors import GatewayError

FIELD = "csrf_token"


class CsrfRefused(GatewayError):
    """A form post without the token of the session it came from."""


def token_for(session_secret: str) -> str:
    """The token every form of this session carries in its hidden `csrf_token` field."""
    return hmac.new(session_secret.encode(), b"singlepot-csrf-v1", hashlib.sha256).hexdigest()


def check(sent: object, session_secret: str | None) -> None:
    """Refuse unless `sent` is this session's token."""
    if not session_secret or not isinstance(sent, str) or not sent:
        raise CsrfRefused("the form had no security token, or you have no session")
    if not hmac.compare_digest(sent.encode(), token_for(session_secret).encode()):
        raise CsrfRefused("the form's security token does not belong to your session")
