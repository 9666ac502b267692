"""domain.services.scoring: the Scorer on the in-memory fakes.

Most tests use a tiny deterministic detector (score = the first feature times a factor:
``log_value`` in feature set 1, so versions default to feature set 1) so that which
transactions are flagged is obvious; one test runs the real pyod factory end to end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.detectors import PyodDetectorFactory
from adapters.memory import InMemoryDatabase
from adapters.memory.blobs import InMemoryBlobStore
from domain.calibration import REFERENCE_KEY, ScoreReference
from domain.errors import ArtifactIntegrityError, DuplicateRecord, Unavailable
from domain.explanations import Contribution
from domain.features import FEATURE_VERSION, SUPPORTED_FEATURE_VERSIONS, feature_rows
from domain.model import (
    AuditLog,
    ModelStatus,
    ModelVersion,
    Outcome,
    Prediction,
    Severity,
    Transaction,
)
from domain.pagination import Page, PageRequest
from domain.policies import AlertBudget, assign_version, severity_thresholds
from domain.services.artifacts import artifact_key_of, artifact_uri_for, store_artifact
from domain.services.scoring import ScoredTransaction, Scorer
from ports import AnomalyFilter, AuditFilter, TimeRange, UnitOfWork
from ports.detector import DetectorFactory, ExplainedScores, FeatureRows, TrainingSet
from tests.builders import a_model, a_model_version, a_transaction, at
from tests.clocks import ManualClock
from tests.detectors import LinearFactory
from tests.services import services_for

# log_value of a transfer: 10**18 wei -> 18.0 (normal), 10**20 -> 20.0 (flagged, medium).
# Raw floors, as versions trained before calibrated scores have them.
BANDS = {"threshold": 19.0, "low": 19.0, "medium": 20.0, "high": 21.0, "critical": 22.0}
# A calibrated version's reference: log_value scores 0.00 to 19.99, so one ether (18.0) is
# higher than about 90% of it, and 10**20 wei (20.0) higher than all of it.
REFERENCE = {REFERENCE_KEY: ScoreReference.of([i / 100 for i in range(2_000)]).to_json()}
NORMAL = 10**18
SUSPICIOUS = 10**20


@dataclass
class World:
    detectors: DetectorFactory = field(default_factory=LinearFactory)
    database: InMemoryDatabase = field(default_factory=InMemoryDatabase)
    blobs: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    clock: ManualClock = field(default_factory=ManualClock)
    model_number: int = 0

    def scorer(self, alerts: AlertBudget | None = None) -> Scorer:
        services = services_for(
            self.database.uow, self.clock, blobs=self.blobs, detectors=self.detectors
        )
        return Scorer(services if alerts is None else dataclasses.replace(services, alerts=alerts))

    async def version(
        self,
        status: ModelStatus = ModelStatus.ACTIVE,
        weight: int = 100,
        factor: float = 1.0,
        artifact: bytes | None = None,
        **overrides: Any,
    ) -> ModelVersion:
        """A stored model with one version whose artifact is in the blob store."""
        self.model_number += 1
        model = a_model(name=f"linear-{self.model_number}", algorithm="linear")
        data = artifact if artifact is not None else json.dumps({"factor": factor}).encode()
        key, digest = store_artifact(self.blobs, data)
        fields: dict[str, Any] = {
            "status": status,
            "traffic_weight": weight if status is ModelStatus.ACTIVE else 0,
            "artifact_uri": artifact_uri_for(self.blobs, key),
            "artifact_sha256": digest,
            "thresholds": BANDS,
            "feature_version": 1,
        }
        fields.update(overrides)
        version = a_model_version(model, 1, **fields)
        async with self.database.uow() as uow:
            await uow.models.add_model(model)
            await uow.models.add_version(version)
            await uow.commit()
        return version

    async def predictions(self, tx: Transaction) -> list[Any]:
        async with self.database.uow() as uow:
            return await uow.predictions.list_by_transaction(tx.hash)

    async def stored(self, tx: Transaction) -> Transaction:
        async with self.database.uow() as uow:
            return await uow.transactions.get(tx.hash)


@pytest.fixture
def world() -> World:
    return World()


async def test_a_batch_is_stored_with_one_served_prediction_each_and_anomalies_for_flagged(
    world: World,
) -> None:
    version = await world.version()
    scorer = world.scorer()
    await scorer.refresh()
    normal, suspicious = a_transaction(value=NORMAL), a_transaction(value=SUSPICIOUS)

    results = await scorer.score_transactions([normal, suspicious])

    assert [r.transaction.hash for r in results] == [normal.hash, suspicious.hash]
    assert all(r.model_version.id == version.id and not r.replayed for r in results)
    quiet, flagged = results
    assert (quiet.prediction.score, quiet.prediction.is_anomaly, quiet.anomaly) == (
        18.0,
        False,
        None,
    )
    assert flagged.prediction.is_anomaly
    assert flagged.prediction.served
    assert flagged.anomaly is not None
    assert flagged.anomaly.severity is Severity.MEDIUM
    assert flagged.anomaly.prediction_id == flagged.prediction.id
    assert flagged.prediction.created_at == flagged.anomaly.detected_at
    assert flagged.prediction.latency_ms >= 0.0
    assert await world.predictions(normal) == [quiet.prediction]
    assert await world.stored(suspicious) == suspicious
    async with world.database.uow() as uow:
        assert await uow.anomalies.get(flagged.anomaly.id) == flagged.anomaly


async def test_a_calibrated_version_reports_quantiles_and_severities_by_the_budget(
    world: World,
) -> None:
    await world.version(thresholds=REFERENCE)
    scorer = world.scorer()
    await scorer.refresh()

    quiet, flagged = await scorer.score_transactions(
        [a_transaction(value=NORMAL), a_transaction(value=SUSPICIOUS)]
    )

    assert quiet.prediction.score == pytest.approx(0.9, abs=0.001)
    assert (quiet.prediction.is_anomaly, quiet.anomaly) == (False, None)
    assert (flagged.prediction.score, flagged.prediction.is_anomaly) == (1.0, True)
    assert flagged.anomaly is not None
    assert (flagged.anomaly.score, flagged.anomaly.severity) == (1.0, Severity.CRITICAL)


async def test_the_alert_budget_of_the_services_decides_what_alerts(world: World) -> None:
    await world.version(thresholds=REFERENCE)
    scorer = world.scorer(alerts=AlertBudget.of(0.25))  # medium: the top 12.5%
    await scorer.refresh()

    (result,) = await scorer.score_transactions([a_transaction(value=NORMAL)])

    assert result.prediction.is_anomaly
    assert result.anomaly is not None
    assert result.anomaly.severity is Severity.MEDIUM


async def test_a_version_with_a_malformed_reference_is_not_served(world: World) -> None:
    await world.version(thresholds={REFERENCE_KEY: {"levels": [0.0, 1.0], "scores": [1.0]}})
    with pytest.raises(Unavailable, match="unusable thresholds"):
        await world.scorer().refresh()


async def test_resubmitting_returns_the_stored_prediction_and_duplicates_nothing(
    world: World,
) -> None:
    await world.version()
    scorer = world.scorer()
    tx = a_transaction(value=SUSPICIOUS)
    (first,) = await scorer.score_transactions([tx])

    (again,) = await scorer.score_transactions([tx])
    fresh = a_transaction(value=NORMAL)
    mixed = await scorer.score_transactions([fresh, tx])

    assert again.replayed
    assert not first.replayed
    assert (again.prediction, again.anomaly) == (first.prediction, first.anomaly)
    assert [r.replayed for r in mixed] == [False, True]
    assert mixed[1].prediction == first.prediction
    assert await world.predictions(tx) == [first.prediction]
    async with world.database.uow() as uow:
        assert await uow.anomalies.count(_everything()) == 1


async def test_a_hash_repeated_in_one_batch_is_scored_once(world: World) -> None:
    await world.version()
    tx = a_transaction()

    results = await world.scorer().score_transactions([tx, tx, tx])

    assert [r.replayed for r in results] == [False, True, True]
    assert len({r.prediction.id for r in results}) == 1
    assert len(await world.predictions(tx)) == 1


async def test_a_single_transaction_is_a_batch_of_one(world: World) -> None:
    await world.version()
    (result,) = await world.scorer().score_transactions([a_transaction(value=SUSPICIOUS)])
    assert result.anomaly is not None
    assert not result.replayed


async def test_traffic_is_split_between_active_versions_by_hash(world: World) -> None:
    heavy = await world.version(weight=70)
    light = await world.version(weight=30, factor=2.0)
    scorer = world.scorer()
    batch = [a_transaction() for _ in range(200)]

    results = await scorer.score_transactions(batch)

    weights = {heavy.id: 70, light.id: 30}
    for tx, result in zip(batch, results, strict=True):
        assert result.model_version.id == assign_version(tx.hash, weights)
        assert result.prediction.model_version_id == result.model_version.id
    used = [r.model_version.id for r in results]
    assert 100 < used.count(heavy.id) < 180
    for tx in batch[:20]:
        assert len(await world.predictions(tx)) == 1


async def test_shadow_versions_score_everything_but_serve_and_flag_nothing(
    world: World,
) -> None:
    active = await world.version()
    shadow = await world.version(status=ModelStatus.SHADOW, factor=10.0)
    tx = a_transaction(value=NORMAL)

    (result,) = await world.scorer().score_transactions([tx])

    assert result.model_version.id == active.id
    assert result.anomaly is None
    stored = {p.model_version_id: p for p in await world.predictions(tx)}
    assert set(stored) == {active.id, shadow.id}
    assert not stored[shadow.id].served
    assert stored[shadow.id].is_anomaly  # 180.0 is far above the bands...
    async with world.database.uow() as uow:
        assert await uow.anomalies.count(_everything()) == 0  # ...but shadows never alert


async def test_served_and_shadow_predictions_keep_why_they_scored_so(world: World) -> None:
    await world.version()
    shadow = await world.version(status=ModelStatus.SHADOW, factor=10.0)
    tx = a_transaction(value=NORMAL)

    (result,) = await world.scorer().score_transactions([tx])

    # The linear double's reason is all log_value (feature set 1's first feature).
    assert result.prediction.contributions == (Contribution("log_value", 18.0),)
    stored = {p.model_version_id: p for p in await world.predictions(tx)}
    assert stored[result.prediction.model_version_id] == result.prediction
    assert stored[shadow.id].contributions == (Contribution("log_value", 180.0),)


class _Unexplaining(LinearFactory):
    def load(self, artifact: bytes) -> Any:
        inner = super().load(artifact)

        class Detector:
            score = inner.score

            def score_explained(self, rows: FeatureRows) -> ExplainedScores:
                return ExplainedScores(inner.score(rows), [[math.nan] for _ in rows])

        return Detector()


async def test_a_version_that_explains_with_non_finite_numbers_is_unavailable() -> None:
    world = World(detectors=_Unexplaining())
    await world.version()

    with pytest.raises(Unavailable, match="explained its scores wrongly"):
        await world.scorer().score_transactions([a_transaction()])
    async with world.database.uow() as uow:
        assert await uow.predictions.list_by_time(TimeRange(), PageRequest()) == Page([], None)


async def test_without_an_active_version_scoring_is_unavailable(world: World) -> None:
    await world.version(status=ModelStatus.SHADOW)
    scorer = world.scorer()
    await scorer.refresh()

    assert not scorer.ready
    with pytest.raises(Unavailable, match="no active model version"):
        await scorer.score_transactions([a_transaction()])
    async with world.database.uow() as uow:
        assert await uow.transactions.get_many([]) == {}


async def test_an_active_version_without_traffic_does_not_serve(world: World) -> None:
    await world.version(weight=0)
    scorer = world.scorer()
    await scorer.refresh()
    assert not scorer.ready
    with pytest.raises(Unavailable):
        await scorer.score_transactions([a_transaction()])


async def test_a_tampered_artifact_keeps_the_previous_serving_set(world: World) -> None:
    first = await world.version()
    scorer = world.scorer()
    await scorer.refresh()
    second = await world.version(factor=2.0)
    world.blobs.put(artifact_key_of(world.blobs, second.artifact_uri), b'{"factor": 99}')

    with pytest.raises(ArtifactIntegrityError, match="refusing to load"):
        await scorer.refresh()

    assert scorer.ready
    assert [v.id for v in scorer.serving_versions] == [first.id]
    (result,) = await scorer.score_transactions([a_transaction()])
    assert result.model_version.id == first.id != second.id


async def test_a_version_trained_on_another_feature_set_is_not_served(world: World) -> None:
    await world.version(feature_version=max(SUPPORTED_FEATURE_VERSIONS) + 1)
    with pytest.raises(Unavailable, match="feature set"):
        await world.scorer().refresh()


async def test_each_version_is_fed_the_feature_set_it_was_trained_on(world: World) -> None:
    # The linear detector scores the first column: log_value (18.0 for one ether) in
    # feature set 1, is_zero_value (0.0) in feature set 2.
    old = await world.version(feature_version=1)
    new = await world.version(status=ModelStatus.SHADOW, feature_version=2)
    scorer = world.scorer()
    await scorer.refresh()
    tx = a_transaction(value=NORMAL)

    (result,) = await scorer.score_transactions([tx])

    assert (result.model_version.id, result.prediction.score) == (old.id, 18.0)
    shadow = [p for p in await world.predictions(tx) if not p.served]
    assert [(p.model_version_id, p.score) for p in shadow] == [(new.id, 0.0)]


async def test_refresh_loads_only_new_or_changed_artifacts(world: World) -> None:
    await world.version()
    scorer = world.scorer()
    await scorer.refresh()
    await scorer.refresh()
    await world.version(status=ModelStatus.SHADOW)
    await scorer.refresh()

    assert isinstance(world.detectors, LinearFactory)
    assert world.detectors.loads == 2
    assert len(scorer.serving_versions) == 2


async def test_reload_refreshes_a_loaded_serving_set_and_leaves_an_unloaded_one(
    world: World,
) -> None:
    first = await world.version()
    scorer = world.scorer()
    await scorer.reload()  # nothing loaded yet: the first scoring loads the set
    assert scorer.serving_versions == []
    await scorer.refresh()
    shadow = await world.version(ModelStatus.SHADOW)
    await scorer.reload()
    assert [v.id for v in scorer.serving_versions] == [first.id, shadow.id]


async def test_scoring_runs_in_a_worker_thread(world: World) -> None:
    await world.version()
    await world.scorer().score_transactions([a_transaction()])
    assert isinstance(world.detectors, LinearFactory)
    assert world.detectors.threads
    assert threading.get_ident() not in world.detectors.threads


async def test_a_stored_but_unscored_transaction_is_scored_as_stored(world: World) -> None:
    await world.version()
    ingested = a_transaction(value=SUSPICIOUS)
    async with world.database.uow() as uow:
        await uow.transactions.add_many([ingested])
        await uow.commit()
    resubmitted = dataclasses.replace(ingested, value=NORMAL, ingested_at=at(999))

    (result,) = await world.scorer().score_transactions([resubmitted])

    assert not result.replayed
    assert result.transaction == ingested
    assert result.anomaly is not None  # scored on the stored value, not the resubmitted one
    assert len(await world.predictions(ingested)) == 1


async def test_concurrent_scorers_of_the_same_hash_store_one_prediction(world: World) -> None:
    await world.version()
    first, second = world.scorer(), world.scorer()
    tx = a_transaction(value=SUSPICIOUS)

    results = await asyncio.gather(first.score_transactions([tx]), second.score_transactions([tx]))

    (one,), (other,) = results
    assert one.prediction == other.prediction
    assert sorted([one.replayed, other.replayed]) == [False, True]
    assert len(await world.predictions(tx)) == 1
    async with world.database.uow() as uow:
        assert await uow.anomalies.count(_everything()) == 1


async def test_a_replay_reports_the_version_that_served_even_if_since_retired(
    world: World,
) -> None:
    old = await world.version()
    scorer = world.scorer()
    tx = a_transaction()
    await scorer.score_transactions([tx])
    async with world.database.uow() as uow:
        stored = await uow.models.get_version_by_id(old.id)
        stored.change_status(ModelStatus.RETIRED)
        await uow.models.update_version(stored)
        await uow.commit()
    await world.version()
    await scorer.refresh()

    (again,) = await scorer.score_transactions([tx])

    assert again.replayed
    assert again.model_version.id == old.id
    assert again.model_version.status is ModelStatus.RETIRED


async def test_the_real_pyod_detector_scores_end_to_end() -> None:
    world = World(detectors=PyodDetectorFactory())
    rng = random.Random(5)
    history = [
        a_transaction(
            value=int(10 ** rng.gauss(18, 0.5)),
            gas_price=int(10 ** rng.gauss(10.4, 0.2)),
            timestamp=at(rng.randrange(86_400)),
        )
        for _ in range(300)
    ]
    trained = world.detectors.train(
        "iforest", {"n_estimators": 50}, TrainingSet(feature_rows(history), [None] * 300)
    )
    bands = severity_thresholds(trained.training_scores, 0.01)
    await world.version(
        artifact=trained.artifact, thresholds=bands, feature_version=FEATURE_VERSION
    )
    scorer = world.scorer()
    await scorer.refresh()
    assert scorer.ready

    # Shaped like the history (amounts with many significant digits): feature set 3 reads
    # the decimal shape of the amounts, so a round 1 ether would stand out from it.
    typical = a_transaction(value=int(10**18.05), gas_price=int(10**10.4), timestamp=at(3600))
    outsized = a_transaction(value=10**25, gas_price=9_000 * 10**9, to_address=None)
    results = await scorer.score_transactions([typical, outsized])

    assert results[0].anomaly is None
    assert results[1].anomaly is not None
    assert results[1].prediction.score > results[0].prediction.score
    assert results[1].anomaly.severity.rank >= Severity.LOW.rank


async def test_audit_rows_built_from_the_results_are_committed_with_the_predictions(
    world: World,
) -> None:
    await world.version()
    txs = [a_transaction(value=NORMAL), a_transaction(value=SUSPICIOUS)]
    seen: list[list[str]] = []

    def audit(results: Sequence[ScoredTransaction]) -> list[AuditLog]:
        seen.append([r.transaction.hash for r in results])
        flagged = sum(1 for r in results if r.anomaly is not None)
        return [_row(details={"count": len(results), "anomalies": flagged})]

    await world.scorer().score_transactions([*txs, txs[0]], audit=audit)

    assert seen == [[txs[0].hash, txs[1].hash, txs[0].hash]]
    (row,) = await _audit_rows(world)
    assert row.details == {"count": 3, "anomalies": 1}
    assert [len(await world.predictions(tx)) for tx in txs] == [1, 1]


async def test_a_failing_audit_write_rolls_back_the_predictions_too(world: World) -> None:
    await world.version()
    taken = _row()
    async with world.database.uow() as uow:
        await uow.audit.append(taken)
        await uow.commit()
    tx = a_transaction()

    with pytest.raises(DuplicateRecord):
        await world.scorer().score_transactions([tx], audit=lambda _: [_row(), taken])

    assert await world.predictions(tx) == []
    async with world.database.uow() as uow:
        assert await uow.transactions.get_many([tx.hash]) == {}
    assert [row.id for row in await _audit_rows(world)] == [taken.id]


async def test_a_failing_prediction_write_stores_no_audit_row(world: World) -> None:
    await world.version()
    tx = a_transaction()

    def failing_uow() -> UnitOfWork:
        work = world.database.uow()
        add_many = work.predictions.add_many

        async def add_then_fail(predictions: Sequence[Prediction]) -> None:
            await add_many(predictions)
            raise RuntimeError("the database went away")

        work.predictions.add_many = add_then_fail  # type: ignore[method-assign]
        return work

    scorer = Scorer(
        services_for(failing_uow, world.clock, blobs=world.blobs, detectors=world.detectors)
    )
    with pytest.raises(RuntimeError, match="went away"):
        await scorer.score_transactions([tx], audit=lambda _: [_row()])

    assert await world.predictions(tx) == []
    assert await _audit_rows(world) == []


async def test_a_batch_of_replays_still_commits_its_audit_rows(world: World) -> None:
    await world.version()
    scorer = world.scorer()
    tx = a_transaction()
    await scorer.score_transactions([tx])

    (again,) = await scorer.score_transactions([tx], audit=lambda results: [_row()])

    assert again.replayed
    assert len(await _audit_rows(world)) == 1
    assert len(await world.predictions(tx)) == 1


def _row(details: dict[str, Any] | None = None) -> AuditLog:
    return AuditLog(
        action="transaction.predict_batch",
        resource="transactions",
        outcome=Outcome.SUCCESS,
        details=details or {},
        timestamp=at(0),
    )


async def _audit_rows(world: World) -> list[AuditLog]:
    async with world.database.uow() as uow:
        return (await uow.audit.query(AuditFilter(), PageRequest())).items


def _everything() -> AnomalyFilter:
    return AnomalyFilter()


def test_the_linear_double_honours_the_detector_factory_port() -> None:
    factory: DetectorFactory = LinearFactory()
    trained = factory.train("linear", {"factor": 2.0}, TrainingSet([[3.0]], [None]))
    assert factory.load(trained.artifact).score([[4.0]]) == [8.0]
    explained = factory.load(trained.artifact).score_explained([[4.0, 1.0]])
    assert explained == ExplainedScores([8.0], [[8.0, 0.0]])
