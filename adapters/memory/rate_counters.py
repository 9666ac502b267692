"""In-memory ``RateCounterRepository``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from adapters.memory.store import RateCounter, Workspace
from domain.values import check_utc
from ports.repositories import CounterKey


class InMemoryRateCounterRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(
        self, hits: Mapping[CounterKey, int], expires_at: datetime
    ) -> dict[CounterKey, int]:
        check_utc(expires_at, "expires_at")
        work = self._workspace()
        # One lock for every counter (a database locks rows): held until the unit of work
        # ends, so what the caller does next in it is serialised with other writers.
        await work.hold(work.store.rate_counters_lock)
        view = work.rate_counters
        totals: dict[CounterKey, int] = {}
        for key in sorted(hits):
            check_utc(key.window_start, "window_start")
            stored = view.get(key)
            if stored is None:
                view.insert(key, RateCounter(hits[key], expires_at))
                totals[key] = hits[key]
            else:
                stored.total += hits[key]
                stored.expires_at = max(stored.expires_at, expires_at)
                view.replace(key, stored)
                totals[key] = stored.total
        return totals

    async def prune(self, before: datetime) -> int:
        work = self._workspace()
        await work.hold(work.store.rate_counters_lock)
        view = work.rate_counters
        expired = [key for key, row in view.items() if row.expires_at < before]
        for key in expired:
            view.delete(key)
        return len(expired)
