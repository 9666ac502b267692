"""The newest backup's age on /metrics: read from the backup target's catalogue (a folder,
or S3 through a proxy that fails on purpose), in the background."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.blobs.s3 import S3BlobStore, S3Options
from domain.errors import Unavailable
from entrypoints.bootstrap import bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.http.backup_watch import BackupWatch
from entrypoints.settings import BackupWatchSettings
from ops.manifest import data_key, manifest_key, new_backup_id
from ports.blobs import BlobStore
from tests.builders import T0
from tests.clocks import ManualClock
from tests.faulty_s3 import FaultyS3, faulty_s3
from tests.integration.api.conftest import CHEAP_PASSWORDS, running
from tests.s3 import TEST_BUCKET, TEST_REGION, new_s3_store, s3_session

HOUR = timedelta(hours=1)


def store_backup(store: BlobStore, hours_before_t0: float, *, complete: bool = True) -> str:
    """Blobs named like a backup taken ``hours_before_t0`` hours before ``T0``; without
    ``complete`` only its data file (an interrupted backup: the manifest comes last)."""
    backup_id = new_backup_id(T0 - hours_before_t0 * HOUR)
    store.put(data_key(backup_id, "postgresql"), b"dump")
    if complete:
        store.put(manifest_key(backup_id), b"{}")  # the watch never reads a manifest
    return backup_id


def clock_at_t0() -> ManualClock:
    return ManualClock(start=T0, step=timedelta(0))


async def test_the_age_is_that_of_the_newest_complete_backup(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path)
    store_backup(store, 50)
    store_backup(store, 30)
    store_backup(store, 2, complete=False)
    clock = clock_at_t0()
    watch = BackupWatch(store, clock, refresh_s=300)
    assert watch.newest_age_s() is None  # not read yet

    await watch.refresh()
    assert watch.newest_age_s() == 30 * 3600
    assert watch.refreshed_at == T0
    clock.advance(HOUR)  # the age grows between refreshes
    assert watch.newest_age_s() == 31 * 3600


async def test_a_target_without_a_complete_backup_is_infinitely_old(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path)
    store_backup(store, 1, complete=False)
    watch = BackupWatch(store, clock_at_t0(), refresh_s=300)
    await watch.refresh()
    assert watch.newest_age_s() == float("inf")


@pytest.fixture
def proxy(s3_server: str) -> Iterator[FaultyS3]:
    new_s3_store(s3_server)  # an empty bucket
    with faulty_s3(s3_server) as faulty:
        yield faulty


async def test_an_unreadable_catalogue_keeps_the_last_figures(proxy: FaultyS3) -> None:
    options = S3Options(region=TEST_REGION, endpoint_url=proxy.url)
    store = S3BlobStore(TEST_BUCKET, "backups", options, session=s3_session())
    store_backup(store, 10)
    clock = clock_at_t0()
    watch = BackupWatch(store, clock, refresh_s=300)
    await watch.refresh()
    clock.advance(HOUR)

    proxy.fail_when = lambda request: "error" if request.method == "GET" else None
    with pytest.raises(Unavailable):
        await watch.refresh()
    await watch._try_refresh()  # what the background loop does: log, carry on
    assert watch.refreshed_at == T0
    assert watch.newest_age_s() == 11 * 3600
    assert proxy.count("error", "GET") >= 2


async def test_metrics_show_the_backup_gauges_only_with_a_backup_target(tmp_path: Path) -> None:
    store_backup(LocalFolderBlobStore(tmp_path), 27)
    for backups, shown in [(None, False), (BackupWatchSettings(url=tmp_path.as_uri()), True)]:
        container = bootstrap_in_memory(
            clock=clock_at_t0(), passwords=CHEAP_PASSWORDS, bootstrap_model=False
        )
        app = create_app(container, backups=backups)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with (
            running(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            if shown:
                await app.state.backups.refresh()  # the lifespan's task may not have yet
            lines = (await client.get("/metrics")).text.splitlines()
        samples = dict(line.rsplit(" ", 1) for line in lines if line.startswith("chainwatch_b"))
        if not shown:
            assert app.state.backups is None
            assert samples == {}
            continue
        assert float(samples["chainwatch_backup_newest_age_seconds"]) == 27 * 3600
        newest = (T0 - 27 * HOUR).timestamp()
        assert float(samples["chainwatch_backup_newest_timestamp_seconds"]) == newest
        assert float(samples["chainwatch_backup_catalogue_refreshed_timestamp_seconds"]) == (
            T0.timestamp()
        )
