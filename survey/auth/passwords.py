"""Password hashing (scrypt through Werkzeug): never store or log a password.

The method is Werkzeug's scrypt by default (n = 2**15).  HAILONG_PASSWORD_HASH may name cheaper
parameters (e.g. "scrypt:1024:8:1") where hashing speed matters more than resistance — the test suite
does; verification always reads the parameters from the stored hash, so both kinds verify.
"""

from __future__ import annotations

import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from survey.config import password_hash_method


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=password_hash_method())


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


_dummy_hashes: dict[str, str] = {}


def dummy_verify(password: str) -> None:
    """Spend what checking a real password costs, for a user name that does not exist (the hash is
    made once per process with the configured method, so its cost matches the stored hashes)."""
    method = password_hash_method()
    if method not in _dummy_hashes:
        _dummy_hashes[method] = hash_password(secrets.token_urlsafe(16))
    check_password_hash(_dummy_hashes[method], password)
