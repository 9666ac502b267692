"""Train, activate and score through the real Piccolo adapters on PostgreSQL: the models'
whole life, stored for real - artifacts on disk, predictions and anomalies in tables."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from adapters.blobs import LocalFolderBlobStore
from adapters.detectors import PyodDetectorFactory
from adapters.piccolo import PiccoloDatabase
from adapters.synthetic import generate_stream
from domain.model import ModelStatus
from domain.pagination import PageRequest
from domain.services import lifecycle
from domain.services.imports import import_transactions
from domain.services.registry import create_model, train_version
from domain.services.reviews import review_anomaly
from domain.services.scoring import Scorer
from domain.services.training_data import StoredTransactions
from entrypoints.bootstrap import wire
from ports import AnomalyFilter, TimeRange
from tests.backends import reset_database
from tests.builders import a_transaction
from tests.clocks import ManualClock

pytestmark = pytest.mark.postgres


@pytest.fixture
async def database(request: pytest.FixtureRequest) -> PiccoloDatabase:
    """The session's PostgreSQL database, emptied. Fetched from inside the event loop (as
    the contract suite does) so the loop outlives the database's pool at teardown."""
    database: PiccoloDatabase = request.getfixturevalue("postgres_database")
    await reset_database(database)
    return database


FAST = {"n_estimators": 30}
ANALYST = uuid.UUID("00000000-0000-4000-8000-0000000000aa")


async def test_a_version_trained_on_stored_rows_serves_and_its_scores_are_stored(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    blobs, detectors = LocalFolderBlobStore(tmp_path / "models"), PyodDetectorFactory()
    services = wire(database, clock=ManualClock(), blobs=blobs, detectors=detectors).services
    uow = services.uow
    history = generate_stream(2_500, seed=21)
    labels = history.sample_labels(0.3, seed=1)
    imported = await import_transactions(
        services, history.transactions, labels, source="chainalysis", actor=None
    )
    assert (imported.inserted, imported.labels) == (2_500, 750)

    await create_model(services, "pg-forest", "iforest", actor=None)
    version = await train_version(
        services, "pg-forest", StoredTransactions(TimeRange()), FAST, actor=None
    )
    assert version.metrics["training_rows"] + version.metrics["held_out_rows"] == 2_500
    assert version.metrics["supervised"] is True
    assert version.artifact_sha256 is not None
    artifact = tmp_path / "models" / "models" / "sha256" / f"{version.artifact_sha256}.pyod"
    assert artifact.is_file()

    await lifecycle.activate(services, "pg-forest", 1, actor=None)
    scorer = Scorer(services)
    await scorer.refresh()
    assert scorer.ready

    # A short stream may hold only a couple of injected cases, none in the top 1% alert
    # budget; an outsized transfer at an extreme gas price is one every version must flag.
    outsized = a_transaction(value=10**25 + 12_345, gas_price=9_000 * 10**9 + 7)
    fresh = [*generate_stream(300, seed=22).transactions, outsized]
    results = await scorer.score_transactions(fresh)

    assert [r.transaction.hash for r in results] == [tx.hash for tx in fresh]
    assert {r.model_version.id for r in results} == {version.id}
    flagged = [r for r in results if r.anomaly is not None]
    assert flagged, "some of the injected patterns must be flagged"
    async with uow() as work:
        stored = await work.predictions.list_by_transaction(fresh[0].hash)
        assert [p.id for p in stored] == [results[0].prediction.id]
        anomalies = await work.anomalies.count(AnomalyFilter(model_version_id=version.id))
        assert anomalies == len(flagged)

    # An analyst confirms one: the label lands next to the training data.
    anomaly = flagged[0].anomaly
    assert anomaly is not None
    outcome = await review_anomaly(services, anomaly.id, "confirmed", actor=ANALYST)
    async with uow() as work:
        latest = await work.labels.latest_for([anomaly.transaction_hash])
        assert latest[anomaly.transaction_hash] == outcome.label
        page = await work.anomalies.list(AnomalyFilter(), PageRequest(limit=1000))
        assert any(a.id == anomaly.id and a.status.value == "confirmed" for a in page.items)


async def test_a_retrained_version_in_shadow_scores_without_serving_then_takes_over(
    database: PiccoloDatabase, tmp_path: Path
) -> None:
    blobs, detectors = LocalFolderBlobStore(tmp_path / "models"), PyodDetectorFactory()
    services = wire(database, clock=ManualClock(), blobs=blobs, detectors=detectors).services
    uow = services.uow
    history = generate_stream(1_200, seed=31)
    await import_transactions(services, history.transactions, {}, source="chainalysis", actor=None)
    await create_model(services, "pg-shadow", "iforest", actor=None)
    for _ in range(2):
        await train_version(
            services, "pg-shadow", StoredTransactions(TimeRange()), FAST, actor=None
        )
    await lifecycle.activate(services, "pg-shadow", 1, actor=None)
    await lifecycle.shadow(services, "pg-shadow", 2, actor=None)

    scorer = Scorer(services)
    await scorer.refresh()
    batch = generate_stream(20, seed=32).transactions
    await scorer.score_transactions(batch)
    async with uow() as work:
        predictions = await work.predictions.list_by_transaction(batch[0].hash)
    assert sorted(p.served for p in predictions) == [False, True]

    await lifecycle.activate(services, "pg-shadow", 2, actor=None)
    await lifecycle.rollback(services, "pg-shadow", actor=None)
    async with uow() as work:
        versions = await work.models.list_versions("pg-shadow")
    assert [(v.status, v.traffic_weight) for v in versions] == [
        (ModelStatus.ACTIVE, 100),
        (ModelStatus.RETIRED, 0),
    ]
