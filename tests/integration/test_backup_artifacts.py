"""Model artifacts in backups (SQLite source, folder target): listed in the manifest with
their sha256 and size, checked by ``verify`` and ``restore``, and what happens when one is
damaged, missing, or was never in the model store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.clock import SystemClock
from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from domain.model import ModelStatus
from domain.services.artifacts import artifact_uri_for, content_artifact_key, store_artifact
from ops.backup import back_up
from ops.catalogue import stored_backups
from ops.errors import BackupCorrupt, BackupFailed, VerificationFailed
from ops.manifest import Manifest, manifest_key
from ops.prune import prune
from ops.restore import restore
from ops.verify import verify
from tests.builders import a_model, a_model_version
from tests.integration import backup_data

SERVING = b"artifact of the active version" * 50
OLD = b"artifact of a retired version" * 50


@pytest.fixture
def models(tmp_path: Path) -> LocalFolderBlobStore:
    return LocalFolderBlobStore(tmp_path / "models")


@pytest.fixture
def backups(tmp_path: Path) -> LocalFolderBlobStore:
    return LocalFolderBlobStore(tmp_path / "backups")


async def _add_versions(
    database: PiccoloDatabase, models: LocalFolderBlobStore, *, old_artifact: bool = True
) -> None:
    """An active version (artifact stored by content) and a retired one whose artifact
    sits under an old-style ``models/<name>/<version>.pyod`` key (or nowhere)."""
    model = a_model(name="kept")
    key, digest = store_artifact(models, SERVING)
    active = a_model_version(
        model,
        2,
        status=ModelStatus.ACTIVE,
        traffic_weight=100,
        artifact_uri=artifact_uri_for(models, key),
        artifact_sha256=digest,
    )
    if old_artifact:
        models.put("models/kept/1.pyod", OLD)
    retired = a_model_version(
        model,
        1,
        status=ModelStatus.RETIRED,
        artifact_uri=artifact_uri_for(models, "models/kept/1.pyod"),
        artifact_sha256=hashlib.sha256(OLD).hexdigest(),
    )
    async with database.uow() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(retired)
        await uow.models.add_version(active)
        await uow.commit()


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[tuple[SQLiteConfig, PiccoloDatabase]]:
    config = SQLiteConfig(tmp_path / "live" / "chainwatch.sqlite3")
    database = PiccoloDatabase(config)
    await database.start()
    await database.migrate()
    await backup_data.fill(database)
    yield config, database
    await database.stop()


async def test_the_manifest_lists_every_referenced_artifact_with_its_sha256_and_size(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
) -> None:
    config, database = source
    await _add_versions(database, models)

    manifest = await back_up(config, backups, SystemClock(), models=models)

    document = json.loads(backups.get(manifest_key(manifest.backup_id)))
    assert document["manifest_version"] == 2
    listed = {entry["sha256"]: entry for entry in document["artifacts"]}
    assert listed.keys() == {hashlib.sha256(SERVING).hexdigest(), hashlib.sha256(OLD).hexdigest()}
    serving = listed[hashlib.sha256(SERVING).hexdigest()]
    assert serving["size"] == len(SERVING)
    assert serving["versions"] == [{"model": "kept", "version": 2, "status": "active"}]
    assert backups.get(serving["key"]) == SERVING
    assert document["missing_artifacts"] == []
    assert Manifest.from_json(
        backups.get(manifest_key(manifest.backup_id)), manifest.backup_id
    ) == (manifest)
    report = await verify(backups, manifest.backup_id, config)
    assert report.artifacts == 2


async def test_restore_writes_old_style_artifacts_by_content_too(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
    tmp_path: Path,
) -> None:
    config, database = source
    await _add_versions(database, models)
    manifest = await back_up(config, backups, SystemClock(), models=models)

    elsewhere = LocalFolderBlobStore(tmp_path / "elsewhere")
    target = SQLiteConfig(tmp_path / "restored.sqlite3")
    report = await restore(backups, manifest.backup_id, target, models=elsewhere)

    assert (report.artifacts.written, report.artifacts.present) == (2, 0)
    assert elsewhere.get(content_artifact_key(hashlib.sha256(OLD).hexdigest())) == OLD
    assert elsewhere.get(content_artifact_key(hashlib.sha256(SERVING).hexdigest())) == SERVING


async def test_a_corrupted_artifact_in_the_backup_fails_verify_and_restore(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
    tmp_path: Path,
) -> None:
    config, database = source
    await _add_versions(database, models)
    manifest = await back_up(config, backups, SystemClock(), models=models)
    entry = next(e for e in manifest.artifacts if e.versions[0].status == "active")
    backups.put(entry.key, SERVING.replace(b"active", b"evil!!"))  # same size, other bytes

    with pytest.raises(BackupCorrupt) as failure:
        await verify(backups, manifest.backup_id, config)
    message = str(failure.value)
    assert f"backup {manifest.backup_id} is corrupt: artifact {entry.key}" in message
    assert "kept v2 (active)" in message
    assert f"the manifest records {entry.sha256}" in message

    target = SQLiteConfig(tmp_path / "never" / "restored.sqlite3")
    elsewhere = LocalFolderBlobStore(tmp_path / "elsewhere")
    with pytest.raises(BackupCorrupt):
        await restore(backups, manifest.backup_id, target, models=elsewhere)
    assert not target.path.exists()
    assert elsewhere.list() == []


async def test_an_artifact_missing_from_the_backup_fails_verify(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
) -> None:
    config, database = source
    await _add_versions(database, models)
    manifest = await back_up(config, backups, SystemClock(), models=models)
    backups.delete(manifest.artifacts[0].key)

    with pytest.raises(BackupCorrupt, match=r"is incomplete: artifact .* is missing"):
        await verify(backups, manifest.backup_id, config)


async def test_a_manifest_that_leaves_out_a_referenced_artifact_fails_verify(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
) -> None:
    config, database = source
    await _add_versions(database, models)
    manifest = await back_up(config, backups, SystemClock(), models=models)
    kept = tuple(e for e in manifest.artifacts if e.versions[0].status != "active")
    backups.put(manifest_key(manifest.backup_id), replace(manifest, artifacts=kept).to_json())

    with pytest.raises(VerificationFailed) as failure:
        await verify(backups, manifest.backup_id, config)
    assert "kept v2 (active) references artifact" in str(failure.value)
    assert "which the backup does not hold" in str(failure.value)


async def test_a_serving_version_whose_artifact_is_gone_fails_the_backup_and_keeps_nothing(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
) -> None:
    config, database = source
    await _add_versions(database, models)
    models.delete(content_artifact_key(hashlib.sha256(SERVING).hexdigest()))

    with pytest.raises(BackupFailed) as failure:
        await back_up(config, backups, SystemClock(), models=models)
    message = str(failure.value)
    assert "the artifact of kept v2 (active) cannot be backed up" in message
    assert "a restore could not serve it" in message
    assert "nothing of it was kept" in message
    assert backups.list() == []


async def test_a_retired_version_whose_artifact_is_gone_is_recorded_as_missing(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
) -> None:
    config, database = source
    await _add_versions(database, models, old_artifact=False)
    said: list[str] = []

    manifest = await back_up(config, backups, SystemClock(), said.append, models=models)

    (missing,) = manifest.missing_artifacts
    assert missing.sha256 == hashlib.sha256(OLD).hexdigest()
    assert [str(v) for v in missing.versions] == ["kept v1 (retired)"]
    assert "not found" in missing.reason
    assert any(line.startswith("warning: artifact of kept v1 (retired) left out") for line in said)
    assert len(manifest.artifacts) == 1
    await verify(backups, manifest.backup_id, config)  # known and not serving: accepted


async def test_prune_removes_a_backup_with_its_artifacts(
    source: tuple[SQLiteConfig, PiccoloDatabase],
    models: LocalFolderBlobStore,
    backups: LocalFolderBlobStore,
) -> None:
    config, database = source
    await _add_versions(database, models)
    first = await back_up(config, backups, SystemClock(), models=models)
    second = await back_up(config, backups, SystemClock(), models=models)
    assert [b.backup_id for b in stored_backups(backups)] == sorted(
        [first.backup_id, second.backup_id]
    )
    (older, newer) = stored_backups(backups)
    assert older.complete
    assert len(older.keys) == 4  # manifest, data file, two artifacts

    report = prune(backups, 0, SystemClock().now())

    assert [b.backup_id for b in report.removed] == [older.backup_id]
    assert {info.key for info in backups.list()} == set(newer.keys)
    assert not (backups.root / f"{older.backup_id}.artifacts").exists()
