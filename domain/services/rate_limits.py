"""Rate limits: requests per API key, and failed authentications per client address.

Both count in fixed windows (``domain.rate_limits``) shared by every process of one
database through ``RateCounterRepository``, but they spend database round trips
differently:

* ``KeyRateLimiter`` sits on the hot path (every authenticated request, ``/predict``
  included), so it never waits for the database: each process counts its own hits in
  memory, decides on "the shared total it last heard + its own hits since", and ``sync()``
  (every second, from a background task) adds its hits to the shared counters in one
  statement and learns the new totals. Across R processes the limit can be overshot by
  what the others admit within one sync interval; a database outage leaves each process
  limiting on its own counts.
* ``AuthFailureLimiter`` (``domain.services.auth_failures``) counts every failed
  authentication in the database at once, and refuses an address over its limit without
  looking at its key; it also audits the failures one row per address and minute.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from domain.errors import RateLimited
from domain.rate_limits import Rate, Window
from domain.services.services import Services
from ports.repositories import CounterKey

MAX_TRACKED = 10_000
"""Subjects tracked in memory before ended windows are dropped."""


@dataclass(slots=True)
class _KeyWindow:
    window: Window
    shared: int = 0
    """The shared total at the last sync (this process's synced hits included)."""
    inflight: int = 0
    """Hits being added by a sync right now."""
    pending: int = 0
    """Hits not sent yet."""

    @property
    def estimate(self) -> int:
        return self.shared + self.inflight + self.pending


class KeyRateLimiter:
    """At most ``rate`` requests per API key, counted across processes (see the module
    docstring for how closely)."""

    def __init__(self, services: Services, rate: Rate) -> None:
        self.rate = rate
        self._services = services
        self._keys: dict[uuid.UUID, _KeyWindow] = {}

    def hit(self, key_id: uuid.UUID) -> None:
        """Count one request of ``key_id``; raises ``RateLimited`` (not counted) when the
        key has used its requests of the current window."""
        now = self._services.clock.now()
        window = self.rate.window_at(now)
        state = self._keys.get(key_id)
        if state is None or state.window != window:
            if len(self._keys) >= MAX_TRACKED:
                self._forget_ended(now)
            state = self._keys[key_id] = _KeyWindow(window)
        if state.estimate >= self.rate.limit:
            seconds = window.seconds_left(now)
            raise RateLimited(
                f"this API key has made {self.rate.limit} requests this {self.rate.per}, "
                f"its limit; retry after {seconds} s",
                retry_after_s=seconds,
            )
        state.pending += 1

    async def sync(self) -> None:
        """Add this process's new hits to the shared counters and learn their totals.
        On failure the hits stay pending for the next sync, and the error propagates."""
        now = self._services.clock.now()
        self._forget_ended(now)
        sending = {key_id: state for key_id, state in self._keys.items() if state.pending}
        if not sending:
            return
        hits: dict[CounterKey, int] = {}
        for key_id, state in sending.items():
            state.inflight, state.pending = state.pending, 0
            hits[CounterKey(f"key:{key_id}", state.window.start)] = state.inflight
        expires = max(state.window.end for state in sending.values())
        try:
            async with self._services.uow() as work:
                totals = await work.rate_counters.add(hits, expires)
                await work.commit()
        except BaseException:
            for state in sending.values():
                state.pending += state.inflight
                state.inflight = 0
            raise
        for key_id, state in sending.items():
            total = totals.get(CounterKey(f"key:{key_id}", state.window.start))
            if total is not None and self._keys.get(key_id) is state:
                state.shared = max(state.shared, total)
            state.inflight = 0

    def _forget_ended(self, now: datetime) -> None:
        # Hits of a window that is over no longer limit anything: not worth a write.
        for key_id in [k for k, s in self._keys.items() if s.window.end <= now]:
            del self._keys[key_id]
