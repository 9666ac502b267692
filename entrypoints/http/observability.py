"""Request ids on responses, and Prometheus metrics.

- ``echo_request_id`` (a ``before_send`` hook, so it sees every response, routed or not)
  puts ``X-Request-ID`` on the response: the client's own when it sent a sane one. The
  access log line and the request metrics come from ``entrypoints.http.request_layer``.
- ``/metrics``: the request metrics (labelled by route template, never raw URLs; added up
  over the workers in multiprocess mode) plus the scoring queue depth; per database node (label
  ``node``: ``primary``) its pool: ``chainwatch_db_pool_max_connections``,
  ``..._in_use_connections``, ``..._idle_connections``, ``..._waiting_callers`` and the
  histogram ``chainwatch_db_pool_acquire_wait_seconds`` (``adapters.piccolo.sql.pool``);
  with a backup target, ``chainwatch_backup_newest_age_seconds`` (``+Inf`` when the
  target holds no complete backup), ``chainwatch_backup_newest_timestamp_seconds`` and
  ``chainwatch_backup_catalogue_refreshed_timestamp_seconds`` (0 until the catalogue was
  first read; ``entrypoints.http.backup_watch``); and per serving version (labels
  ``model``, ``version``) its drift as last measured in the background
  (``entrypoints.http.drift``): ``chainwatch_model_scored_predictions`` (in the window),
  ``chainwatch_model_flagged_share`` (left out while nothing was scored),
  ``chainwatch_model_score_psi`` (left out when PSI cannot be measured, e.g. a version
  without a reference), and ``chainwatch_drift_refreshed_timestamp_seconds``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from litestar import Controller, Response, get
from litestar.types import Message, Scope
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from adapters.piccolo import ReplicaStatus
from adapters.piccolo.sql.pool import WAIT_BUCKETS_S, PoolStats
from domain.services.drift_queries import VersionDrift
from entrypoints.http.context import REQUEST_ID_HEADER, request_context

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()


async def echo_request_id(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the request id on every response, routed or not. Added to a
    copy of the raw header list (nothing else sets this header, so there is none to find
    and replace; the list may be shared with the response that made it)."""
    if message["type"] == "http.response.start":
        value = request_context(scope).request_id.encode("latin-1")
        message["headers"] = [*message.get("headers", ()), (_REQUEST_ID_NAME, value)]


class MetricsController(Controller):
    """``GET /metrics``: every metric of this process; under ``chainwatch serve --workers
    N`` (``PROMETHEUS_MULTIPROC_DIR`` set) the counters, histograms and gauges of every
    worker added up, plus the scrape-time gauges (queue depth, pool, drift, backups) of
    the worker that answers."""

    path = "/metrics"
    include_in_schema = False

    @get(sync_to_thread=False)
    def metrics(self) -> Response[bytes]:
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    if MULTIPROC_DIR not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for collector in _SCRAPE_TIME:
        registry.register(collector)
    return registry


@runtime_checkable
class PooledDatabase(Protocol):
    def pool_stats(self) -> Sequence[PoolStats]: ...


class BackupSource(Protocol):
    """The newest backup as last looked up (``entrypoints.http.backup_watch``)."""

    def newest_age_s(self) -> float | None: ...

    @property
    def newest_at(self) -> datetime | None: ...

    @property
    def refreshed_at(self) -> datetime | None: ...


@runtime_checkable
class ReplicatedDatabase(Protocol):
    def replica_status(self) -> list[ReplicaStatus]: ...

    def replica_fallback_reads(self) -> int: ...


class DriftSource(Protocol):
    """The serving versions' drift as last measured (``entrypoints.http.drift``)."""

    @property
    def latest(self) -> Sequence[VersionDrift]: ...

    @property
    def refreshed_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class RuntimeSource:
    """What one running app reports: its database pool, its scoring queue depth, the
    drift of the versions it serves and its backup target's newest backup."""

    database: object
    queue_depth: Callable[[], int]
    drift: DriftSource | None = None
    backups: BackupSource | None = None


class _RuntimeCollector(Collector):
    """Gauges read at scrape time from the apps currently running in this process."""

    def __init__(self) -> None:
        self.sources: list[RuntimeSource] = []

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "chainwatch_scoring_queue_depth", "Transactions waiting in the scoring queue"
        )
        depth.add_metric([], sum(source.queue_depth() for source in self.sources))
        yield depth
        pools = [
            stats
            for source in self.sources
            if isinstance(source.database, PooledDatabase)
            for stats in source.database.pool_stats()
        ]
        yield from _pool_gauges(pools)
        yield from _backup_gauges([s.backups for s in self.sources if s.backups is not None])
        yield from _replica_gauges(
            [s.database for s in self.sources if isinstance(s.database, ReplicatedDatabase)]
        )
        yield from _drift_gauges([s.drift for s in self.sources if s.drift is not None])


def _pool_gauges(pools: list[PoolStats]) -> Iterator[Metric]:
    """Per node; two apps of one process (tests) on the same node are added up."""
    labels = ("node",)
    families = {
        "max_size": GaugeMetricFamily(
            "chainwatch_db_pool_max_connections",
            "Most connections the database pool may open",
            labels=labels,
        ),
        "in_use": GaugeMetricFamily(
            "chainwatch_db_pool_in_use_connections",
            "Database pool connections in use",
            labels=labels,
        ),
        "idle": GaugeMetricFamily(
            "chainwatch_db_pool_idle_connections",
            "Database pool connections open and idle",
            labels=labels,
        ),
        "waiting": GaugeMetricFamily(
            "chainwatch_db_pool_waiting_callers",
            "Callers waiting to acquire a database pool connection",
            labels=labels,
        ),
    }
    waits = HistogramMetricFamily(
        "chainwatch_db_pool_acquire_wait_seconds",
        "How long acquiring a database pool connection took",
        labels=labels,
    )
    nodes: dict[str, list[PoolStats]] = {}
    for stats in pools:
        nodes.setdefault(stats.node, []).append(stats)
    for node, found in nodes.items():
        for field, family in families.items():
            family.add_metric([node], sum(getattr(stats, field) for stats in found))
        counts = [
            sum(column) for column in zip(*(stats.wait_counts for stats in found), strict=True)
        ]
        cumulative, buckets = 0, []
        for bound, count in zip((*WAIT_BUCKETS_S, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
        waits.add_metric([node], buckets, sum(stats.wait_sum_s for stats in found))
    yield from families.values()
    yield waits


def _backup_gauges(sources: list[BackupSource]) -> Iterator[Metric]:
    """From the first app with a backup target (all of a process's apps share it)."""
    if not sources:
        return
    source = sources[0]
    age = GaugeMetricFamily(
        "chainwatch_backup_newest_age_seconds",
        "Seconds since the newest complete backup in the backup target was taken "
        "(+Inf: the target holds none)",
    )
    newest = GaugeMetricFamily(
        "chainwatch_backup_newest_timestamp_seconds",
        "When the newest complete backup in the backup target was taken (unix time)",
    )
    refreshed = GaugeMetricFamily(
        "chainwatch_backup_catalogue_refreshed_timestamp_seconds",
        "When the backup catalogue was last read successfully (unix time; 0: never)",
    )
    newest_age = source.newest_age_s()
    if newest_age is not None:
        age.add_metric([], newest_age)
    if source.newest_at is not None:
        newest.add_metric([], source.newest_at.timestamp())
    refreshed_at = source.refreshed_at
    refreshed.add_metric([], 0.0 if refreshed_at is None else refreshed_at.timestamp())
    yield from (age, newest, refreshed)


_VERSION_LABELS = ("model", "version")


def _replica_gauges(databases: Sequence[ReplicatedDatabase]) -> Iterator[Metric]:
    """Per replica (label ``replica``: host:port/database): healthy 0/1, lag (NaN while
    unmeasured) and the read units of work it served; plus those that fell back to the
    primary."""
    healthy = GaugeMetricFamily(
        "chainwatch_db_replica_healthy",
        "1 when the read replica takes reads (reachable, in recovery, lag within bound)",
        labels=["replica"],
    )
    lag = GaugeMetricFamily(
        "chainwatch_db_replica_lag_seconds",
        "Replica lag behind the primary by WAL position, as of the last check",
        labels=["replica"],
    )
    reads = GaugeMetricFamily(
        "chainwatch_db_replica_reads",
        "Read units of work served by the replica since start",
        labels=["replica"],
    )
    fallback = GaugeMetricFamily(
        "chainwatch_db_replica_fallback_reads",
        "Read units of work sent to the primary since start (no healthy replica)",
    )
    databases = [database for database in databases if database.replica_status()]
    if not databases:
        return
    for database in databases:
        for status in database.replica_status():
            healthy.add_metric([status.name], 1.0 if status.healthy else 0.0)
            lag.add_metric([status.name], math.nan if status.lag_s is None else status.lag_s)
            reads.add_metric([status.name], status.reads)
    fallback.add_metric([], sum(database.replica_fallback_reads() for database in databases))
    yield from (healthy, lag, reads, fallback)


def _drift_gauges(sources: list[DriftSource]) -> Iterator[Metric]:
    scored = GaugeMetricFamily(
        "chainwatch_model_scored_predictions",
        "Predictions (served and shadow) of a serving model version in the drift window",
        labels=_VERSION_LABELS,
    )
    flagged = GaugeMetricFamily(
        "chainwatch_model_flagged_share",
        "Share of a serving version's scores in the drift window at or above the alert boundary",
        labels=_VERSION_LABELS,
    )
    psi = GaugeMetricFamily(
        "chainwatch_model_score_psi",
        "Population stability index of a serving version's calibrated scores in the drift "
        "window against its training distribution (< 0.1 stable, > 0.25 significant)",
        labels=_VERSION_LABELS,
    )
    refreshed = GaugeMetricFamily(
        "chainwatch_drift_refreshed_timestamp_seconds",
        "When the drift gauges were last measured (unix time)",
    )
    seen: set[tuple[str, str]] = set()
    latest_refresh: datetime | None = None
    for source in sources:
        if source.refreshed_at is not None:
            latest_refresh = max(latest_refresh or source.refreshed_at, source.refreshed_at)
        for item in source.latest:
            labels = (item.model, str(item.version.version))
            if labels in seen:  # two apps in one process (tests) measure the same database
                continue
            seen.add(labels)
            drift = item.drift
            scored.add_metric(labels, drift.scored)
            if drift.flagged_share is not None:
                flagged.add_metric(labels, drift.flagged_share)
            if drift.psi is not None:
                psi.add_metric(labels, drift.psi)
    if latest_refresh is not None:
        refreshed.add_metric([], latest_refresh.timestamp())
    yield from (scored, flagged, psi, refreshed)


_SCRAPE_TIME: list[Collector] = []


def scrape_time(collector: Collector) -> None:
    """Export ``collector`` (read at scrape time from this process's own state) on
    ``/metrics``, in multiprocess mode too, where the default registry is not scraped."""
    REGISTRY.register(collector)
    _SCRAPE_TIME.append(collector)


_RUNTIME = _RuntimeCollector()
scrape_time(_RUNTIME)


def report_runtime(source: RuntimeSource) -> Callable[[], None]:
    """Include ``source`` in the gauges; returns the function that stops reporting it."""
    _RUNTIME.sources.append(source)

    def stop() -> None:
        if source in _RUNTIME.sources:
            _RUNTIME.sources.remove(source)

    return stop


def no_queue() -> int:
    """The scoring queue depth before micro-batching exists: always empty."""
    return 0


__all__ = [
    "BackupSource",
    "DriftSource",
    "MetricsController",
    "RuntimeSource",
    "echo_request_id",
    "no_queue",
    "report_runtime",
]
