"""``chainwatch verify`` records its verdict next to the backup, and
``GET /api/v1/backups/status`` (admins only) answers the newest backup, its age and that
verdict - from a real SQLite backup in a folder, and problem documents when it cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from domain.model import Role
from entrypoints.bootstrap import Container, bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.settings import BackupWatchSettings, S3Settings
from ops.backup import back_up
from ops.errors import BackupCorrupt
from ops.verification import load_verification, verification_key
from ops.verify import verify
from tests.clocks import ManualClock
from tests.faulty_s3 import faulty_s3
from tests.integration import backup_data
from tests.integration.api.conftest import CHEAP_PASSWORDS, running, user_with_key
from tests.integration.backup_data import NO_MODELS
from tests.s3 import TEST_BUCKET, TEST_CREDENTIALS, TEST_REGION, new_s3_store


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[SQLiteConfig]:
    config = SQLiteConfig(tmp_path / "live" / "chainwatch.sqlite3")
    database = PiccoloDatabase(config)
    await database.start()
    await database.migrate()
    await backup_data.fill(database)
    yield config
    await database.stop()


async def status(
    backups: BackupWatchSettings | None,
    role: Role = Role.ADMIN,
    *,
    s3: S3Settings | None = None,
    key: str | None = None,
) -> httpx.Response:
    """The answer to an admin's (or ``role``'s; ``key`` instead, when given) request for
    the status, from a new app with ``backups``."""
    container: Container = bootstrap_in_memory(
        clock=SystemClock(), passwords=CHEAP_PASSWORDS, bootstrap_model=False
    )
    _, issued = await user_with_key(container, role)
    app = create_app(container, backups=backups, s3=s3)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with running(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/api/v1/backups/status", headers={"X-API-Key": key or issued})


def body(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_verify_records_its_verdict_and_the_status_shows_it(
    source: SQLiteConfig, tmp_path: Path
) -> None:
    folder = LocalFolderBlobStore(tmp_path / "backups")
    target = BackupWatchSettings(url=folder.uri)
    an_hour_ago = ManualClock(start=SystemClock().now() - timedelta(hours=1), step=timedelta(0))
    good = await back_up(source, folder, an_hour_ago, models=NO_MODELS)  # ids sort by time
    report = await verify(folder, good.backup_id, source)
    passed = load_verification(folder, good.backup_id)
    assert passed is not None
    assert (passed.outcome, passed.tables, passed.rows) == ("passed", report.tables, report.rows)

    answer = body(await status(target))
    assert (answer["configured"], answer["target"], answer["complete_backups"]) == (
        True,
        folder.uri,
        1,
    )
    newest = answer["newest"]
    assert newest["backup_id"] == good.backup_id
    assert newest["age_seconds"] >= 3600
    assert newest["verification"]["outcome"] == "passed"
    assert newest["verification"]["rows"] == good.total_rows
    assert answer["newest_verified"] == newest

    # A newer backup whose data file is damaged: verify fails, and says so in the record.
    bad = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    data = folder.root / bad.data_key
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(BackupCorrupt) as failure:
        await verify(folder, None, source)
    failed = load_verification(folder, bad.backup_id)
    assert failed is not None
    assert (failed.outcome, failed.detail, failed.rows) == ("failed", failure.value.message, None)

    answer = body(await status(target))
    assert answer["newest"]["backup_id"] == bad.backup_id
    assert answer["newest"]["verification"]["outcome"] == "failed"
    assert "truncated" in answer["newest"]["verification"]["detail"]
    assert answer["newest_verified"]["backup_id"] == good.backup_id


async def test_a_store_that_refuses_the_record_does_not_fail_the_verification(
    source: SQLiteConfig, tmp_path: Path
) -> None:
    folder = LocalFolderBlobStore(tmp_path / "backups")
    manifest = await back_up(source, folder, SystemClock(), models=NO_MODELS)
    (folder.root / verification_key(manifest.backup_id)).mkdir()  # the file cannot be written
    said: list[str] = []
    await verify(folder, manifest.backup_id, source, progress=said.append)
    assert any(line.startswith("warning: the verification result could not") for line in said)


async def test_without_a_backup_target_the_status_says_it_is_not_configured() -> None:
    answer = body(await status(None))
    assert answer == {
        "configured": False,
        "target": None,
        "checked_at": None,
        "complete_backups": 0,
        "newest": None,
        "newest_verified": None,
    }


async def test_only_admins_read_the_backup_status(tmp_path: Path) -> None:
    target = BackupWatchSettings(url=tmp_path.as_uri())
    for role in (Role.ANALYST, Role.VIEWER, Role.SERVICE):
        refused = await status(target, role)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "read-backups" in refused.json()["detail"]
    anonymous = await status(target, key="cw_nope_nope")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")


async def test_an_unreadable_backup_target_is_a_503_problem(
    s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in TEST_CREDENTIALS.items():  # the tests' own, for the app's S3 client
        monkeypatch.setenv(name, value)
    new_s3_store(s3_server)
    with faulty_s3(s3_server) as proxy:
        target = BackupWatchSettings(url=f"s3://{TEST_BUCKET}/backups")
        s3 = S3Settings(region=TEST_REGION, endpoint_url=proxy.url)
        assert body(await status(target, s3=s3))["complete_backups"] == 0  # it reads it
        proxy.fail_when = lambda request: "error" if request.method == "GET" else None
        answer = await status(target, s3=s3)
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "Retry-After" in answer.headers
    assert "S3 could not" in answer.json()["detail"]
