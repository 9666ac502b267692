"""A backup target failing mid-upload: S3 errors injected by a proxy in front of moto
(``tests.faulty_s3``: a part answered 500 on every attempt, or its connection dropped; the
artifact copy or the manifest refused; deletes refused too) and a full disk for folders (a
small tmpfs, mounted in a private mount namespace). Each time the backup fails with one
clear line (the CLI: exit 1, no traceback) and leaves nothing that ``verify --latest`` or
``prune`` would take for a complete backup; an earlier good backup stays the latest."""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.blobs.s3 import MIN_PART_SIZE, S3BlobStore, S3Options
from adapters.clock import SystemClock
from adapters.piccolo import DatabaseConfig, SQLiteConfig
from ops import postgres
from ops.backup import back_up
from ops.catalogue import latest_backup_id, stored_backups
from ops.errors import BackupFailed, BackupNotFound
from ops.prune import prune
from ops.verify import verify
from ports.blobs import BlobStore
from tests.backends import (
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_config,
    run_in_thread,
)
from tests.faulty_s3 import FaultyS3, Outcome, Request, Rule, faulty_s3
from tests.integration import backup_data
from tests.s3 import TEST_BUCKET, TEST_CREDENTIALS, TEST_REGION, new_s3_store, s3_client, s3_session

CHAINWATCH = str(Path(sys.executable).parent / "chainwatch")
ARTIFACT = secrets.token_bytes(1 << 20)  # 1 MiB, incompressible
# S3BlobStore retries in botocore's standard mode with max_attempts=5, which counts
# retries: the first attempt and 5 more.
ATTEMPTS = 6


async def _filled(config: DatabaseConfig, models: BlobStore) -> None:
    """A filled database with an active model whose artifact is in ``models``."""
    await backup_data.migrated_filled_and_served(config, models, ARTIFACT)


def _sqlite_ballast(path: Path, mib: int) -> None:
    """Incompressible rows, so the data file needs several multipart parts."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE ballast (payload BLOB)")
        connection.executemany(
            "INSERT INTO ballast VALUES (randomblob(?))", [(1 << 20,) for _ in range(mib)]
        )
        connection.commit()


async def _postgres_ballast(url: str) -> None:
    connection = await postgres.connect(postgres_config(url))
    try:
        # ~22 MB of random hex: after pg_dump compresses it, more than two 5 MiB parts.
        await connection.execute(
            "CREATE TABLE ballast AS SELECT i, (SELECT string_agg(md5(random()::text || i || j),"
            " '') FROM generate_series(1, 200) AS j) AS payload FROM generate_series(1, 3500) AS i"
        )
    finally:
        await connection.close()


@pytest.fixture
def models(tmp_path: Path) -> LocalFolderBlobStore:
    return LocalFolderBlobStore(tmp_path / "models")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def source(
    request: pytest.FixtureRequest, tmp_path: Path, models: LocalFolderBlobStore
) -> AsyncIterator[DatabaseConfig]:
    """A filled database with an active model and ~12-16 MiB of ballast."""
    if request.param == "sqlite":
        config = SQLiteConfig(tmp_path / "live" / "chainwatch.sqlite3")
        await _filled(config, models)
        _sqlite_ballast(config.path, 12)
        yield config
        return
    url = await create_scratch_postgres("chainwatch_backup_faults")
    try:
        await _filled(postgres_config(url), models)
        await _postgres_ballast(url)
        yield postgres_config(url)
    finally:
        await drop_scratch_postgres(url)


@pytest.fixture
def proxy(s3_server: str) -> Iterator[FaultyS3]:
    new_s3_store(s3_server)  # an empty bucket
    with faulty_s3(s3_server) as faulty:
        yield faulty


def _store(proxy: FaultyS3) -> S3BlobStore:
    options = S3Options(region=TEST_REGION, endpoint_url=proxy.url, part_size=MIN_PART_SIZE)
    return S3BlobStore(TEST_BUCKET, "nightly", options, session=s3_session())


def _bucket(s3_server: str) -> tuple[list[str], int]:
    """What is really in the bucket (asked of moto directly): object keys, open uploads."""
    client = s3_client(s3_server)
    objects = client.list_objects_v2(Bucket=TEST_BUCKET).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=TEST_BUCKET).get("Uploads", [])
    return sorted(item["Key"] for item in objects), len(uploads)


def _fail_part(number: int, outcome: Outcome) -> Rule:
    def rule(request: Request) -> Outcome | None:
        return outcome if request.method == "PUT" and request.part_number == number else None

    return rule


@pytest.mark.parametrize("outcome", ["error", "dropped"])
async def test_a_part_that_keeps_failing_fails_the_backup_and_the_last_good_one_stays_latest(
    source: DatabaseConfig,
    models: LocalFolderBlobStore,
    proxy: FaultyS3,
    s3_server: str,
    outcome: Outcome,
) -> None:
    store = _store(proxy)
    good = await back_up(source, store, SystemClock(), models=models)
    assert good.size > 2 * MIN_PART_SIZE  # the failing part is in the middle of the file
    objects_before, _ = _bucket(s3_server)

    proxy.requests.clear()
    proxy.fail_when = _fail_part(2, outcome)
    with pytest.raises(BackupFailed) as failure:
        await back_up(source, store, SystemClock(), models=models)

    message = str(failure.value)
    assert "\n" not in message
    assert "S3 could not upload part 2 of s3://chainwatch-test/nightly/" in message
    assert message.endswith("nothing of it was kept")
    assert proxy.count(outcome) == ATTEMPTS  # retried, then given up
    assert proxy.parts_uploaded() == [1]
    assert _bucket(s3_server) == (objects_before, 0)  # the upload was aborted
    proxy.fail_when = lambda _: None
    assert latest_backup_id(store) == good.backup_id
    assert [b.backup_id for b in prune(store, 0, SystemClock().now()).kept] == [good.backup_id]
    assert (await verify(store, None, source)).manifest.backup_id == good.backup_id


@pytest.mark.parametrize("refused", [".artifacts/", ".manifest.json"])
async def test_a_refused_artifact_copy_or_manifest_fails_the_backup_and_discards_the_rest(
    models: LocalFolderBlobStore, proxy: FaultyS3, s3_server: str, tmp_path: Path, refused: str
) -> None:
    config = SQLiteConfig(tmp_path / "small" / "chainwatch.sqlite3")
    await _filled(config, models)
    store = _store(proxy)
    proxy.fail_when = lambda r: "error" if r.method == "PUT" and refused in r.path else None

    with pytest.raises(BackupFailed, match="nothing of it was kept") as failure:
        await back_up(config, store, SystemClock(), models=models)

    assert "S3 could not put s3://chainwatch-test/nightly/" in str(failure.value)
    assert _bucket(s3_server) == ([], 0)
    with pytest.raises(BackupNotFound):
        latest_backup_id(store)


async def test_when_the_store_refuses_the_clean_up_too_prune_takes_the_leftovers_later(
    models: LocalFolderBlobStore, proxy: FaultyS3, s3_server: str, tmp_path: Path
) -> None:
    config = SQLiteConfig(tmp_path / "small" / "chainwatch.sqlite3")
    await _filled(config, models)
    store = _store(proxy)

    def rule(request: Request) -> Outcome | None:
        manifest = request.method == "PUT" and request.path.endswith(".manifest.json")
        return "error" if manifest or request.method == "DELETE" else None

    proxy.fail_when = rule
    with pytest.raises(BackupFailed) as failure:
        await back_up(config, store, SystemClock(), models=models)
    assert "2 of its files could not be removed" in str(failure.value)
    assert "prune removes them" in str(failure.value)

    (left,) = stored_backups(store)
    assert not left.complete
    with pytest.raises(BackupNotFound):
        latest_backup_id(store)
    proxy.fail_when = lambda _: None
    report = prune(store, 0, SystemClock().now())
    assert [b.backup_id for b in report.removed] == [left.backup_id]
    assert _bucket(s3_server) == ([], 0)


# --- the CLI, as the CronJob runs it ---------------------------------------------------


def _environment(data_dir: Path, **variables: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_", "AWS_"))
    }
    environment.update(CHAINWATCH_DATA_DIR=str(data_dir), **variables)
    return environment


def _cli_source(tmp_path: Path, ballast_mib: int) -> Path:
    """A data folder (SQLite database and model store) as ``chainwatch serve`` leaves it."""
    data = tmp_path / "data"
    run_in_thread(
        lambda: _filled(
            SQLiteConfig(data / "chainwatch.sqlite3"), LocalFolderBlobStore(data / "models")
        )
    )
    if ballast_mib:
        _sqlite_ballast(data / "chainwatch.sqlite3", ballast_mib)
    return data


def _run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script and fixed arguments
        command, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_cli_reports_a_failing_s3_part_in_one_line_and_exits_1(
    proxy: FaultyS3, s3_server: str, tmp_path: Path
) -> None:
    data = _cli_source(tmp_path, ballast_mib=40)  # the CLI's 16 MiB parts: three of them
    environment = _environment(data, **TEST_CREDENTIALS, AWS_ENDPOINT_URL=proxy.url)
    url = f"s3://{TEST_BUCKET}/cli"
    proxy.fail_when = _fail_part(2, "error")

    backup = _run([CHAINWATCH, "backup", "--to", url], environment)

    assert backup.returncode == 1, backup.stderr
    assert "Traceback" not in backup.stderr
    assert backup.stdout == ""  # no backup id for a script to pick up
    last = backup.stderr.splitlines()[-1]
    assert last.startswith("chainwatch: backup ")
    assert "failed: S3 could not upload part 2 of s3://chainwatch-test/cli/" in last
    assert "InternalError" in last
    assert last.endswith("nothing of it was kept")
    assert proxy.count("error") == ATTEMPTS
    assert _bucket(s3_server) == ([], 0)

    proxy.fail_when = lambda _: None
    latest = _run([CHAINWATCH, "verify", "--from", url, "--latest"], environment)
    assert latest.returncode == 1
    assert latest.stderr.splitlines()[-1] == f"chainwatch: no complete backup in {url}"
    pruned = _run([CHAINWATCH, "prune", "--from", url, "--keep-days", "0"], environment)
    assert pruned.returncode == 0
    assert "removed 0 backup(s), kept 0" in pruned.stderr


def _tmpfs_command(size_bytes: int, mount_point: Path, copy_to: Path, *command: str) -> list[str]:
    """``command`` run with a ``size_bytes`` tmpfs on ``mount_point`` in a private mount
    namespace (no root needed where user namespaces are allowed); what the tmpfs holds
    afterwards is copied to ``copy_to`` (the tmpfs goes with the namespace)."""
    script = (
        'mount -t tmpfs -o "size=$1" tmpfs "$2" || exit 99; disk=$2; copy=$3; shift 3; '
        '"$@"; code=$?; cp -a "$disk/." "$copy/"; exit $code'
    )
    return [
        *("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"),
        *(str(size_bytes), str(mount_point), str(copy_to), *command),
    ]


def _tmpfs_available(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    result = _run(_tmpfs_command(1 << 20, probe, tmp_path, "true"), dict(os.environ))
    return result.returncode == 0


@pytest.mark.parametrize("full_during", ["data file", "artifact copy"])
def test_a_full_disk_fails_a_folder_backup_in_one_line_and_leaves_nothing(
    tmp_path: Path, full_during: str
) -> None:
    if not _tmpfs_available(tmp_path):
        pytest.skip("no private mount namespace here (unshare --user --mount) for a tmpfs")
    data = _cli_source(tmp_path, ballast_mib=2)
    size = (data / "chainwatch.sqlite3").stat().st_size
    # The data file fills half the disk, or fits with 256 KiB to spare (the 1 MiB
    # artifact then does not).
    disk = size // 2 if full_during == "data file" else size + (256 << 10)
    mount_point, leftovers = tmp_path / "disk", tmp_path / "left-on-disk"
    mount_point.mkdir()
    leftovers.mkdir()
    url = mount_point.as_uri()

    backup = _run(
        _tmpfs_command(disk, mount_point, leftovers, CHAINWATCH, "backup", "--to", url),
        _environment(data),
    )

    assert backup.returncode == 1, backup.stderr
    assert "Traceback" not in backup.stderr
    last = backup.stderr.splitlines()[-1]
    assert last.startswith("chainwatch: backup ")
    kind = ".sqlite3: " if full_during == "data file" else ".pyod: "
    assert f"failed: cannot write {url}/" in last
    assert kind + "No space left on device; nothing of it was kept" in last
    assert sorted(p.name for p in leftovers.rglob("*")) == []  # not even a temporary file

    store = LocalFolderBlobStore(leftovers)
    latest = _run([CHAINWATCH, "verify", "--from", store.uri, "--latest"], _environment(data))
    assert latest.returncode == 1
    assert latest.stderr.splitlines()[-1] == f"chainwatch: no complete backup in {store.uri}"
    assert prune(store, 0, SystemClock().now()).removed == []
