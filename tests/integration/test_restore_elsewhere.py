"""A restore on another machine serves: back up a database that scores with a trained
model, restore it into an empty database with a fresh data directory (so an empty model
store), start the app there, and the same transactions get the same scores.

Both engines (SQLite, PostgreSQL) into both kinds of backup target (folder, S3 on moto).
Each side is configured as ``chainwatch serve`` is (``load_settings`` + ``bootstrap``);
only the secret key is carried over, as an operator must (it is not in backups)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.synthetic import generate_stream
from domain.model import Role, Transaction
from domain.services import lifecycle
from domain.services.imports import import_transactions
from domain.services.registry import create_model, train_version
from domain.services.training_data import StoredTransactions
from domain.services.users import create_user, issue_api_key
from entrypoints.bootstrap import bootstrap, model_store
from entrypoints.http import create_app
from entrypoints.settings import Settings, load_settings
from ops import postgres
from ops.backup import back_up
from ops.restore import restore
from ops.verify import verify
from ports import TimeRange
from ports.blobs import BlobStore
from tests.backends import (
    admin_url,
    create_scratch_postgres,
    drop_scratch_postgres,
    postgres_config,
    run_in_thread,
    url_of_database,
)
from tests.s3 import new_s3_store

SECRET_KEY = "restore-elsewhere-test-secret-key-" + "k" * 32
MODEL = "restorable"
HISTORY = generate_stream(1_500, seed=41).transactions
SCORED_BEFORE = generate_stream(40, seed=42).transactions  # scored at the source, backed up
SCORED_AFTER = generate_stream(40, seed=43).transactions  # first scored after the backup


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    environ = {
        "CHAINWATCH_DATA_DIR": str(data_dir),
        "CHAINWATCH_SECRET_KEY": SECRET_KEY,
        # Nothing may hide a model that fails to load by training a new one.
        "CHAINWATCH_BOOTSTRAP_MODEL": "false",
    }
    if database_url is not None:
        environ["DATABASE_URL"] = database_url
    return load_settings(environ)


async def _trained_source(settings: Settings) -> str:
    """Migrate, store the history, train and activate a model, issue a service key."""
    container = bootstrap(settings)
    await container.database.start()
    try:
        await container.database.migrate()
        services = container.services
        await import_transactions(services, HISTORY, {}, source="history", actor=None)
        await create_model(services, MODEL, "iforest", actor=None)
        source = StoredTransactions(TimeRange())
        await train_version(services, MODEL, source, {"n_estimators": 30}, actor=None)
        await lifecycle.activate(services, MODEL, 1, actor=None)
        user = await create_user(services, "scoring-service", Role.SERVICE, actor=None)
        return (await issue_api_key(services, user.id, actor=None)).token
    finally:
        await container.database.stop()


def _body(tx: Transaction) -> dict[str, Any]:
    return {
        "hash": tx.hash,
        "from": tx.from_address,
        "to": tx.to_address,
        "value": str(tx.value),
        "gas": tx.gas,
        "gasPrice": str(tx.gas_price),
        "gasUsed": tx.gas_used,
        "nonce": tx.nonce,
        "inputSize": tx.input_size,
        "blockNumber": tx.block_number,
        "timestamp": tx.timestamp.isoformat(),
    }


Scores = list[tuple[str, float, bool, str | None, str]]


def _scores(client: TestClient[Any], token: str, batch: list[Transaction]) -> Scores:
    response = client.post(
        "/api/v1/predict/batch",
        json={"transactions": [_body(tx) for tx in batch]},
        headers={"X-API-Key": token},
    )
    assert response.status_code == 200, response.text
    return [
        (p["hash"], p["anomaly_score"], p["is_anomaly"], p["severity"], p["model_version"])
        for p in response.json()["predictions"]
    ]


def _serve(settings: Settings) -> TestClient[Any]:
    return TestClient(create_app(bootstrap(settings)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, str | None]]:
    """(source URL, restore target URL); None: the data directory's SQLite file."""
    if request.param == "sqlite":
        yield None, None
        return
    source = run_in_thread(lambda: create_scratch_postgres("chainwatch_elsewhere_source"))
    name = f"chainwatch_elsewhere_target_{secrets.token_hex(4)}"
    try:
        yield source, url_of_database(admin_url(), name)  # restore creates it
    finally:
        run_in_thread(lambda: drop_scratch_postgres(source))
        run_in_thread(lambda: postgres.drop_database(postgres_config(admin_url()), name))


@pytest.fixture(params=["file", "s3"])
def backups(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return LocalFolderBlobStore(tmp_path / "backups")
    return new_s3_store(request.getfixturevalue("s3_server"), "nightly")


def test_a_backup_restored_on_a_fresh_machine_serves_the_same_scores(
    databases: tuple[str | None, str | None], backups: BlobStore, tmp_path: Path
) -> None:
    source_url, target_url = databases
    source = _settings(tmp_path / "source-machine", source_url)
    token = asyncio.run(_trained_source(source))
    with _serve(source) as client:
        assert client.get("/ready").status_code == 200
        before = _scores(client, token, SCORED_BEFORE)

    manifest = asyncio.run(
        back_up(source.database, backups, SystemClock(), models=model_store(source))
    )
    (listed,) = manifest.artifacts
    assert (listed.versions[0].model, listed.versions[0].status) == (MODEL, "active")
    asyncio.run(verify(backups, None, source.database))

    with _serve(source) as client:
        after_at_source = _scores(client, token, SCORED_AFTER)

    fresh = _settings(tmp_path / "fresh-machine", target_url)
    fresh_models = model_store(fresh)
    assert fresh_models.list() == []
    report = asyncio.run(restore(backups, manifest.backup_id, fresh.database, models=fresh_models))
    assert (report.artifacts.written, report.artifacts.present) == (1, 0)
    assert [info.key for info in fresh_models.list()] == [f"models/sha256/{listed.sha256}.pyod"]

    with _serve(fresh) as client:
        assert client.get("/ready").status_code == 200, client.get("/ready").text
        assert _scores(client, token, SCORED_AFTER) == after_at_source
        replayed = _scores(client, token, SCORED_BEFORE)
    assert replayed == before
    assert {score[4] for score in after_at_source} == {f"{MODEL}:1"}

    # Restoring the same backup again finds its artifact there already (by content).
    again = asyncio.run(
        restore(backups, manifest.backup_id, fresh.database, models=fresh_models, force=True)
    )
    assert (again.artifacts.written, again.artifacts.present) == (0, 1)
