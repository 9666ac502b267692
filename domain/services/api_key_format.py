"""The shape of an API key: ``cw_<prefix>_<secret>``.

The prefix (12 hex digits) is public: it is stored as ``cw_<prefix>`` and finds the key
with one indexed lookup, and it is what listings show. The secret (43 URL-safe characters,
256 random bits) is shown to its holder once and stored only as a keyed digest.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

SCHEME = "cw"
_PREFIX_HEX_DIGITS = 12
_KEY = re.compile(rf"({SCHEME}_[0-9a-f]{{{_PREFIX_HEX_DIGITS}}})_([A-Za-z0-9_-]{{20,200}})")


@dataclass(frozen=True, slots=True)
class KeyParts:
    prefix: str
    """``cw_`` + 12 hex digits, as stored in ``APIKey.prefix``."""
    secret: str

    @property
    def token(self) -> str:
        """The whole key, as its holder sends it in ``X-API-Key``."""
        return f"{self.prefix}_{self.secret}"

    def __repr__(self) -> str:
        return f"KeyParts(prefix={self.prefix!r}, secret=***)"


def new_key() -> KeyParts:
    return KeyParts(
        prefix=f"{SCHEME}_{secrets.token_hex(_PREFIX_HEX_DIGITS // 2)}",
        secret=secrets.token_urlsafe(32),
    )


def split_key(token: str) -> KeyParts | None:
    """The parts of a well-formed key; ``None`` for anything else."""
    match = _KEY.fullmatch(token.strip())
    if match is None:
        return None
    return KeyParts(prefix=match.group(1), secret=match.group(2))
