"""``chainwatch retention plan | apply`` and ``chainwatch archive list | restore`` as an
operator (or the CronJob) runs them: a subprocess each, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.piccolo import DatabaseConfig, PiccoloDatabase, SQLiteConfig
from domain.jobs import JobStatus
from tests.backends import (
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_config,
    run_in_thread,
)
from tests.builders import a_prediction, a_transaction, stored_model_version
from tests.integration.test_cli_backups import run, succeeded

AGES_DAYS = (200, 199, 120, 3)


async def _filled(config: DatabaseConfig) -> list[str]:
    """Migrate and store one transaction and prediction at each age (from the real now:
    the CLI's clock is the system's); return the prediction ids, oldest first."""
    database = PiccoloDatabase(config)
    await database.start()
    try:
        await database.migrate()
        version = await stored_model_version(database.uow)
        now = datetime.now(UTC)
        transactions = [a_transaction(timestamp=now - timedelta(days=d)) for d in AGES_DAYS]
        predictions = [a_prediction(tx, version, created_at=tx.timestamp) for tx in transactions]
        async with database.uow() as work:
            await work.transactions.add_many(transactions)
            await work.predictions.add_many(predictions)
            await work.commit()
        return [str(prediction.id) for prediction in predictions]
    finally:
        await database.stop()


async def _prediction_ids(config: DatabaseConfig) -> set[str]:
    database = PiccoloDatabase(config)
    await database.start()
    try:
        rows = await database.engine.run_ddl("SELECT id FROM predictions")
        return {str(row["id"]) for row in rows}
    finally:
        await database.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_cli_retention"))
    try:
        yield url
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


def test_plan_apply_list_restore_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "chainwatch.sqlite3"
    config = SQLiteConfig(path)
    ids = run_in_thread(lambda: _filled(config))
    archives = (tmp_path / "archives").as_uri()
    env = {"DATABASE_URL": f"sqlite:///{path}", "CHAINWATCH_ARCHIVE_URL": archives}

    plan = succeeded(run(tmp_path, "retention", "plan", **env))
    assert "predictions: keep 90 days" in plan
    assert "3 rows in 2 unit(s)" in plan
    assert "transactions: kept forever" in plan
    document = json.loads(succeeded(run(tmp_path, "retention", "plan", "--json", **env)))
    (predictions,) = [table for table in document if table["table"] == "predictions"]
    assert [unit["rows"] for unit in predictions["units"]] == [2, 1]

    applied = run(tmp_path, "retention", "apply", **env)
    assert "2 archive(s) (0 resumed): 3 row(s) archived, 3 removed" in succeeded(applied)
    assert "verified" in applied.stderr  # progress on stderr
    assert run_in_thread(lambda: _prediction_ids(config)) == {ids[-1]}
    again = succeeded(run(tmp_path, "retention", "apply", **env))
    assert again.startswith("0 archive(s)")

    listed = succeeded(run(tmp_path, "archive", "list", **env)).splitlines()
    assert len(listed) == 2
    assert all("predictions" in line and line.endswith("deleted") for line in listed)
    oldest = listed[0].split()[0]
    restored = succeeded(run(tmp_path, "archive", "restore", oldest, **env))
    assert "2 row(s) inserted, 0 already present" in restored
    manifest = f"archives/{oldest}/manifest.json"
    twice = succeeded(run(tmp_path, "archive", "restore", manifest, **env))
    assert "0 row(s) inserted, 2 already present" in twice
    assert run_in_thread(lambda: _prediction_ids(config)) == {ids[0], ids[1], ids[-1]}


def test_bad_input_names_what_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "chainwatch.sqlite3"
    bad = run(
        tmp_path,
        "retention",
        "plan",
        DATABASE_URL=f"sqlite:///{path}",
        CHAINWATCH_RETENTION_PREDICTIONS_DAYS="soon",
    )
    assert bad.returncode == 2
    assert "CHAINWATCH_RETENTION_PREDICTIONS_DAYS" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = run(
        tmp_path, "archive", "restore", "not-an-archive", DATABASE_URL=f"sqlite:///{path}"
    )
    assert unknown.returncode == 1
    assert "not an archive id or manifest key" in unknown.stderr
    missing = run(
        tmp_path,
        "archive",
        "restore",
        "predictions-20260101T000000Z-20260201T000000Z-20261203abcdef",
        DATABASE_URL=f"sqlite:///{path}",
    )
    assert missing.returncode == 1
    assert "archive" in missing.stderr
    assert "Traceback" not in missing.stderr


async def _job_status(config: DatabaseConfig, job_id: str) -> JobStatus:
    database = PiccoloDatabase(config)
    await database.start()
    try:
        async with database.uow() as work:
            return (await work.jobs.get(uuid.UUID(job_id))).status
    finally:
        await database.stop()


@pytest.mark.postgres
def test_apply_on_postgresql_inline_and_as_a_job(postgres_url: str, tmp_path: Path) -> None:
    config = postgres_config(postgres_url)
    ids = run_in_thread(lambda: _filled(config))
    env = {"DATABASE_URL": postgres_url, "CHAINWATCH_ARCHIVE_URL": (tmp_path / "a").as_uri()}
    queued = succeeded(run(tmp_path, "retention", "apply", "--enqueue", **env)).strip()
    assert run_in_thread(lambda: _job_status(config, queued)) is JobStatus.QUEUED
    archived = succeeded(run(tmp_path, "retention", "apply", "--archive-only", **env))
    assert "3 row(s) archived (nothing removed), 0 removed" in archived
    assert len(run_in_thread(lambda: _prediction_ids(config))) == len(ids)
    applied = succeeded(run(tmp_path, "retention", "apply", **env))
    assert "2 archive(s) (2 resumed): 3 row(s) archived, 3 removed" in applied
    assert run_in_thread(lambda: _prediction_ids(config)) == {ids[-1]}
