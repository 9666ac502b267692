"""Monthly partitions kept ahead by each server, and their state on ``/metrics``.

``PartitionWatch.refresh()`` runs ``PiccoloPartitions.ensure`` (the current month and
``months_ahead`` after it; idempotent, serialised across processes by the "partitions"
advisory lock; past months whose rows sit in a default partition are left to ``chainwatch
partitions ensure``, which moves them) and then reads each table's partitions. The app's
lifespan does it once the database has started, and every ``check_s`` seconds after; the CronJob
``ops/k8s/partitions-cronjob.yaml`` runs ``chainwatch partitions ensure`` as well, so
months get made even while no server runs. Gauges, per ``table`` (partitioned tables on
PostgreSQL only):

* ``chainwatch_partitions_present``: partitions, the default one included;
* ``chainwatch_partitions_ahead``: consecutive months after the current one that have a
  partition (the alert ``ChainwatchPartitionMissing`` fires below 1);
* ``chainwatch_partitions_default_rows``: rows in the default partition (rows no month
  held when written; the next ensure moves them into their month);

and ``chainwatch_partitions_refreshed_timestamp_seconds`` (0 until the first refresh). A
failed refresh keeps the previous figures; the refresh timestamp then stops advancing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.piccolo.partitions import PiccoloPartitions, TablePartitions
from entrypoints.http.observability import scrape_time
from entrypoints.http.periodic import periodically
from ports.clock import Clock

_logger = logging.getLogger("chainwatch.partitions")
LOCK_TIMEOUT_S = 5.0
"""A server's ensure gives up (and tries again at the next check) rather than make writes
wait longer than this behind its locks."""


class PartitionWatch:
    """Partitions ensured and read periodically (see the module docstring)."""

    def __init__(
        self, partitions: PiccoloPartitions, clock: Clock, months_ahead: int, check_s: float
    ) -> None:
        self._partitions = partitions
        self.clock = clock
        self.months_ahead = months_ahead
        self.check_s = check_s
        self.tables: list[TablePartitions] = []
        self.created: list[str] = []
        self.refreshed_at: datetime | None = None

    async def refresh(self) -> None:
        """Ensure the months ahead, then read the partitions. Raises what the database
        raises; the figures stay then."""
        created = await self._partitions.ensure(
            self.months_ahead, self.clock.now(), stranded=False, lock_timeout_s=LOCK_TIMEOUT_S
        )
        if created:
            _logger.info("created partitions: %s", ", ".join(created))
        self.created += created
        self.tables = await self._partitions.status(self.clock.now())
        self.refreshed_at = self.clock.now()

    def lifespan(
        self, started: Callable[[], bool]
    ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """An app lifespan hook: refresh once ``started()`` (the database is up) and every
        ``check_s`` seconds until shutdown, in a background task."""
        return periodically(
            self.refresh,
            self.check_s,
            failure="could not ensure partitions",
            logger=_logger,
            watches=_COLLECTOR.watches,
            watch=self,
            started=started,
        )


class _PartitionCollector(Collector):
    """The gauges of the first running watch (every app of a process shares one)."""

    def __init__(self) -> None:
        self.watches: list[PartitionWatch] = []

    def collect(self) -> Iterator[Metric]:
        if not self.watches:
            return
        watch = self.watches[0]
        labels = ("table",)
        present = GaugeMetricFamily(
            "chainwatch_partitions_present",
            "Partitions of the table, its default partition included",
            labels=labels,
        )
        ahead = GaugeMetricFamily(
            "chainwatch_partitions_ahead",
            "Consecutive months after the current one that have a partition",
            labels=labels,
        )
        default_rows = GaugeMetricFamily(
            "chainwatch_partitions_default_rows",
            "Rows in the table's default partition (no month partition held them)",
            labels=labels,
        )
        for table in watch.tables:
            present.add_metric([table.table], table.partitions)
            ahead.add_metric([table.table], table.months_ahead)
            default_rows.add_metric([table.table], table.default_rows)
        refreshed = GaugeMetricFamily(
            "chainwatch_partitions_refreshed_timestamp_seconds",
            "When the partitions were last ensured and read (unix time; 0: never)",
        )
        at = watch.refreshed_at
        refreshed.add_metric([], 0.0 if at is None else at.timestamp())
        yield from (present, ahead, default_rows, refreshed)


_COLLECTOR = _PartitionCollector()
scrape_time(_COLLECTOR)
