"""The Scorer on every backend (memory | sqlite | postgres): idempotent re-scoring and
concurrent scorers of the same hash, through the real repositories."""

from __future__ import annotations

import asyncio

from adapters.memory.blobs import InMemoryBlobStore
from domain.model import ModelStatus, ModelVersion, Severity
from domain.services.artifacts import artifact_uri_for, store_artifact
from domain.services.scoring import Scorer
from entrypoints.bootstrap import services_over
from ports import AnomalyFilter, UnitOfWorkFactory
from tests.builders import a_model, a_model_version, a_transaction
from tests.clocks import ManualClock
from tests.detectors import LinearFactory

BANDS = {"threshold": 19.0, "low": 19.0, "medium": 20.0, "high": 21.0, "critical": 22.0}
FLAGGED = 10**20  # log_value 20.0: medium


async def _version(
    uow_factory: UnitOfWorkFactory,
    blobs: InMemoryBlobStore,
    status: ModelStatus = ModelStatus.ACTIVE,
    factor: float = 1.0,
) -> ModelVersion:
    model = a_model(algorithm="linear")
    key, digest = store_artifact(blobs, f'{{"factor": {factor}}}'.encode())
    version = a_model_version(
        model,
        1,
        status=status,
        traffic_weight=100 if status is ModelStatus.ACTIVE else 0,
        artifact_uri=artifact_uri_for(blobs, key),
        artifact_sha256=digest,
        thresholds=BANDS,
        feature_version=1,  # the linear detector reads feature set 1's log_value
    )
    async with uow_factory() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    return version


def _scorer(uow_factory: UnitOfWorkFactory, blobs: InMemoryBlobStore) -> Scorer:
    return Scorer(
        services_over(uow_factory, clock=ManualClock(), blobs=blobs, detectors=LinearFactory())
    )


async def test_rescoring_returns_the_stored_prediction_and_anomaly(
    uow_factory: UnitOfWorkFactory,
) -> None:
    blobs = InMemoryBlobStore()
    active = await _version(uow_factory, blobs)
    shadow = await _version(uow_factory, blobs, ModelStatus.SHADOW, factor=0.5)
    scorer = _scorer(uow_factory, blobs)
    flagged, quiet = a_transaction(value=FLAGGED), a_transaction()

    first = await scorer.score_transactions([flagged, quiet])
    again = await scorer.score_transactions([quiet, flagged])

    assert [r.replayed for r in again] == [True, True]
    assert again[1].prediction == first[0].prediction
    assert again[1].anomaly == first[0].anomaly
    assert again[1].anomaly is not None
    assert again[1].anomaly.severity is Severity.MEDIUM
    assert again[0].anomaly is None
    assert again[1].model_version.id == active.id
    async with uow_factory() as uow:
        stored = await uow.predictions.list_by_transaction(flagged.hash)
        assert await uow.anomalies.count(AnomalyFilter()) == 1
    assert sorted((p.model_version_id == shadow.id, p.served) for p in stored) == [
        (False, True),
        (True, False),
    ]


async def test_concurrent_scorers_of_one_hash_store_one_served_prediction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    blobs = InMemoryBlobStore()
    await _version(uow_factory, blobs)
    first, second = _scorer(uow_factory, blobs), _scorer(uow_factory, blobs)
    await first.refresh()
    await second.refresh()
    shared = a_transaction(value=FLAGGED)

    (one,), (other,) = await asyncio.gather(
        first.score_transactions([shared]), second.score_transactions([shared])
    )

    assert one.prediction == other.prediction
    assert sorted([one.replayed, other.replayed]) == [False, True]
    async with uow_factory() as uow:
        assert len(await uow.predictions.list_by_transaction(shared.hash)) == 1
        assert await uow.anomalies.count(AnomalyFilter()) == 1
