"""Finding 10 of issue 14: passwords are hashed with Argon2id; an older scrypt hash still
verifies and is marked for rehashing, as is an Argon2id hash made at a lower cost."""

from __future__ import annotations

import base64
import hashlib

from argon2 import PasswordHasher

from services.gateway.identity import passwords

PASSWORD = "a long enough password"


def _scrypt_hash(password: str) -> str:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"scrypt$16384$8$1${b64(salt)}${b64(digest)}"


def test_a_new_hash_is_argon2id_at_owasps_minimum_and_needs_no_rehash() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.needs_rehash(stored)


def test_an_old_scrypt_hash_still_verifies_and_needs_rehashing() -> None:
    stored = _scrypt_hash(PASSWORD)
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password(PASSWORD + "!", stored)
    assert passwords.needs_rehash(stored)


def test_a_cheaper_argon2id_hash_needs_rehashing() -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert passwords.verify_password(PASSWORD, cheap)
    assert passwords.needs_rehash(cheap)


def test_garbage_and_unknown_users_never_verify() -> None:
    assert not passwords.verify_password(PASSWORD, None)
    assert not passwords.verify_password(PASSWORD, "$argon2id$not-a-hash")
    assert not passwords.verify_password("x" * 201, passwords.hash_password(PASSWORD))
