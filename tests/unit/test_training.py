"""Training a version: data from the store or a list, labels joined, evaluation, artifact."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pytest

from adapters.detectors import PyodDetectorFactory
from adapters.memory import InMemoryBlobStore, InMemoryDatabase
from adapters.synthetic import SyntheticStream, generate_stream
from domain.calibration import REFERENCE_KEY
from domain.errors import InvalidInput, ModelNotFound
from domain.features import FEATURE_VERSION
from domain.model import Label, LabelKind, ModelStatus
from domain.pagination import PageRequest
from domain.policies import THRESHOLD_KEYS
from domain.services import Services
from domain.services.artifacts import load_version_artifact
from domain.services.registry import check_algorithm, create_model, list_models, train_version
from domain.services.training_data import (
    GivenTransactions,
    StoredTransactions,
    gather,
    is_held_out,
)
from ports import AuditFilter, BlobInfo, BlobStore, TimeRange, UnitOfWorkFactory
from tests.builders import a_model, at
from tests.detectors import LinearFactory
from tests.services import services_for

FAST = {"n_estimators": 20}  # small forests: these tests check plumbing, not quality
DETECTORS = PyodDetectorFactory()


def _on(uow: UnitOfWorkFactory, blobs: BlobStore | None = None) -> Services:
    return services_for(uow, blobs=blobs, detectors=DETECTORS)


@pytest.fixture(scope="module")
def stream() -> SyntheticStream:
    return generate_stream(1_500, seed=7)


async def _store(uow: UnitOfWorkFactory, stream: SyntheticStream, labelled: Iterable[str]) -> None:
    async with uow() as work:
        await work.transactions.add_many(stream.transactions)
        for tx_hash in labelled:
            await work.labels.add(Label(tx_hash, stream.truth[tx_hash], "chainalysis"))
        await work.commit()


async def _model(uow: UnitOfWorkFactory, name: str = "detector") -> None:
    await create_model(_on(uow), name, "iforest", actor=None)


async def test_a_version_trained_on_stored_transactions_is_staged_with_its_artifact(
    stream: SyntheticStream,
) -> None:
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()
    progress: list[str] = []
    await _store(uow, stream, [])
    await _model(uow)

    version = await train_version(
        _on(uow, blobs),
        "detector",
        StoredTransactions(TimeRange()),
        FAST,
        actor=None,
        progress=progress.append,
    )

    assert (version.version, version.status, version.traffic_weight) == (1, ModelStatus.STAGED, 0)
    assert version.feature_version == FEATURE_VERSION
    assert version.params["n_estimators"] == 20
    assert set(version.thresholds) == {*THRESHOLD_KEYS, REFERENCE_KEY}
    assert version.artifact_sha256 is not None
    key = f"models/sha256/{version.artifact_sha256}.pyod"
    assert version.artifact_uri == f"{blobs.uri}/{key}"
    artifact = blobs.get(key)
    assert version.artifact_sha256 == hashlib.sha256(artifact).hexdigest()
    assert load_version_artifact(blobs, version) == artifact
    metrics = version.metrics
    assert metrics["evaluation"] == "score-statistics"
    assert metrics["supervised"] is False
    assert metrics["training_rows"] + metrics["held_out_rows"] == len(stream.transactions)
    assert 0.1 < metrics["held_out_rows"] / len(stream.transactions) < 0.3
    assert 0.0 <= metrics["flagged_share"] <= 0.05
    assert metrics["score_p50"] <= metrics["score_p95"] <= metrics["score_p99"]
    # Calibrated: held-out rows like the training rows score like quantiles of them.
    assert metrics["alert_share"] == 0.01
    assert 0.3 < metrics["score_p50"] < 0.7 < metrics["score_p95"] <= 1.0
    async with uow() as work:
        assert await work.models.get_version("detector", 1) == version
        audit = await work.audit.query(AuditFilter(action="model_version.train"), PageRequest())
    assert audit.items[0].resource == "models/detector/versions/1"
    assert any("training iforest" in line for line in progress)


async def test_labels_of_stored_transactions_make_training_supervised_and_evaluated(
    stream: SyntheticStream,
) -> None:
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()
    await _store(uow, stream, stream.truth)  # every row labelled
    await _model(uow)

    version = await train_version(
        _on(uow, blobs),
        "detector",
        StoredTransactions(TimeRange()),
        FAST,
        actor=None,
        holdout=0.4,
    )

    metrics = version.metrics
    assert metrics["supervised"] is True
    assert metrics["evaluation"] == "labelled"
    assert metrics["held_out_fraud"] >= 5
    assert metrics["roc_auc"] > 0.8
    assert 0.0 <= metrics["average_precision"] <= 1.0
    assert 0.0 <= metrics["precision_at_1pct"] <= 1.0


async def test_a_time_range_selects_the_transactions_trained_on(stream: SyntheticStream) -> None:
    uow = InMemoryDatabase().uow
    await _store(uow, stream, [])
    middle = stream.transactions[-200].timestamp
    period = TimeRange(until=middle)

    data = await gather(services_for(uow), StoredTransactions(period))

    expected = [tx for tx in stream.transactions if tx.timestamp < middle]
    assert data.rows == len(expected) > 1_000  # more than one page of the repository
    assert len(data.held_out.rows) == round(0.2 * len(expected))


async def test_the_newest_rows_are_held_out_and_the_older_ones_trained_on(
    stream: SyntheticStream,
) -> None:
    uow = InMemoryDatabase().uow
    ordered = sorted(stream.transactions, key=lambda tx: (tx.timestamp, tx.hash))
    newest = {tx.hash for tx in ordered[-round(0.25 * len(ordered)) :]}
    # Fraud marks the newest quarter, so each side's labels say where its rows came from.
    truth = {
        tx.hash: LabelKind.FRAUD if tx.hash in newest else LabelKind.LEGITIMATE
        for tx in stream.transactions
    }
    await _store(uow, SyntheticStream(stream.transactions, truth), truth)

    data = await gather(services_for(uow), StoredTransactions(TimeRange()), holdout=0.25)

    assert data.held_out.labels == [True] * len(newest)
    assert data.train.labels == [False] * (len(ordered) - len(newest))


async def test_given_transactions_train_with_their_labels_and_stored_labels_win(
    stream: SyntheticStream,
) -> None:
    uow = InMemoryDatabase().uow
    first = stream.transactions[0]
    await _store(uow, SyntheticStream([first], {first.hash: stream.truth[first.hash]}), [])
    async with uow() as work:
        await work.labels.add(
            Label(first.hash, LabelKind.FRAUD, "analyst-review", created_at=at(1))
        )
        await work.commit()
    given = {tx.hash: stream.truth[tx.hash] for tx in stream.transactions[:400]}
    given[first.hash] = LabelKind.LEGITIMATE

    data = await gather(
        services_for(uow), GivenTransactions(stream.transactions, given), holdout=0.0
    )

    assert data.rows == len(stream.transactions)
    assert data.train.labels[0] is True  # the stored label beat the given one
    assert sum(1 for label in data.train.labels if label is not None) == 400


async def test_versions_are_numbered_one_after_another(stream: SyntheticStream) -> None:
    # A deterministic detector: pyod's forests may differ in the last bits of a float
    # between two fits (threaded reductions), and this test is about numbering and storage.
    uow, blobs = InMemoryDatabase().uow, InMemoryBlobStore()
    services = services_for(uow, blobs=blobs, detectors=LinearFactory())
    await create_model(services, "detector", "linear", actor=None)
    source = GivenTransactions(stream.transactions[:300])
    versions = []
    for expected in (1, 2):
        version = await train_version(services, "detector", source, {}, actor=None)
        assert version.version == expected
        versions.append(version)
    # Trained alike on the same rows, both versions have the same bytes: stored once.
    assert versions[0].artifact_uri == versions[1].artifact_uri
    assert [info.key for info in blobs.list("models/")] == [
        f"models/sha256/{versions[0].artifact_sha256}.pyod"
    ]
    (overview,) = await list_models(services_for(uow))
    assert [v.version for v in overview.versions] == [1, 2]


async def test_training_an_unknown_model_raises_model_not_found(stream: SyntheticStream) -> None:
    with pytest.raises(ModelNotFound):
        await train_version(
            _on(InMemoryDatabase().uow),
            "nope",
            GivenTransactions(stream.transactions[:50]),
            actor=None,
        )


async def test_training_on_nothing_is_invalid_input() -> None:
    uow = InMemoryDatabase().uow
    await _model(uow)
    with pytest.raises(InvalidInput) as refused:
        await train_version(
            _on(uow),
            "detector",
            StoredTransactions(TimeRange()),
            actor=None,
        )
    assert refused.value.field == "transactions"


async def test_bad_params_name_the_parameter_and_leave_no_version(stream: SyntheticStream) -> None:
    uow = InMemoryDatabase().uow
    await _model(uow)
    with pytest.raises(InvalidInput) as refused:
        await train_version(
            _on(uow),
            "detector",
            GivenTransactions(stream.transactions[:100]),
            {"n_estimators": "many"},
            actor=None,
        )
    assert refused.value.field == "params.n_estimators"
    (overview,) = await list_models(services_for(uow))
    assert overview.versions == []


class _FullDisk(InMemoryBlobStore):
    def put(self, key: str, data: bytes) -> BlobInfo:
        raise OSError(28, "No space left on device")


async def test_a_failed_artifact_write_leaves_the_reserved_version_retired(
    stream: SyntheticStream,
) -> None:
    uow = InMemoryDatabase().uow
    await _model(uow)
    with pytest.raises(OSError, match="No space"):
        await train_version(
            _on(uow, _FullDisk()),
            "detector",
            GivenTransactions(stream.transactions[:200]),
            FAST,
            actor=None,
        )
    (overview,) = await list_models(services_for(uow))
    (version,) = overview.versions
    assert version.status is ModelStatus.RETIRED
    assert "No space" in version.metrics["failed"]
    assert version.artifact_sha256 is None


async def test_a_model_of_an_algorithm_the_detectors_do_not_know_is_refused() -> None:
    uow = InMemoryDatabase().uow
    with pytest.raises(InvalidInput) as refused:
        await create_model(_on(uow), "m", "crystal-ball", actor=None)
    assert refused.value.field == "algorithm"
    assert await list_models(services_for(uow)) == []


def test_a_model_trains_only_its_own_algorithm() -> None:
    model = a_model(algorithm="iforest")
    check_algorithm(model, None)
    check_algorithm(model, " IForest ")
    with pytest.raises(InvalidInput) as refused:
        check_algorithm(model, "ecod")
    assert refused.value.field == "algorithm"


def test_a_stored_training_period_must_end_after_it_starts() -> None:
    StoredTransactions(TimeRange(at(0), at(1)))
    StoredTransactions(TimeRange(until=at(0)))
    for until in (at(0), at(-1)):
        with pytest.raises(InvalidInput) as refused:
            StoredTransactions(TimeRange(at(0), until))
        assert refused.value.field == "until"


def test_the_held_out_side_of_a_transaction_never_changes() -> None:
    hashes = [tx.hash for tx in generate_stream(2_000, seed=3).transactions]
    first = [is_held_out(h, 0.2) for h in hashes]
    assert first == [is_held_out(h, 0.2) for h in hashes]
    assert 0.15 < sum(first) / len(first) < 0.25
    assert not any(is_held_out(h, 0.0) for h in hashes)
