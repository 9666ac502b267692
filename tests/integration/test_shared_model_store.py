"""Two databases sharing one model store (two services started with the default data
folder's store, say) each train their own bootstrap v1: artifacts are stored by content,
so neither overwrites the other and both keep serving - before and after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from adapters.blobs import LocalFolderBlobStore
from adapters.detectors import PyodDetectorFactory
from adapters.piccolo import PiccoloDatabase, SQLiteConfig
from adapters.synthetic import generate_stream
from domain.model import ModelVersion, Transaction
from domain.services.bootstrap_model import BOOTSTRAP_MODEL, ensure_active_model
from entrypoints.bootstrap import Container, wire
from tests.builders import a_transaction


def _stream(seed: int) -> Callable[[], Sequence[Transaction]]:
    return lambda: generate_stream(1_000, seed=seed).transactions


async def _bootstrapped(database: PiccoloDatabase, store: LocalFolderBlobStore, seed: int) -> None:
    await database.start()
    await database.migrate()
    container = wire(database, blobs=store, detectors=PyodDetectorFactory())
    version = await ensure_active_model(container.services, _stream(seed), actor=None)
    assert version is not None
    assert version.version == 1
    await database.stop()


async def _serving(database: PiccoloDatabase, store: LocalFolderBlobStore) -> ModelVersion:
    """Start a fresh container (a restarted server) and score one transaction."""
    container: Container = wire(database, blobs=store, detectors=PyodDetectorFactory())
    await database.start()
    try:
        await container.scorer.refresh()
        (result,) = await container.scorer.score_transactions([a_transaction()])
        return result.model_version
    finally:
        await database.stop()


async def _run(tmp_path: Path) -> None:
    store = LocalFolderBlobStore(tmp_path / "shared-models")
    first = PiccoloDatabase(SQLiteConfig(tmp_path / "one" / "chainwatch.sqlite3"))
    second = PiccoloDatabase(SQLiteConfig(tmp_path / "two" / "chainwatch.sqlite3"))
    # Different training data, so their bootstrap v1 artifacts differ.
    await _bootstrapped(first, store, seed=1)
    await _bootstrapped(second, store, seed=2)

    one, two = await _serving(first, store), await _serving(second, store)

    assert (one.version, two.version) == (1, 1)
    assert one.artifact_sha256 != two.artifact_sha256
    assert one.artifact_uri != two.artifact_uri
    assert sorted(info.key for info in store.list()) == sorted(
        f"models/sha256/{sha}.pyod" for sha in (one.artifact_sha256, two.artifact_sha256)
    )
    assert not store.list(f"models/{BOOTSTRAP_MODEL}/")


def test_two_databases_sharing_a_model_store_each_train_bootstrap_v1_and_both_serve(
    tmp_path: Path,
) -> None:
    asyncio.run(_run(tmp_path))
