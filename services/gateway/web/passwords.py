"""Password hashing for web sign-in: salted scrypt from the standard library, a self-describing
stored form, constant-time checks, and generated passwords. Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# scrypt cost (N=2^14, r=8, p=1: about 16 MiB and tens of milliseconds a check), recorded in each
# stored hash so that the cost can be raised later without invalidating old hashes.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
PASSWORD_LENGTH_MIN = 12
PASSWORD_LENGTH_MAX = 200
GENERATED_PASSWORD_BYTES = 18


class PasswordRuleError(ValueError):
    """A password that breaks a rule (too short, too long)."""


def check_rules(password: str) -> None:
    """Refuse passwords too short to resist guessing, or too long to hash cheaply."""
    if len(password) < PASSWORD_LENGTH_MIN:
        raise PasswordRuleError(f"password: must be at least {PASSWORD_LENGTH_MIN} characters")
    if len(password) > PASSWORD_LENGTH_MAX:
        raise PasswordRuleError(f"password: must be at most {PASSWORD_LENGTH_MAX} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES, maxmem=256 * 1024 * 1024
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """The stored form of a password: `scrypt$N$r$p$salt$hash`."""
    check_rules(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


# Checked against when the user does not exist, so that an unknown user id takes as long as a
# wrong password and the time taken does not reveal who has an account.
_DECOY = "scrypt$16384$8$1$" + _b64(b"\x00" * SALT_BYTES) + "$" + _b64(b"\x00" * HASH_BYTES)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches the stored hash; None (no such user) is checked against a
    decoy and is always False."""
    if len(password) > PASSWORD_LENGTH_MAX:
        return False
    scheme, n, r, p, salt, digest = (stored or _DECOY).split("$")
    if scheme != "scrypt":
        return False
    candidate = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate, _unb64(digest)) and stored is not None


def generate_password() -> str:
    """A random password for someone to be given once (24 URL-safe characters)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
