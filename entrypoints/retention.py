"""Retention wiring (part of the composition root): the ports of ``domain.services.
retention`` from the settings and a Piccolo database, and the ``retention.apply`` job.

The job runs ``apply_retention`` with the configured policies in whichever process's
worker claims it (``chainwatch retention apply --enqueue``, or the CronJob); its payload
may say ``{"archive_only": true}``. Its result is the run's figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.parquet_archive import ParquetArchiveFormat
from adapters.piccolo import PiccoloDatabase
from adapters.piccolo.archival import PiccoloArchivalDatabase
from domain.archival import RetentionPolicy
from domain.jobs import Job, JSONDict
from domain.services import Services
from domain.services.retention import RetentionPorts, RetentionReport, apply_retention
from entrypoints.blobs import blob_store_from_url
from entrypoints.jobs import Handler, JobProgress
from entrypoints.settings import ARCHIVES_FOLDER, ConfigError, Settings
from ports.blobs import BlobStore
from ports.clock import Clock

RETENTION_APPLY = "retention.apply"
"""The job kind of a retention run."""


def piccolo_database(database: object) -> PiccoloDatabase | None:
    """The Piccolo database behind an entrypoint's database (lent ones too), if any."""
    if isinstance(database, PiccoloDatabase):
        return database
    lent = getattr(database, "database", None)
    return lent if isinstance(lent, PiccoloDatabase) else None


def archive_store(settings: Settings) -> BlobStore:
    """The configured archive store (``CHAINWATCH_ARCHIVE_URL``, by default
    ``$CHAINWATCH_DATA_DIR/archives``)."""
    url = settings.retention.archive_url or (settings.data_dir / ARCHIVES_FOLDER).as_uri()
    try:
        return blob_store_from_url(url, settings.s3)
    except ValueError as error:
        raise ConfigError(f"CHAINWATCH_ARCHIVE_URL: {error}") from None


def archival_database(database: PiccoloDatabase) -> PiccoloArchivalDatabase:
    return PiccoloArchivalDatabase(lambda: database.engine)


def retention_ports(database: PiccoloDatabase, store: BlobStore, clock: Clock) -> RetentionPorts:
    return RetentionPorts(
        database=archival_database(database),
        store=store,
        archive_format=ParquetArchiveFormat(),
        clock=clock,
        locks=database.locks,
    )


def report_figures(report: RetentionReport) -> JSONDict:
    """A run's figures, as a job result and the CLI's summary."""
    return {
        "archives": [record.id for record in report.archives],
        "resumed": report.resumed,
        "archived_rows": report.archived_rows,
        "deleted_rows": report.deleted_rows,
        "size_bytes": report.size_bytes,
    }


def retention_job(
    database: PiccoloDatabase, store: BlobStore, policies: Sequence[RetentionPolicy]
) -> Handler:
    """The handler of ``retention.apply`` jobs: ``policies`` over ``database``, archiving
    into ``store``."""

    async def run(services: Services, job: Job, progress: JobProgress) -> JSONDict:
        ports = retention_ports(database, store, services.clock)
        report = await apply_retention(
            ports,
            policies,
            progress=progress,
            archive_only=bool(job.payload.get("archive_only", False)),
        )
        return report_figures(report)

    return run
