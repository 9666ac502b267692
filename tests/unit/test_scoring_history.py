"""The Scorer feeds feature set 4 versions the senders' histories: stored ones, read in its
short read only when a serving version needs them, plus the batch's own earlier rows."""

from __future__ import annotations

import json
import math

import pytest

from adapters.detectors import PyodDetectorFactory
from adapters.memory import InMemoryDatabase, InMemoryTransactionRepository
from adapters.memory.blobs import InMemoryBlobStore
from adapters.synthetic import generate_stream
from domain.errors import InvalidInput
from domain.features import feature_names, feature_rows
from domain.history import HistoryPoint, SenderActivity
from domain.model import ModelStatus, Transaction
from domain.services import lifecycle
from domain.services.artifacts import artifact_uri_for, store_artifact
from domain.services.imports import import_transactions
from domain.services.registry import create_model, train_version
from domain.services.scoring import Scorer
from domain.services.training_data import StoredTransactions
from ports import TimeRange
from tests.builders import a_model, a_model_version, a_transaction, at, random_address
from tests.clocks import ManualClock
from tests.detectors import LinearFactory
from tests.services import services_for

SENT_LAST_HOUR = feature_names(4).index("log_sent_last_hour")
DETECTORS = PyodDetectorFactory()
NEVER = {"threshold": 1e9, "low": 1e9, "medium": 2e9, "high": 3e9, "critical": 4e9}


async def _scorer(database: InMemoryDatabase, feature_version: int, column: int) -> Scorer:
    """A scorer serving one version whose score is feature ``column`` of its set."""
    blobs = InMemoryBlobStore()
    model = a_model(algorithm="linear")
    artifact = json.dumps({"factor": 1.0, "column": column}).encode()
    key, digest = store_artifact(blobs, artifact)
    version = a_model_version(
        model,
        status=ModelStatus.ACTIVE,
        traffic_weight=100,
        artifact_uri=artifact_uri_for(blobs, key),
        artifact_sha256=digest,
        thresholds=NEVER,
        feature_version=feature_version,
    )
    async with database.uow() as uow:
        await uow.models.add_model(model)
        await uow.models.add_version(version)
        await uow.commit()
    services = services_for(database.uow, ManualClock(), blobs=blobs, detectors=LinearFactory())
    return Scorer(services)


async def test_a_batch_counts_stored_sends_and_its_own_earlier_ones_from_the_same_sender() -> None:
    database = InMemoryDatabase()
    sender = random_address()
    earlier = [a_transaction(from_address=sender, timestamp=at(i)) for i in range(3)]
    async with database.uow() as uow:
        await uow.transactions.add_many(earlier)
        await uow.commit()
    scorer = await _scorer(database, 4, SENT_LAST_HOUR)
    batch = [a_transaction(from_address=sender, timestamp=at(100 + i)) for i in range(3)]
    other = a_transaction(timestamp=at(101))

    results = await scorer.score_transactions([batch[2], other, batch[0], batch[1]])

    scores = {r.transaction.hash: r.prediction.score for r in results}
    assert [scores[tx.hash] for tx in batch] == [math.log10(1 + n) for n in (3, 4, 5)]
    assert scores[other.hash] == 0.0


async def test_the_scores_equal_the_training_sweep_over_what_was_stored() -> None:
    database = InMemoryDatabase()
    senders = [random_address() for _ in range(3)]
    rows = [
        a_transaction(from_address=senders[i % 3], to_address=senders[(i + 1) % 3], timestamp=at(i))
        for i in range(30)
    ]
    scorer = await _scorer(database, 4, SENT_LAST_HOUR)
    scored: dict[str, float] = {}
    for start in range(0, len(rows), 7):  # several batches, in time order
        for result in await scorer.score_transactions(rows[start : start + 7]):
            scored[result.transaction.hash] = result.prediction.score

    swept = feature_rows(rows, 4)
    assert [scored[tx.hash] for tx in rows] == [row[SENT_LAST_HOUR] for row in swept]


async def test_no_history_is_read_when_no_serving_version_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def refuse(
        self: InMemoryTransactionRepository, points: object
    ) -> dict[HistoryPoint, SenderActivity]:
        raise AssertionError("sender history read for a feature set that does not use it")

    monkeypatch.setattr(InMemoryTransactionRepository, "sender_activity", refuse)
    database = InMemoryDatabase()
    scorer = await _scorer(database, 3, 0)
    tx: Transaction = a_transaction()

    [result] = await scorer.score_transactions([tx])

    assert result.prediction.score == 0.0  # is_zero_value of a 1 ether transfer


async def test_a_version_trained_on_feature_set_4_records_it_and_scores_with_history() -> None:
    database = InMemoryDatabase()
    stream = generate_stream(1_500, seed=3)
    services = services_for(database.uow, blobs=InMemoryBlobStore(), detectors=DETECTORS)
    await import_transactions(services, stream.transactions[:1_200], {}, source="t", actor=None)
    await create_model(services, "with-history", "ecod", actor=None)

    version = await train_version(
        services,
        "with-history",
        StoredTransactions(TimeRange()),
        actor=None,
        feature_version=4,
    )
    await lifecycle.activate(services, "with-history", version.version, actor=None)
    results = await Scorer(services).score_transactions(stream.transactions[1_200:])

    assert version.feature_version == 4
    assert version.metrics["features"] == list(feature_names(4))
    assert len(results) == 300
    assert all(r.model_version.feature_version == 4 for r in results)
    with pytest.raises(InvalidInput):
        await train_version(
            services, "with-history", StoredTransactions(TimeRange()), actor=None, feature_version=9
        )
