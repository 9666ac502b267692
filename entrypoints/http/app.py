"""The Litestar application factory: all HTTP wiring happens in ``create_app``."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.types import ControllerRouterHandler

from adapters.piccolo.partitions import PiccoloPartitions
from domain.errors import Unavailable
from domain.sessions import SessionPolicy
from entrypoints.blobs import blob_store_from_url
from entrypoints.bootstrap import Container
from entrypoints.http.api import api_router, close_request_bodies
from entrypoints.http.audit import audit_failures
from entrypoints.http.backup_watch import BackupWatch
from entrypoints.http.draining import Drain
from entrypoints.http.drift import DriftMonitor
from entrypoints.http.health import HealthController
from entrypoints.http.lifecycle import DatabaseLifecycle
from entrypoints.http.links import declare_links
from entrypoints.http.observability import (
    MetricsController,
    RuntimeSource,
    echo_request_id,
    report_runtime,
)
from entrypoints.http.partition_watch import PartitionWatch
from entrypoints.http.predicting import Predictor
from entrypoints.http.problems import problem_handlers
from entrypoints.http.rate_limits import RateLimits
from entrypoints.http.request_layer import observe_requests
from entrypoints.http.retention_watch import RetentionWatch
from entrypoints.http.security import LastUsedBuffer, security_components
from entrypoints.jobs import HANDLERS, Handler, JobWorker
from entrypoints.retention import (
    RETENTION_APPLY,
    archival_database,
    piccolo_database,
    retention_job,
)
from entrypoints.serving import ModelServing
from entrypoints.settings import (
    BackupWatchSettings,
    DriftSettings,
    JobSettings,
    PartitionSettings,
    PredictLimits,
    RateLimitSettings,
    RetentionSettings,
    S3Settings,
)
from entrypoints.web import Console, console_routes, template_config

_logger = logging.getLogger("chainwatch.http")
API_VERSION = "1.0.0"
KEY_USE_FLUSH_S = 10.0


def create_app(
    container: Container,
    *,
    migrate_on_start: bool | None = None,
    scoring_queue_depth: Callable[[], int] | None = None,
    key_use_flush_s: float = KEY_USE_FLUSH_S,
    predict: PredictLimits | None = None,
    drift: DriftSettings | None = None,
    rate_limits: RateLimitSettings | None = None,
    jobs: JobSettings | None = None,
    backups: BackupWatchSettings | None = None,
    s3: S3Settings | None = None,
    extra_api_handlers: list[ControllerRouterHandler] | None = None,
    drain: Drain | None = None,
    retention: RetentionSettings | None = None,
    console: SessionPolicy | None = None,
    partitions: PartitionSettings | None = None,
) -> Litestar:
    """The HTTP app over ``container``.

    Its lifespan starts the database (applying pending migrations first when
    ``migrate_on_start``, by default ``container.auto_migrate``) and stops it at shutdown.
    A database that is down at start-up does not stop the app: ``/ready`` answers 503 and
    keeps trying until it is reachable. API key uses are written every ``key_use_flush_s``
    seconds and at shutdown. ``/predict`` gathers single transactions into micro-batches
    within ``predict`` limits (defaults: ``PredictLimits()``); the depth of that queue, or
    ``scoring_queue_depth`` when given, feeds the Prometheus gauge of that name. Background
    jobs (training) are rows in the database; this process runs them as ``jobs`` says
    (default ``JobSettings()``, see ``entrypoints.jobs``) once the database has started,
    and gives a job it is running back to the queue at shutdown. The serving versions' drift
    (window and gauge refresh from ``drift``, default ``DriftSettings()``) is measured at
    start-up and then periodically for ``/metrics`` (``app.state.drift`` is the
    ``DriftMonitor``). With a backup target (``backups.url``, read with ``s3`` for
    ``s3://`` URLs) the newest backup's age is looked up every ``backups.refresh_s``
    seconds for ``/metrics`` (``app.state.backups`` is the ``BackupWatch``, else None).
    Requests per API key and failed authentications per client address
    are limited as ``rate_limits`` says (default ``RateLimitSettings()``), counted with
    the other processes through the database (``app.state.rate_limits`` is the
    ``RateLimits``). ``extra_api_handlers`` adds controllers under ``/api/v1``.
    ``/ready`` answers 503 once ``drain`` (``chainwatch serve`` begins it on SIGTERM) or
    the app's shutdown has begun; at shutdown the scoring queue finishes the micro-batches
    it holds before the database stops (``entrypoints/http/draining.py``). The analyst
    console (``entrypoints.web``) is served at ``/``, its sessions living as ``console``
    says (default ``SessionPolicy()``). With ``partitions`` (``chainwatch serve`` passes
    them) the monthly partitions are ensured ahead once the database has started and every
    ``partitions.check_s`` seconds (``app.state.partitions`` is the ``PartitionWatch``).
    """
    migrate = container.auto_migrate if migrate_on_start is None else migrate_on_start
    serving = ModelServing(container)
    lifecycle = DatabaseLifecycle(container.database, migrate=migrate, then=serving.ensure_ready)
    last_used = LastUsedBuffer()
    services = container.services
    predictor = Predictor(container.scorer, services, predict or PredictLimits())
    handlers, retention_watch = _retention(container, retention, s3)
    partition_watch = _partition_watch(container, partitions)
    worker = JobWorker(services, jobs or JobSettings(), handlers, ready=lambda: lifecycle.started)
    drift_settings = drift or DriftSettings()
    drift_monitor = DriftMonitor(services, drift_settings)
    queue_depth = scoring_queue_depth or (lambda: predictor.batcher.depth)
    limit_settings = rate_limits or RateLimitSettings()
    limits = RateLimits(services, limit_settings)
    draining = drain or Drain()
    backup_settings = backups or BackupWatchSettings()
    backup_watch = (
        None
        if backup_settings.url is None
        else BackupWatch(
            blob_store_from_url(backup_settings.url, s3),
            services.clock,
            backup_settings.refresh_s,
        )
    )

    @asynccontextmanager
    async def run_database(_: Litestar) -> AsyncIterator[None]:
        try:
            await lifecycle.ensure_started()
        except Unavailable as error:
            _logger.warning("database unavailable at start-up, not ready yet: %s", error.message)
        stop_reporting = report_runtime(
            RuntimeSource(container.database, queue_depth, drift_monitor, backup_watch)
        )
        try:
            yield
        finally:
            stop_reporting()
            await lifecycle.stop()

    @asynccontextmanager
    async def run_scoring_queue(_: Litestar) -> AsyncIterator[None]:
        async with predictor.batcher.running_workers():
            yield

    @asynccontextmanager
    async def run_jobs(_: Litestar) -> AsyncIterator[None]:
        async with worker.running():
            yield

    @asynccontextmanager
    async def freeze_startup_heap(_: Litestar) -> AsyncIterator[None]:
        # What start-up built (modules, the app, loaded models) lives as long as the
        # process: moved out of the collector's reach, a full collection - which a batch
        # of a thousand predictions triggers - walks only what requests allocate, instead
        # of pausing for hundreds of milliseconds over the whole heap. (No collection
        # first: it would cost every app start, tests' included, that much once.)
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()

    @asynccontextmanager
    async def mark_draining(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            draining.begin()

    @asynccontextmanager
    async def record_key_use(_: Litestar) -> AsyncIterator[None]:
        async with last_used.flushing(services.uow, key_use_flush_s), limits.syncing():
            yield

    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            api_router(services, last_used, limits, extra_api_handlers),
            *console_routes(
                Console(
                    services,
                    console or SessionPolicy(),
                    limits,
                    limit_settings.trusted_proxies,
                )
            ),
        ],
        template_config=template_config(),
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "database": Provide(lambda: lifecycle, use_cache=True, sync_to_thread=False),
            "predictor": Provide(lambda: predictor, use_cache=True, sync_to_thread=False),
            "jobs": Provide(lambda: worker, use_cache=True, sync_to_thread=False),
            "drift_settings": Provide(lambda: drift_settings, use_cache=True, sync_to_thread=False),
            "drain": Provide(lambda: draining, use_cache=True, sync_to_thread=False),
            "backup_watch": Provide(lambda: backup_watch, use_cache=True, sync_to_thread=False),
        },
        # Exited in reverse: readiness fails first; running jobs are given back, queued
        # predictions end, and key uses and rate-limit counts are flushed, before the
        # database stops.
        lifespan=[
            run_database,
            serving.lifespan(lambda: lifecycle.started),
            drift_monitor.lifespan(lambda: lifecycle.started),
            *([] if backup_watch is None else [backup_watch.lifespan()]),
            *([] if retention_watch is None else [retention_watch.lifespan()]),
            *(
                []
                if partition_watch is None
                else [partition_watch.lifespan(lambda: lifecycle.started)]
            ),
            record_key_use,
            run_scoring_queue,
            run_jobs,
            mark_draining,
            freeze_startup_heap,
        ],
        exception_handlers=problem_handlers(),
        after_exception=[audit_failures(services)],
        before_send=[echo_request_id],
        # One layer: client address, request id, audit origin, log line, metrics.
        middleware=[observe_requests(limit_settings.trusted_proxies)],
        openapi_config=OpenAPIConfig(
            title="chainwatch",
            version=API_VERSION,
            description="Blockchain transaction anomaly scoring. Send an API key in the "
            "`X-API-Key` header; errors are RFC 9457 problem documents.",
            components=security_components(),
            path="/schema",
            render_plugins=[ScalarRenderPlugin(path="/")],
        ),
        # Logging is the process's business (the CLI configures it); Litestar's default
        # config would replace the root handlers with its own format.
        logging_config=None,
    )
    app.state.drift = drift_monitor
    app.state.rate_limits = limits
    app.state.backups = backup_watch
    app.state.retention = retention_watch
    app.state.partitions = partition_watch
    close_request_bodies(app)
    declare_links(app)
    return app


def _partition_watch(
    container: Container, settings: PartitionSettings | None
) -> PartitionWatch | None:
    database = piccolo_database(container.database)
    if settings is None or database is None:
        return None
    return PartitionWatch(
        PiccoloPartitions(lambda: database.engine),
        container.services.clock,
        settings.months_ahead,
        settings.check_s,
    )


def _retention(
    container: Container, settings: RetentionSettings | None, s3: S3Settings | None
) -> tuple[dict[str, Handler], RetentionWatch | None]:
    """The job handlers (retention's added) and the retention watch, when configured."""
    handlers: dict[str, Handler] = dict(HANDLERS)
    database = piccolo_database(container.database)
    if settings is None or database is None:
        return handlers, None
    if settings.archive_url is not None:
        store = blob_store_from_url(settings.archive_url, s3)
        handlers[RETENTION_APPLY] = retention_job(database, store, settings.policies)
    watch = RetentionWatch(
        archival_database(database),
        settings.policies,
        container.services.clock,
        settings.refresh_s,
    )
    return handlers, watch
