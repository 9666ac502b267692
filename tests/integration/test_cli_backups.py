"""``chainwatch backup | verify | restore | prune`` as scripts and the CronJob run them: a
subprocess each, against PostgreSQL with a folder store and SQLite with S3 (moto)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.piccolo import SQLiteConfig
from entrypoints.cli import main
from tests.backends import (
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_config,
    run_in_thread,
)
from tests.integration import backup_data
from tests.s3 import TEST_BUCKET, TEST_CREDENTIALS, new_s3_store, s3_client

CHAINWATCH = str(Path(sys.executable).parent / "chainwatch")
BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
KMS_KEY = "alias/chainwatch-backups"
ARTIFACT = b"a served model's artifact" * 1000


def run(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DATABASE_", "CHAINWATCH_", "AWS_"))
    }
    environment.update(CHAINWATCH_DATA_DIR=str(tmp_path / "data"), **variables)
    return subprocess.run(  # noqa: S603 - our own console script, fixed arguments
        [CHAINWATCH, *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_cli_backup"))
    try:
        yield url
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


@pytest.mark.postgres
def test_backup_verify_prune_of_postgresql_to_a_folder(postgres_url: str, tmp_path: Path) -> None:
    run_in_thread(lambda: backup_data.migrated_and_filled(postgres_config(postgres_url)))
    url = (tmp_path / "backups").as_uri()

    backup = run(tmp_path, "backup", "--to", url, DATABASE_URL=postgres_url)
    backup_id = succeeded(backup).splitlines()[-1]
    assert BACKUP_ID.fullmatch(backup_id), backup.stdout
    assert "backing up PostgreSQL" in backup.stderr

    verified = succeeded(
        run(tmp_path, "verify", "--from", url, "--latest", DATABASE_URL=postgres_url)
    )
    assert f"backup {backup_id} verified" in verified

    pruned = run(tmp_path, "prune", "--from", url, "--keep-days", "0", DATABASE_URL=postgres_url)
    assert succeeded(pruned) == ""  # the only backup is the newest: kept
    assert "removed 0 backup(s), kept 1" in pruned.stderr
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == [
        f"{backup_id}.manifest.json",
        f"{backup_id}.pgdump",
        f"{backup_id}.verify.json",  # what verify found, for GET /api/v1/backups/status
    ]


def test_backup_verify_prune_of_sqlite_to_s3_then_restore(
    s3_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_in_thread(
        lambda: backup_data.migrated_filled_and_served(
            SQLiteConfig(tmp_path / "data" / "chainwatch.sqlite3"),
            LocalFolderBlobStore(tmp_path / "data" / "models"),
            ARTIFACT,
        )
    )
    new_s3_store(s3_server)  # an empty bucket
    url = f"s3://{TEST_BUCKET}/sqlite"
    s3 = {
        **TEST_CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_server,
        "CHAINWATCH_S3_SSE": "aws:kms",
        "CHAINWATCH_S3_KMS_KEY_ID": KMS_KEY,
    }

    backup_id = succeeded(run(tmp_path, "backup", "--to", url, **s3)).splitlines()[-1]
    head = s3_client(s3_server).head_object(Bucket=TEST_BUCKET, Key=f"sqlite/{backup_id}.sqlite3")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY)

    assert f"backup {backup_id} verified: " in (
        verified := succeeded(run(tmp_path, "verify", "--from", url, backup_id, **s3))
    )
    assert "and 1 model artifact(s) match its manifest" in verified
    artifact = f"sqlite/{backup_id}.artifacts/{hashlib.sha256(ARTIFACT).hexdigest()}.pyod"
    head = s3_client(s3_server).head_object(Bucket=TEST_BUCKET, Key=artifact)
    assert (head["ContentLength"], head["ServerSideEncryption"]) == (len(ARTIFACT), "aws:kms")
    dry_run = run(tmp_path, "prune", "--from", url, "--keep-days", "30", "--dry-run", **s3)
    assert succeeded(dry_run) == ""
    assert "would remove 0 backup(s), kept 1" in dry_run.stderr

    # The same surface in process (a subprocess more would only repeat the start-up).
    for name, value in {**s3, "CHAINWATCH_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    target = tmp_path / "restored.sqlite3"
    elsewhere = tmp_path / "other-models"
    code = main(
        [
            *("restore", "--from", url, backup_id, "--database-url", f"sqlite:///{target}"),
            *("--model-store", elsewhere.as_uri()),
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"restored backup {backup_id} into {target}" in out
    assert f"1 model artifact(s) written to {elsewhere.as_uri()} (0 already there)" in out
    stored = elsewhere / "models" / "sha256" / f"{hashlib.sha256(ARTIFACT).hexdigest()}.pyod"
    assert stored.read_bytes() == ARTIFACT


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(list(args))
    return code, capsys.readouterr().err.splitlines()


def test_verifying_a_backup_that_is_not_there_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINWATCH_DATA_DIR", str(tmp_path / "data"))
    for name in [n for n in os.environ if n.startswith("DATABASE_")]:
        monkeypatch.delenv(name)
    url = (tmp_path / "backups").as_uri()

    code, lines = _main(capsys, "verify", "--from", url, "20260101T000000Z-0badc0de")
    assert (code, len(lines)) == (1, 1)
    assert lines[0].startswith("chainwatch: no backup 20260101T000000Z-0badc0de in file://")

    code, lines = _main(capsys, "verify", "--from", url, "--latest")
    assert (code, lines) == (1, [f"chainwatch: no complete backup in {url}"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("backup", "--to", "/var/backups"), "file:///"),
        (("prune", "--from", "file:///tmp/x", "--keep-days", "-1"), "--keep-days"),
        (
            (
                "restore",
                "--from",
                "file:///tmp/x",
                "20260101T000000Z-0badc0de",
                "--database-url",
                "mysql://x",
            ),
            "--database-url",
        ),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    args: tuple[str, ...],
    named: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAINWATCH_DATA_DIR", str(tmp_path / "data"))
    code, lines = _main(capsys, *args)
    assert code == 2
    assert len(lines) == 1
    assert named in lines[0]
