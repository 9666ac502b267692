"""Contract of an all-or-nothing unit of work (the scoring hot path's), on every backend.

An adapter may hold such a unit's writes back and send them with the commit (PostgreSQL
does: one statement, ``adapters.piccolo.sql.held``), so a refused write may raise from the
write or from ``commit()`` - but always the same domain error, naming the same key, and
nothing of the unit is stored. Its own reads see its writes before the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from domain.errors import (
    DomainError,
    DuplicateRecord,
    ModelVersionNotFound,
    NotFound,
    TransactionNotFound,
)
from domain.model import Transaction
from domain.pagination import PageRequest
from ports import AuditFilter, UnitOfWork, UnitOfWorkFactory
from tests.builders import (
    a_prediction,
    a_transaction,
    an_anomaly,
    an_audit_entry,
    stored_model_version,
    stored_predictions,
)

Write = Callable[[UnitOfWork], Awaitable[object]]


async def _refusal(uow_factory: UnitOfWorkFactory, *writes: Write) -> DomainError:
    """The domain error that the writes (in this order) or the commit raised."""
    async with uow_factory() as uow:
        uow.all_or_nothing()
        try:
            for write in writes:
                await write(uow)
            await uow.commit()
        except DomainError as error:
            return error
    raise AssertionError("nothing was refused")


async def _stored(uow_factory: UnitOfWorkFactory, txs: list[Transaction]) -> int:
    async with uow_factory() as uow:
        found = await uow.transactions.get_many(tx.hash for tx in txs)
        served = await uow.predictions.served_for(tx.hash for tx in txs)
    return len(found) + len(served)


async def test_a_batch_written_whole_is_stored_and_read_back_before_the_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    txs = [a_transaction() for _ in range(3)]
    predictions = [a_prediction(tx, version) for tx in txs]
    anomalies = [an_anomaly(p) for p in predictions]
    entry = an_audit_entry()

    async with uow_factory() as uow:
        uow.all_or_nothing()
        added = await uow.transactions.add_many(txs, found_absent=True)
        await uow.predictions.add_many(predictions)
        await uow.anomalies.add_many(anomalies)
        await uow.audit.append_many([entry])
        assert set(await uow.predictions.served_for(tx.hash for tx in txs)) == {
            tx.hash for tx in txs
        }
        await uow.commit()

    assert added.inserted == tuple(tx.hash for tx in txs)
    async with uow_factory() as uow:
        flagged = await uow.anomalies.by_prediction_ids(p.id for p in predictions)
        assert sorted(a.id for a in flagged.values()) == sorted(a.id for a in anomalies)
        assert await uow.audit.find(entry.id) == entry
    assert await _stored(uow_factory, txs) == 6


async def test_an_all_or_nothing_unit_left_without_commit_stores_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    tx = a_transaction()

    async with uow_factory() as uow:
        uow.all_or_nothing()
        await uow.transactions.add_many([tx], found_absent=True)
        await uow.predictions.add_many([a_prediction(tx, version)])

    assert await _stored(uow_factory, [tx]) == 0


async def test_a_stored_audit_id_refuses_the_whole_batch_by_that_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    clash = an_audit_entry()
    async with uow_factory() as uow:
        await uow.audit.append(clash)
        await uow.commit()
    txs = [a_transaction() for _ in range(2)]

    refused = await _refusal(
        uow_factory,
        lambda uow: uow.transactions.add_many(txs, found_absent=True),
        lambda uow: uow.predictions.add_many([a_prediction(tx, version) for tx in txs]),
        lambda uow: uow.audit.append_many([an_audit_entry(), clash]),
    )

    assert isinstance(refused, DuplicateRecord)
    assert str(clash.id) in str(refused)
    assert await _stored(uow_factory, txs) == 0
    async with uow_factory() as uow:
        assert len((await uow.audit.query(AuditFilter(), PageRequest(10))).items) == 1


async def test_a_prediction_of_an_unknown_version_beside_its_new_transaction_names_the_version(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    tx = a_transaction()
    unknown = a_prediction(tx, version, model_version_id=uuid.uuid4())

    refused = await _refusal(
        uow_factory,
        lambda uow: uow.transactions.add_many([tx], found_absent=True),
        lambda uow: uow.predictions.add_many([unknown]),
    )

    assert isinstance(refused, ModelVersionNotFound)
    assert refused.key == unknown.model_version_id
    assert await _stored(uow_factory, [tx]) == 0


async def test_a_prediction_of_a_transaction_not_written_names_the_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    tx, orphan = a_transaction(), a_transaction()

    refused = await _refusal(
        uow_factory,
        lambda uow: uow.transactions.add_many([tx], found_absent=True),
        lambda uow: uow.predictions.add_many(
            [a_prediction(tx, version), a_prediction(orphan, version)]
        ),
    )

    assert isinstance(refused, TransactionNotFound)
    assert refused.key == orphan.hash
    assert await _stored(uow_factory, [tx, orphan]) == 0


@pytest.mark.parametrize("kind", ["anomaly id", "prediction id"])
async def test_a_stored_id_refuses_the_batch_by_that_id(
    uow_factory: UnitOfWorkFactory, kind: str
) -> None:
    version = await stored_model_version(uow_factory)
    (earlier,) = await stored_predictions(uow_factory, version, 1)
    stored_anomaly = an_anomaly(earlier)
    async with uow_factory() as uow:
        await uow.anomalies.add_many([stored_anomaly])
        await uow.commit()
    tx = a_transaction()
    prediction = a_prediction(tx, version)
    if kind == "prediction id":
        prediction = a_prediction(tx, version, id=earlier.id)
        anomaly = an_anomaly(prediction)
    else:
        anomaly = an_anomaly(prediction, id=stored_anomaly.id)

    refused = await _refusal(
        uow_factory,
        lambda uow: uow.transactions.add_many([tx], found_absent=True),
        lambda uow: uow.predictions.add_many([prediction]),
        lambda uow: uow.anomalies.add_many([anomaly]),
    )

    assert isinstance(refused, DuplicateRecord)
    clashing = earlier.id if kind == "prediction id" else stored_anomaly.id
    assert str(clashing) in str(refused)
    assert await _stored(uow_factory, [tx]) == 0


async def test_an_anomaly_of_a_transaction_not_written_names_the_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    (earlier,) = await stored_predictions(uow_factory, version, 1)
    tx = a_transaction()
    prediction = a_prediction(tx, version)
    stray = an_anomaly(prediction, transaction_hash=a_transaction().hash)

    refused = await _refusal(
        uow_factory,
        lambda uow: uow.transactions.add_many([tx], found_absent=True),
        lambda uow: uow.predictions.add_many([prediction]),
        lambda uow: uow.anomalies.add_many([an_anomaly(earlier), stray]),
    )

    assert isinstance(refused, NotFound)
    assert isinstance(refused, TransactionNotFound)
    assert refused.key == stray.transaction_hash
    assert await _stored(uow_factory, [tx]) == 0
