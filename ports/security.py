"""Security ports: password hashing and the keyed digest that protects API key secrets."""

from __future__ import annotations

from typing import Protocol


class PasswordHasher(Protocol):
    """A slow, salted password hash (argon2id in production)."""

    def hash(self, password: str) -> str:
        """The encoded hash (algorithm, parameters and salt included) to store."""
        ...

    def verify(self, encoded: str, password: str) -> bool:
        """True when ``password`` matches ``encoded``; False otherwise, never an error."""
        ...


class SecretDigester(Protocol):
    """A keyed digest of API key secrets: a stolen database alone cannot be replayed."""

    def digest(self, secret: str) -> str:
        """A fixed-length hex digest of ``secret`` under the server's key."""
        ...

    def matches(self, secret: str, digest: str) -> bool:
        """True when ``secret`` digests to ``digest``; compared in constant time."""
        ...
