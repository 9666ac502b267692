"""Child processes for the multi-process tests: ``python -m tests.integration.processes``.

``worker DATABASE_URL MARKER LEASE_S``: claim one job and run it with a handler (kind
``stall``) that reports progress, touches ``MARKER`` and then stalls until killed.

``bootstrap DATABASE_URL MODELS_FOLDER START_AT``: wait until the Unix time ``START_AT``,
then do what the server does at start-up (train and activate the bootstrap model unless
a version is active, then load the serving set); print ``{"trained": <version or
null>}`` on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase, PostgresConfig, config_from_url
from domain.jobs import Job
from domain.services import Services
from domain.services.bootstrap_model import ensure_active_model
from entrypoints.bootstrap import wire
from entrypoints.jobs import JobProgress, JobWorker
from entrypoints.serving import bootstrap_stream
from entrypoints.settings import JobSettings
from tests.backends import postgres_config

STALL = "stall"


def database_for(url: str) -> PiccoloDatabase:
    config = config_from_url(url)
    if isinstance(config, PostgresConfig):
        config = postgres_config(url)
    return PiccoloDatabase(config)


async def stall(_: Services, __: Job, progress: JobProgress, marker: Path) -> dict[str, Any]:
    progress.measured("stalling until killed", 0.5)
    await asyncio.sleep(0.5)  # a progress report gets written first
    await asyncio.to_thread(marker.touch)
    await asyncio.Event().wait()
    return {}


async def run_worker(url: str, marker: Path, lease_s: float) -> None:
    database = database_for(url)
    await database.start()
    container = wire(database, clock=SystemClock(), bootstrap_model=False)

    async def handler(services: Services, job: Job, progress: JobProgress) -> dict[str, Any]:
        return await stall(services, job, progress, marker)

    settings = JobSettings(lease_s=lease_s, report_s=0.1)
    worker = JobWorker(container.services, settings, {STALL: handler}, owner="doomed-worker")
    await worker.run_next()


async def run_bootstrap(url: str, models: Path, start_at: float) -> None:
    database = database_for(url)
    await database.start()
    container = wire(database, clock=SystemClock(), blobs=LocalFolderBlobStore(models))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    trained = await ensure_active_model(container.services, bootstrap_stream, actor=None)
    await container.scorer.refresh()  # what start-up does next: load and warm it
    await database.stop()
    print(json.dumps({"trained": None if trained is None else trained.version}))


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "worker":
        asyncio.run(run_worker(url, Path(rest[0]), float(rest[1])))
    elif command == "bootstrap":
        asyncio.run(run_bootstrap(url, Path(rest[0]), float(rest[1])))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
