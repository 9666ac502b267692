"""Retention's progress, read from the database in the background for ``/metrics``.

``RetentionWatch.refresh()`` reads the archive records and counts each table's rows
eligible now (``domain.services.retention.retention_status``); the app's lifespan does it
at start-up (without holding start-up up) and every ``RetentionSettings.refresh_s``
seconds. A scrape only reads what is kept. Gauges, per ``table``:

* ``chainwatch_retention_rows_archived_total``: rows archived and removed by finished
  archives (counts up as long as the ``archives`` table is kept);
* ``chainwatch_retention_last_run_timestamp_seconds``: when the table's last archive
  finished (0: never);
* ``chainwatch_retention_rows_pending``: rows older than the policy allows that a run
  would archive now, counted up to ``retention.PENDING_COUNT_BOUND`` (10,000);
* ``chainwatch_retention_unfinished_archives``: archives begun and not finished;
* ``chainwatch_retention_keep_days``: the policy (absent: kept forever);

and ``chainwatch_retention_refreshed_timestamp_seconds`` (0 until the first refresh).
A failed refresh keeps the previous figures; the refresh timestamp then stops advancing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from domain.archival import RetentionPolicy
from domain.services.retention import TableRetention, retention_status
from entrypoints.http.observability import scrape_time
from entrypoints.http.periodic import periodically
from ports.archival import ArchivalDatabase
from ports.clock import Clock

_logger = logging.getLogger("chainwatch.retention")


class RetentionWatch:
    """Retention's progress as last read (see the module docstring)."""

    def __init__(
        self,
        database: ArchivalDatabase,
        policies: Sequence[RetentionPolicy],
        clock: Clock,
        refresh_s: float,
    ) -> None:
        self._database = database
        self.policies = tuple(policies)
        self.clock = clock
        self.refresh_s = refresh_s
        self.tables: list[TableRetention] = []
        self.refreshed_at: datetime | None = None

    async def refresh(self) -> None:
        """Read the figures now. Raises what the database raises; the figures stay then."""
        self.tables = await retention_status(self._database, self.policies, self.clock.now())
        self.refreshed_at = self.clock.now()

    def lifespan(self) -> Callable[[Any], AbstractAsyncContextManager[None]]:
        """An app lifespan hook: refresh now and every ``refresh_s`` seconds until
        shutdown, in a background task; the gauges are on ``/metrics`` meanwhile."""
        return periodically(
            self.refresh,
            self.refresh_s,
            failure="could not read retention's progress",
            logger=_logger,
            watches=_COLLECTOR.watches,
            watch=self,
        )


class _RetentionCollector(Collector):
    """The gauges of the first running watch (every app of a process shares one)."""

    def __init__(self) -> None:
        self.watches: list[RetentionWatch] = []

    def collect(self) -> Iterator[Metric]:
        if not self.watches:
            return
        watch = self.watches[0]
        labels = ("table",)
        archived = CounterMetricFamily(
            "chainwatch_retention_rows_archived",
            "Rows archived and removed by finished retention archives",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "chainwatch_retention_last_run_timestamp_seconds",
            "When the table's last retention archive finished (unix time; 0: never)",
            labels=labels,
        )
        pending = GaugeMetricFamily(
            "chainwatch_retention_rows_pending",
            "Rows older than the table's retention policy that a run would archive now "
            "(counted up to 10,000)",
            labels=labels,
        )
        unfinished = GaugeMetricFamily(
            "chainwatch_retention_unfinished_archives",
            "Retention archives begun and not finished (a run stopped part-way)",
            labels=labels,
        )
        keep = GaugeMetricFamily(
            "chainwatch_retention_keep_days",
            "Days the table's rows are kept (absent: forever)",
            labels=labels,
        )
        for table in watch.tables:
            archived.add_metric([table.table], table.archived_rows)
            finished = table.last_finished_at
            last.add_metric([table.table], 0.0 if finished is None else finished.timestamp())
            pending.add_metric([table.table], table.pending_rows)
            unfinished.add_metric([table.table], table.unfinished)
            if table.keep_days is not None:
                keep.add_metric([table.table], table.keep_days)
        refreshed = GaugeMetricFamily(
            "chainwatch_retention_refreshed_timestamp_seconds",
            "When retention's progress was last read (unix time; 0: never)",
        )
        at = watch.refreshed_at
        refreshed.add_metric([], 0.0 if at is None else at.timestamp())
        yield from (archived, last, pending, unfinished, keep, refreshed)


_COLLECTOR = _RetentionCollector()
scrape_time(_COLLECTOR)
