"""``Argon2PasswordHasher``: ``ports.security.PasswordHasher`` with argon2id (argon2-cffi)."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile).

    ``cheap()`` gives a hasher with minimal cost parameters, for tests only."""

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()

    @classmethod
    def cheap(cls) -> Argon2PasswordHasher:
        return cls(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        try:
            return self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False
