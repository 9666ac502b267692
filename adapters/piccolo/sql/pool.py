"""The asyncpg pool, metered: how many callers wait for a connection, and for how long.

asyncpg reports a pool's size and idle connections but not its waiting callers.
``MeteredPool`` counts them in the one method every acquisition goes through
(``Pool._acquire``: ``pool.acquire()`` awaited or used as a context manager, and the
pool's own ``fetch``/``execute`` helpers), so Piccolo's transactions and queries, the
advisory locks and ``ping`` are all counted. ``PoolMeter`` holds the counts as plain
numbers; ``entrypoints.http.observability`` turns them into Prometheus gauges.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

WAIT_BUCKETS_S: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
"""Upper bounds (seconds) of the acquire-wait histogram; a last bucket holds the rest."""


@dataclass(slots=True)
class PoolMeter:
    """Acquisitions of one pool. ``waiting``: acquire calls in progress now (waiting for
    a free connection, or for a new one to be opened while the pool grows to its maximum).
    ``wait_counts[i]``: finished acquisitions that waited at most ``WAIT_BUCKETS_S[i]``
    (not cumulative; the last entry counts those that waited longer); ``wait_sum_s``: their
    total wait. Failed and timed-out acquisitions count too: their callers waited."""

    waiting: int = 0
    wait_counts: list[int] = field(default_factory=lambda: [0] * (len(WAIT_BUCKETS_S) + 1))
    wait_sum_s: float = 0.0

    def observe(self, waited_s: float) -> None:
        self.wait_counts[bisect.bisect_left(WAIT_BUCKETS_S, waited_s)] += 1
        self.wait_sum_s += waited_s

    @property
    def acquisitions(self) -> int:
        return sum(self.wait_counts)


@dataclass(frozen=True, slots=True)
class PoolStats:
    """One database node's pool at one moment (``PiccoloDatabase.pool_stats``).
    ``wait_counts``/``wait_sum_s``/``acquisitions`` as in ``PoolMeter``, copied."""

    node: str
    max_size: int
    in_use: int
    idle: int
    waiting: int
    wait_counts: tuple[int, ...]
    wait_sum_s: float

    @property
    def acquisitions(self) -> int:
        return sum(self.wait_counts)


class MeteredPool(asyncpg.Pool):  # type: ignore[misc]  # asyncpg ships no type hints
    """An asyncpg ``Pool`` that keeps a ``PoolMeter`` (see the module docstring)."""

    def __init__(self, *args: Any, meter: PoolMeter, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.meter = meter

    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 - asyncpg's
        # A private asyncpg method (0.30): the pool-exhaustion test in
        # tests/integration/test_pool_metrics.py fails if acquisitions stop passing here.
        meter = self.meter
        meter.waiting += 1
        started = time.perf_counter()
        try:
            return await super()._acquire(timeout)
        finally:
            meter.waiting -= 1
            meter.observe(time.perf_counter() - started)

    def stats(self, node: str) -> PoolStats:
        size, idle = self.get_size(), self.get_idle_size()
        meter = self.meter
        return PoolStats(
            node=node,
            max_size=self.get_max_size(),
            in_use=size - idle,
            idle=idle,
            waiting=meter.waiting,
            wait_counts=tuple(meter.wait_counts),
            wait_sum_s=meter.wait_sum_s,
        )


async def create_metered_pool(meter: PoolMeter, **options: Any) -> MeteredPool:
    """``asyncpg.create_pool(**options)``, as a ``MeteredPool`` reporting into ``meter``.
    asyncpg's own defaults apply to what ``options`` leaves out."""
    settings: dict[str, Any] = {
        "min_size": 10,
        "max_size": 10,
        "max_queries": 50000,
        "max_inactive_connection_lifetime": 300.0,
        "loop": None,
        "connection_class": asyncpg.Connection,
        "record_class": asyncpg.Record,
    }
    settings.update(options)
    pool = MeteredPool(meter=meter, **settings)
    await pool
    return pool
