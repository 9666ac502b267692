"""A first model without set-up: trained and activated only when nothing is active."""

from __future__ import annotations

import asyncio

from adapters.detectors import PyodDetectorFactory
from adapters.memory import InMemoryBlobStore, InMemoryDatabase
from adapters.synthetic import generate_stream
from domain.model import ModelStatus, Transaction
from domain.services.bootstrap_model import BOOTSTRAP_MODEL, ensure_active_model
from domain.services.registry import list_models
from entrypoints.serving import bootstrap_stream
from ports import UnitOfWorkFactory
from tests.services import services_for

DETECTORS = PyodDetectorFactory()
ROWS = generate_stream(400, seed=9).transactions


def _rows() -> list[Transaction]:
    return ROWS


async def _ensure(uow: UnitOfWorkFactory, blobs: InMemoryBlobStore) -> object:
    return await ensure_active_model(
        services_for(uow, blobs=blobs, detectors=DETECTORS), _rows, actor=None
    )


async def test_with_nothing_active_the_bootstrap_model_is_trained_and_serves_everything() -> None:
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()

    version = await ensure_active_model(
        services_for(uow, blobs=blobs, detectors=DETECTORS), _rows, actor=None
    )

    assert version is not None
    assert (version.version, version.status, version.traffic_weight) == (
        1,
        ModelStatus.ACTIVE,
        100,
    )
    (overview,) = await list_models(services_for(uow))
    assert overview.model.name == BOOTSTRAP_MODEL == "bootstrap-tails"
    assert overview.model.algorithm == "tails"
    assert "synthetic" in overview.model.description
    assert [info.key for info in blobs.list("models/")] == [
        f"models/sha256/{version.artifact_sha256}.pyod"
    ]


async def test_with_a_version_active_nothing_is_trained() -> None:
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()
    await _ensure(uow, blobs)
    calls: list[int] = []

    def rows() -> list[Transaction]:
        calls.append(1)
        return ROWS

    assert (
        await ensure_active_model(
            services_for(uow, blobs=blobs, detectors=DETECTORS), rows, actor=None
        )
        is None
    )
    assert calls == []
    (overview,) = await list_models(services_for(uow))
    assert len(overview.versions) == 1


async def test_after_the_bootstrap_version_was_retired_a_new_one_is_trained() -> None:
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()
    await _ensure(uow, blobs)
    async with uow() as work:
        (active,) = await work.models.list_versions_by_status([ModelStatus.ACTIVE])
        active.change_status(ModelStatus.RETIRED)
        await work.models.update_version(active)
        await work.commit()

    version = await ensure_active_model(
        services_for(uow, blobs=blobs, detectors=DETECTORS), _rows, actor=None
    )

    assert version is not None
    assert version.version == 2
    (overview,) = await list_models(services_for(uow))
    assert [(v.version, v.status) for v in overview.versions] == [
        (1, ModelStatus.RETIRED),
        (2, ModelStatus.ACTIVE),
    ]


def test_the_bootstrap_stream_covers_every_hour_and_rows_with_and_without_gas_used() -> None:
    # What /predict receives at any time of day, in any client shape, must not lie
    # outside what the bootstrap model learnt (issue 10: every ordinary payment critical).
    rows = bootstrap_stream()
    assert {tx.timestamp.hour for tx in rows} == set(range(24))
    assert (rows[-1].timestamp - rows[0].timestamp).days >= 6
    known = sum(1 for tx in rows if tx.gas_used is not None) / len(rows)
    assert 0.3 < known < 0.7


async def test_callers_racing_on_an_empty_store_train_once_and_the_rest_wait_for_it() -> None:
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()
    services = services_for(uow, blobs=blobs, detectors=DETECTORS)

    results = await asyncio.gather(
        *(ensure_active_model(services, _rows, actor=None) for _ in range(3))
    )

    assert sorted(r is None for r in results) == [False, True, True]
    (overview,) = await list_models(services_for(uow))
    assert [v.version for v in overview.versions] == [1]
