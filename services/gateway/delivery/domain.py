"""The delivery room's pure rules: webhook signatures, the back-off between attempts and how
long a claim on a delivery holds."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = "v1"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", so a receiver can refuse replays of old bodies."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signature_is_valid(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver runs: constant-time comparison of the expected and given signatures."""
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature)


def retry_delay_s(attempts_made: int, backoff_s: float, backoff_max_s: float) -> float:
    """Exponential back-off: backoff_s after the first failure, doubling, at most backoff_max_s."""
    return float(min(backoff_max_s, backoff_s * 2 ** max(attempts_made - 1, 0)))


def claim_held_s(timeout_s: float, margin_s: float) -> float:
    """How long a claimed delivery is left to the process posting it: the POST's whole time,
    plus a margin for recording its outcome, so a live process never loses a claim it still
    uses and a dead one's deliveries are due again soon after."""
    return timeout_s + margin_s
