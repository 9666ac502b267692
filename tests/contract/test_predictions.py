"""Contract of ``PredictionRepository``."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import DuplicateRecord, NotFound, TransactionNotFound
from domain.explanations import Contribution
from domain.model import ModelVersion, Prediction, Transaction
from domain.pagination import PageRequest
from ports import TimeRange, UnitOfWorkFactory
from tests.builders import (
    a_prediction,
    a_transaction,
    at,
    collect_pages,
    random_hash,
    stored_model_version,
    stored_predictions,
    stored_transactions,
)


def _newest_first(predictions: list[Prediction]) -> list[uuid.UUID]:
    ordered = sorted(predictions, key=lambda p: (p.created_at, str(p.id)), reverse=True)
    return [p.id for p in ordered]


async def test_predictions_read_back_oldest_first_per_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    shadow_version = await stored_model_version(uow_factory)
    tx, other = await stored_transactions(uow_factory, a_transaction(), a_transaction())
    later = a_prediction(tx, version, created_at=at(2), score=0.1, is_anomaly=False)
    earlier = a_prediction(
        tx, shadow_version, created_at=at(1), score=-3.5e-7, served=False, latency_ms=12.75
    )
    elsewhere = a_prediction(other, version)

    async with uow_factory() as uow:
        await uow.predictions.add_many([later, earlier, elsewhere])
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.predictions.list_by_transaction(tx.hash) == [earlier, later]
        assert await uow.predictions.list_by_transaction(other.hash) == [elsewhere]


async def test_contributions_read_back_exactly_and_in_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    why = (
        Contribution("log_value_ether", 6.125),
        Contribution("log_gas_price_gwei", -2.0000000000000004),
        Contribution("value_trailing_zeros", 1e-300),
    )
    explained = a_prediction(tx, version, contributions=why)
    nothing_to_say = a_prediction(tx, version, created_at=at(1), served=False, contributions=())

    async with uow_factory() as uow:
        await uow.predictions.add_many([explained, nothing_to_say])
        await uow.commit()

    async with uow_factory() as uow:
        listed = await uow.predictions.list_by_transaction(tx.hash)
        served = await uow.predictions.served_for([tx.hash])
        by_time = await uow.predictions.list_by_time(TimeRange(), PageRequest(limit=10))
    assert [p.contributions for p in listed] == [why, ()]
    assert served[tx.hash].contributions == why
    assert {p.id: p.contributions for p in by_time.items} == {
        explained.id: why,
        nothing_to_say.id: (),
    }


async def test_a_prediction_stored_without_contributions_reads_back_none(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    older = a_prediction(tx, version)  # as stored before contributions were recorded
    assert older.contributions is None

    async with uow_factory() as uow:
        await uow.predictions.add_many([older])
        await uow.commit()

    async with uow_factory() as uow:
        (read,) = await uow.predictions.list_by_transaction(tx.hash)
    assert read.contributions is None
    assert read == older


async def test_a_transaction_without_predictions_lists_none(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.predictions.list_by_transaction(random_hash()) == []


async def test_a_prediction_for_an_unknown_transaction_is_refused_with_nothing_stored(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (known,) = await stored_transactions(uow_factory, a_transaction())
    valid = a_prediction(known, version)
    orphan = a_prediction(a_transaction(), version)

    async with uow_factory() as uow:
        with pytest.raises(TransactionNotFound):
            await uow.predictions.add_many([valid, orphan])

    async with uow_factory() as uow:
        assert await uow.predictions.list_by_transaction(known.hash) == []


async def test_a_prediction_for_an_unknown_model_version_is_refused(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    orphan = a_prediction(tx, version, model_version_id=uuid.uuid4())

    async with uow_factory() as uow:
        with pytest.raises(NotFound):
            await uow.predictions.add_many([orphan])


async def test_a_prediction_id_can_be_stored_only_once(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    (prediction,) = await stored_predictions(uow_factory, version, 1, score=0.5)
    retried = a_prediction(
        await _transaction_of(uow_factory, prediction), version, id=prediction.id, score=0.9
    )

    async with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            await uow.predictions.add_many([retried])

    async with uow_factory() as uow:
        stored = await uow.predictions.list_by_transaction(prediction.transaction_hash)
    assert stored == [prediction]


async def test_list_by_time_is_newest_first_and_half_open(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    made = []
    for seconds in (0, 10, 10, 10, 20, 30):
        made += await stored_predictions(uow_factory, version, 1, created_at=at(seconds))

    async with uow_factory() as uow:
        everything = await uow.predictions.list_by_time(TimeRange(), PageRequest(100))
        window = await uow.predictions.list_by_time(TimeRange(at(10), at(30)), PageRequest(100))

    assert [p.id for p in everything.items] == _newest_first(made)
    in_window = [p for p in made if at(10) <= p.created_at < at(30)]
    assert [p.id for p in window.items] == _newest_first(in_window)
    assert len(in_window) == 4


async def test_predictions_page_through_shared_instants_exactly_once(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    made = await stored_predictions(uow_factory, version, 5, created_at=at(1))
    made += await stored_predictions(uow_factory, version, 4, created_at=at(1.5))

    async with uow_factory() as uow:
        pages = await collect_pages(
            lambda request: uow.predictions.list_by_time(TimeRange(), request), 2
        )
    assert [p.id for page in pages for p in page] == _newest_first(made)


async def _transaction_of(uow_factory: UnitOfWorkFactory, prediction: Prediction) -> Transaction:
    async with uow_factory() as uow:
        return await uow.transactions.get(prediction.transaction_hash)


async def test_served_for_returns_the_served_prediction_of_each_scored_hash_only(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    shadow_version = await stored_model_version(uow_factory)
    scored, shadowed_only, unscored = await stored_transactions(
        uow_factory, a_transaction(), a_transaction(), a_transaction()
    )
    served = a_prediction(scored, version, created_at=at(2))
    shadow = a_prediction(scored, shadow_version, served=False, created_at=at(1))
    only_shadow = a_prediction(shadowed_only, shadow_version, served=False)
    async with uow_factory() as uow:
        await uow.predictions.add_many([served, shadow, only_shadow])
        await uow.commit()

    wanted = [scored.hash.upper().replace("0X", "0x"), shadowed_only.hash, unscored.hash]
    async with uow_factory() as uow:
        found = await uow.predictions.served_for([*wanted, random_hash()])
        assert await uow.predictions.served_for([]) == {}

    assert found == {scored.hash: served}


async def test_served_for_picks_the_oldest_when_a_hash_was_served_twice(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    later = a_prediction(tx, version, created_at=at(5))
    first = a_prediction(tx, version, created_at=at(1))
    async with uow_factory() as uow:
        await uow.predictions.add_many([later, first])
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.predictions.served_for([tx.hash]) == {tx.hash: first}


async def test_served_for_answers_a_large_batch_in_one_call(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    made = await stored_predictions(uow_factory, version, 300)
    hashes = [p.transaction_hash for p in made] + [random_hash() for _ in range(900)]

    async with uow_factory() as uow:
        found = await uow.predictions.served_for(hashes)

    assert found == {p.transaction_hash: p for p in made}


async def _predictions_scoring(
    uow_factory: UnitOfWorkFactory, version: ModelVersion, scored: list[tuple[float, float, bool]]
) -> None:
    """One committed prediction by ``version`` per (score, seconds after T0, served)."""
    transactions = [a_transaction() for _ in scored]
    predictions = [
        a_prediction(tx, version, score=score, created_at=at(seconds), served=served)
        for tx, (score, seconds, served) in zip(transactions, scored, strict=True)
    ]
    async with uow_factory() as uow:
        await uow.transactions.add_many(transactions)
        await uow.predictions.add_many(predictions)
        await uow.commit()


async def test_a_score_histogram_counts_a_versions_window_in_half_open_bins(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    other = await stored_model_version(uow_factory)
    await _predictions_scoring(
        uow_factory,
        version,
        [
            (0.0, 10, True),  # first bin: below 0.5
            (0.4999, 10, False),  # shadow predictions count too
            (0.5, 10, True),  # an edge belongs to the bin above it
            (0.98, 20, True),
            (0.99, 30, True),
            (1.0, 30, False),
            (0.2, 9.999, True),  # before the window
        ],
    )
    await _predictions_scoring(uow_factory, other, [(0.3, 20, True)])

    async with uow_factory() as uow:
        histogram = await uow.predictions.score_histogram(version.id, at(10), (0.5, 0.99))
        everything = await uow.predictions.score_histogram(version.id, at(0), ())
        unknown = await uow.predictions.score_histogram(uuid.uuid4(), at(0), (0.5,))

    assert histogram.counts == (2, 2, 2)
    assert histogram.total == 6
    assert everything.counts == (7,)
    assert unknown.counts == (0, 0)


async def test_a_score_histogram_takes_raw_scores_of_any_sign_and_many_edges(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    scores = [-3.5e-7, 0.0, 1.5, 7.25, 7.25, 1e6]
    await _predictions_scoring(uow_factory, version, [(s, 0, True) for s in scores])
    edges = (-1.0, 0.0, 1.0, 2.0, 7.25, 100.0, 1e9)

    async with uow_factory() as uow:
        histogram = await uow.predictions.score_histogram(version.id, at(0), edges)

    assert histogram.counts == (0, 1, 1, 1, 0, 2, 1, 0)
