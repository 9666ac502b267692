"""The bulk training path (``TransactionRepository.training_columns`` + the numpy
``FeatureEngine``) gathers what the per-row reference path gathers, on every backend:
the same rows within float rounding, the same labels, the same held-out split."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import numpy as np
import pytest

from adapters.synthetic import generate_stream
from domain.model import Label, LabelKind
from domain.services.training_data import StoredTransactions, TrainingData, gather
from ports import FeatureRows, TimeRange, UnitOfWorkFactory
from tests.builders import a_transaction
from tests.services import services_for


def _rows(rows: FeatureRows) -> list[list[float]]:
    return [[float(value) for value in row] for row in rows]


def _assert_same(bulk: TrainingData, reference: TrainingData) -> None:
    for got, expected in ((bulk.train, reference.train), (bulk.held_out, reference.held_out)):
        assert list(got.labels) == list(expected.labels)
        got_rows, expected_rows = _rows(got.rows), _rows(expected.rows)
        assert len(got_rows) == len(expected_rows)
        for g, e in zip(got_rows, expected_rows, strict=True):
            assert all(
                math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(g, e, strict=True)
            ), (g, e)


@pytest.mark.parametrize("version", [1, 2, 3])
async def test_bulk_gather_equals_the_per_row_path(
    uow_factory: UnitOfWorkFactory, version: int
) -> None:
    stream = generate_stream(700, seed=11)
    # Ties on the timestamp (ordered by hash) and a contract creation with unknown gas used.
    tie = stream.transactions[0].timestamp
    extra = [a_transaction(timestamp=tie, to_address=None, gas_used=None) for _ in range(3)]
    async with uow_factory() as work:
        await work.transactions.add_many([*stream.transactions, *extra])
        frauds = [h for h, kind in stream.truth.items() if kind is LabelKind.FRAUD]
        legitimate = [h for h, kind in stream.truth.items() if kind is LabelKind.LEGITIMATE]
        for tx_hash in [*frauds, *legitimate[:100]]:
            await work.labels.add(Label(tx_hash, stream.truth[tx_hash], "chainalysis"))
        await work.labels.add(Label(extra[0].hash, LabelKind.FRAUD, "review"))
        await work.commit()
    bulk_services = services_for(uow_factory)
    assert bulk_services.features is not None
    reference_services = dataclasses.replace(bulk_services, features=None)
    times = sorted(tx.timestamp for tx in stream.transactions)
    for period in (TimeRange(), TimeRange(times[50], times[600] + timedelta(microseconds=1))):
        source = StoredTransactions(period)
        bulk = await gather(bulk_services, source, holdout=0.25, feature_version=version)
        reference = await gather(reference_services, source, holdout=0.25, feature_version=version)
        assert isinstance(bulk.train.rows, np.ndarray)  # the bulk path was taken
        assert bulk.train.fraud == reference.train.fraud
        assert bulk.train.fraud + bulk.held_out.fraud > 0
        assert len(bulk.held_out.rows) == round(0.25 * bulk.rows)
        _assert_same(bulk, reference)
