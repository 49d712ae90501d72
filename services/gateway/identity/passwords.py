"""Password hashing for web sign-in: Argon2id (argon2-cffi, the reference implementation's
bindings) with a self-describing stored form, constant-time checks, generated passwords, and
the older scrypt hashes still verified so that they can be rehashed at the next sign-in.
Pure: no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.gateway.errors import GatewayError

# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane; tens of milliseconds a
# check). The cost is recorded in each stored hash, so raising it here rehashes every
# password at its owner's next sign-in (`needs_rehash`).
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
PASSWORD_LENGTH_MIN = 12
PASSWORD_LENGTH_MAX = 200
GENERATED_PASSWORD_BYTES = 18

_HASHER = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)
# Checked against when the user does not exist, so that an unknown user id takes as long as a
# wrong password and the time taken does not reveal who has an account.
_DECOY = _HASHER.hash(secrets.token_urlsafe(16))
# Hashes written before Argon2id: `scrypt$N$r$p$salt$hash` (N=2^14, below OWASP's minimum).
_SCRYPT_PREFIX = "scrypt$"


class PasswordRuleError(GatewayError, ValueError):
    """A password that breaks a rule (too short, too long)."""


def check_rules(password: str) -> None:
    """Refuse passwords too short to resist guessing, or too long to hash cheaply."""
    if len(password) < PASSWORD_LENGTH_MIN:
        raise PasswordRuleError(f"password: must be at least {PASSWORD_LENGTH_MIN} characters")
    if len(password) > PASSWORD_LENGTH_MAX:
        raise PasswordRuleError(f"password: must be at most {PASSWORD_LENGTH_MAX} characters")


def hash_password(password: str) -> str:
    """The stored form of a password: Argon2id's own encoding, `$argon2id$v=19$m=...`."""
    check_rules(password)
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches the stored hash (Argon2id, or an older scrypt one); None (no
    such user) is checked against a decoy and is always False."""
    if len(password) > PASSWORD_LENGTH_MAX:
        return False
    if stored is not None and stored.startswith(_SCRYPT_PREFIX):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored or _DECOY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be replaced: every scrypt hash, and Argon2id
    hashes made at a lower cost than today's."""
    if stored.startswith(_SCRYPT_PREFIX):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def generate_password() -> str:
    """A random password for someone to be given once (24 URL-safe characters)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _verify_scrypt(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(
        password.encode(),
        salt=_unb64(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(_unb64(digest)),
        maxmem=256 * 1024 * 1024,
    )
    return hmac.compare_digest(candidate, _unb64(digest))


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
