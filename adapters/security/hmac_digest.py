"""``HmacSecretDigester``: ``ports.security.SecretDigester`` as HMAC-SHA256 with a server key."""

from __future__ import annotations

import hashlib
import hmac


class HmacSecretDigester:
    """HMAC-SHA256 of an API key secret under ``key`` (``CHAINWATCH_SECRET_KEY``).

    API key secrets are long random strings, so a fast keyed hash suffices (no stretching
    needed); the key means a copy of the database alone does not let anyone test guesses.
    Changing the key invalidates every issued API key."""

    def __init__(self, key: str | bytes) -> None:
        self._key = key.encode() if isinstance(key, str) else key
        if len(self._key) < 16:
            raise ValueError("the secret key must be at least 16 bytes")

    def digest(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, digest: str) -> bool:
        return hmac.compare_digest(self.digest(secret), digest)

    def __repr__(self) -> str:
        return "HmacSecretDigester(key=***)"
