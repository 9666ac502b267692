"""Contract of ``ModelRepository``: models, version numbering, status and traffic updates."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain.errors import (
    DuplicateModel,
    DuplicateModelVersion,
    ModelNotFound,
    ModelVersionNotFound,
    NotFound,
)
from domain.model import Model, ModelStatus, ModelVersion
from ports import UnitOfWorkFactory
from tests.builders import a_model, a_model_version, at, unique_name

SHA = "ab" * 32


async def _stored_model(uow_factory: UnitOfWorkFactory, **overrides: object) -> Model:
    model = a_model(**overrides)
    async with uow_factory() as uow:
        await uow.models.add_model(model)
        await uow.commit()
    return model


async def _stored_versions(
    uow_factory: UnitOfWorkFactory, *versions: ModelVersion
) -> list[ModelVersion]:
    async with uow_factory() as uow:
        for version in versions:
            await uow.models.add_version(version)
        await uow.commit()
    return list(versions)


async def test_a_stored_model_reads_back_by_name(uow_factory: UnitOfWorkFactory) -> None:
    model = await _stored_model(uow_factory, description="ünïcode — and a long story " * 10)

    async with uow_factory() as uow:
        assert await uow.models.get_model(model.name) == model


async def test_get_model_raises_model_not_found_for_an_unknown_name(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ModelNotFound):
            await uow.models.get_model(unique_name("missing"))


async def test_a_model_name_can_be_taken_only_once(uow_factory: UnitOfWorkFactory) -> None:
    model = await _stored_model(uow_factory, algorithm="iforest")

    async with uow_factory() as uow:
        with pytest.raises(DuplicateModel):
            await uow.models.add_model(a_model(name=model.name.upper(), algorithm="hbos"))

    async with uow_factory() as uow:
        assert (await uow.models.get_model(model.name)).algorithm == "iforest"


async def test_models_are_listed_by_name(uow_factory: UnitOfWorkFactory) -> None:
    for name in ("zeta", "alpha", "mu"):
        await _stored_model(uow_factory, name=name)

    async with uow_factory() as uow:
        assert [m.name for m in await uow.models.list_models()] == ["alpha", "mu", "zeta"]


async def test_a_stored_version_reads_back_field_for_field(uow_factory: UnitOfWorkFactory) -> None:
    model = await _stored_model(uow_factory)
    version = a_model_version(
        model,
        3,
        status=ModelStatus.ACTIVE,
        traffic_weight=70,
        artifact_sha256=SHA,
        feature_version=2,
        params={"n_estimators": 200, "contamination": 0.01, "nested": {"list": [1, 2.5, None]}},
        metrics={"auc": 0.91},
        thresholds={"high": 0.8, "critical": 0.95},
        trained_at=at(-3600),
    )
    await _stored_versions(uow_factory, version)

    async with uow_factory() as uow:
        assert await uow.models.get_version(model.name, 3) == version
        assert await uow.models.get_version_by_id(version.id) == version


async def test_a_version_of_an_unknown_model_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ModelNotFound):
            await uow.models.add_version(a_model_version(a_model()))


async def test_a_version_number_is_taken_only_once_per_model(
    uow_factory: UnitOfWorkFactory,
) -> None:
    model, other = await _stored_model(uow_factory), await _stored_model(uow_factory)
    await _stored_versions(uow_factory, a_model_version(model, 1, artifact_uri="file:///first"))

    async with uow_factory() as uow:
        with pytest.raises(DuplicateModelVersion):
            await uow.models.add_version(a_model_version(model, 1, artifact_uri="file:///second"))

    await _stored_versions(uow_factory, a_model_version(other, 1))
    async with uow_factory() as uow:
        assert (await uow.models.get_version(model.name, 1)).artifact_uri == "file:///first"
        assert (await uow.models.get_version(other.name, 1)).model_id == other.id


async def test_missing_versions_raise_not_found(uow_factory: UnitOfWorkFactory) -> None:
    model = await _stored_model(uow_factory)

    async with uow_factory() as uow:
        with pytest.raises(ModelVersionNotFound):
            await uow.models.get_version(model.name, 1)
        with pytest.raises(NotFound):
            await uow.models.get_version(unique_name("missing"), 1)
        with pytest.raises(ModelVersionNotFound):
            await uow.models.get_version_by_id(uuid.uuid4())
        with pytest.raises(ModelNotFound):
            await uow.models.list_versions(unique_name("missing"))


async def test_versions_are_listed_by_number(uow_factory: UnitOfWorkFactory) -> None:
    model, other = await _stored_model(uow_factory), await _stored_model(uow_factory)
    await _stored_versions(
        uow_factory,
        *(a_model_version(model, n) for n in (10, 2, 1)),
        a_model_version(other, 5),
    )

    empty = await _stored_model(uow_factory)

    async with uow_factory() as uow:
        assert [v.version for v in await uow.models.list_versions(model.name)] == [1, 2, 10]
        assert await uow.models.list_versions(empty.name) == []


async def test_versions_by_status_span_models_ordered_by_model_then_number(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first = await _stored_model(uow_factory, id=uuid.UUID(int=1))
    second = await _stored_model(uow_factory, id=uuid.UUID(int=2))
    await _stored_versions(
        uow_factory,
        a_model_version(second, 2, status=ModelStatus.SHADOW),
        a_model_version(second, 1, status=ModelStatus.ACTIVE, traffic_weight=100),
        a_model_version(first, 3, status=ModelStatus.ACTIVE),
        a_model_version(first, 1, status=ModelStatus.RETIRED),
        a_model_version(first, 2, status=ModelStatus.STAGED),
    )

    async with uow_factory() as uow:
        serving = await uow.models.list_versions_by_status([ModelStatus.ACTIVE, ModelStatus.SHADOW])
        retired = await uow.models.list_versions_by_status({ModelStatus.RETIRED})
        none = await uow.models.list_versions_by_status([])

    assert [(v.model_id, v.version) for v in serving] == [
        (first.id, 3),
        (second.id, 1),
        (second.id, 2),
    ]
    assert [(v.model_id, v.version) for v in retired] == [(first.id, 1)]
    assert none == []


async def test_next_version_number_follows_the_highest_version(
    uow_factory: UnitOfWorkFactory,
) -> None:
    model, other = await _stored_model(uow_factory), await _stored_model(uow_factory)

    async with uow_factory() as uow:
        assert await uow.models.next_version_number(model.id) == 1
    await _stored_versions(uow_factory, a_model_version(model, 1), a_model_version(model, 5))
    await _stored_versions(uow_factory, a_model_version(other, 9))
    async with uow_factory() as uow:
        assert await uow.models.next_version_number(model.id) == 6
        assert await uow.models.next_version_number(other.id) == 10


async def test_update_version_persists_the_mutable_fields(uow_factory: UnitOfWorkFactory) -> None:
    model = await _stored_model(uow_factory)
    (version,) = await _stored_versions(uow_factory, a_model_version(model, 1, feature_version=1))

    async with uow_factory() as uow:
        loaded = await uow.models.get_version(model.name, 1)
        loaded.change_status(ModelStatus.ACTIVE)
        loaded.set_traffic_weight(25)
        loaded.artifact_uri = "s3://models/iforest/1.joblib"
        loaded.artifact_sha256 = SHA
        loaded.params = {"n_estimators": 100}
        loaded.metrics = {"precision": 0.5}
        loaded.thresholds = {"high": 0.7}
        loaded.trained_at = at(5)
        await uow.models.update_version(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.models.get_version_by_id(version.id)
    assert stored == loaded
    assert (stored.model_id, stored.version, stored.feature_version) == (model.id, 1, 1)


async def test_a_status_change_back_to_staged_clears_traffic(
    uow_factory: UnitOfWorkFactory,
) -> None:
    model = await _stored_model(uow_factory)
    (version,) = await _stored_versions(
        uow_factory, a_model_version(model, 1, status=ModelStatus.ACTIVE, traffic_weight=100)
    )

    async with uow_factory() as uow:
        loaded = await uow.models.get_version_by_id(version.id)
        loaded.change_status(ModelStatus.RETIRED)
        await uow.models.update_version(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.models.get_version_by_id(version.id)
    assert (stored.status, stored.traffic_weight) == (ModelStatus.RETIRED, 0)


async def test_update_version_raises_model_version_not_found_for_an_unknown_version(
    uow_factory: UnitOfWorkFactory,
) -> None:
    model = await _stored_model(uow_factory)

    async with uow_factory() as uow:
        with pytest.raises(ModelVersionNotFound):
            await uow.models.update_version(a_model_version(model, 1))


@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_the_serving_lock_waits_until_its_holder_commits_or_rolls_back(
    uow_factory: UnitOfWorkFactory, end: str
) -> None:
    async def take_the_lock() -> None:
        async with uow_factory() as waiter:
            await waiter.models.lock_serving()
            await waiter.rollback()

    async with uow_factory() as holder:
        await holder.models.lock_serving()
        await holder.models.lock_serving()  # taking it again in the same unit is a no-op
        waiting = asyncio.create_task(take_the_lock())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "a second unit of work took the lock while it was held"
        await (holder.commit() if end == "commit" else holder.rollback())
        await asyncio.wait_for(waiting, timeout=10)
