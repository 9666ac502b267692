"""API keys verified recently, so that ``authenticate`` need not ask the database on every
request.

An entry is keyed by the keyed digest of the presented secret (never the key itself) and
holds the ``Principal`` it proved - role, and the key's own expiry - for ``ttl_s``
seconds. Only successful verifications are kept: an unknown or wrong key always goes to
the database (and counts as a failed authentication), so a caller without a valid key
cannot fill or probe the cache. A revocation, deactivation or role change made through
another process is seen here at the latest ``ttl_s`` seconds later; one made through this
process forgets the entries it concerns at once. The size is bounded; the least recently
used entry goes first.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # auth imports Services, which imports this module
    from collections.abc import Callable

    from domain.services.auth import Principal

DEFAULT_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    prefix: str
    fresh_until: datetime


class VerifiedKeys:
    """The cache (see the module docstring). ``ttl_s`` 0 turns it off: nothing is kept."""

    def __init__(self, ttl_s: float = 0.0, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if ttl_s < 0:
            raise ValueError("ttl_s must not be negative")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._ttl = timedelta(seconds=ttl_s)
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self._ttl > timedelta(0)

    @property
    def ttl_s(self) -> float:
        return self._ttl.total_seconds()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def generation(self) -> int:
        """Moves on with every ``forget_*``: take it before asking the database and hand it
        to ``remember``, so that an answer read before a forget is not kept after it."""
        return self._generation

    def lookup(self, digest: str, prefix: str, now: datetime) -> Principal | None:
        """The principal verified for this secret digest and key prefix, if still fresh and
        the key not past its ``expires_at`` at ``now``; else ``None`` (and the stale entry
        is dropped)."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires_at = entry.principal.key_expires_at
        if (
            entry.prefix != prefix
            or now >= entry.fresh_until
            or (expires_at is not None and now >= expires_at)
        ):
            # A different prefix with a known secret is not this key: verify it in full.
            if entry.prefix == prefix:
                del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry.principal

    def remember(
        self, digest: str, prefix: str, principal: Principal, now: datetime, *, generation: int
    ) -> None:
        """Keep ``principal`` (verified at ``now``) for ``ttl_s``, unless turned off or
        something was forgotten since ``generation`` was read."""
        if not self.enabled or generation != self._generation:
            return
        self._entries[digest] = _Entry(principal, prefix, now + self._ttl)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget_key(self, key_id: uuid.UUID) -> None:
        """Drop the entries of this key (it was revoked here)."""
        self._forget(lambda principal: principal.key_id == key_id)

    def forget_user(self, user_id: uuid.UUID) -> None:
        """Drop the entries of this user's keys (their role or active flag changed here)."""
        self._forget(lambda principal: principal.user_id == user_id)

    def _forget(self, matches: Callable[[Principal], bool]) -> None:
        self._generation += 1
        for digest in [d for d, entry in self._entries.items() if matches(entry.principal)]:
            del self._entries[digest]
