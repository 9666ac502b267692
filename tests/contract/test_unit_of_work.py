"""Contract of ``UnitOfWork``: commit publishes, anything else discards, on every backend."""

from __future__ import annotations

import pytest

from domain.errors import DuplicateUser, TransactionNotFound
from domain.model import Transaction
from domain.pagination import PageRequest
from ports import TimeRange, UnitOfWorkFactory
from tests.builders import a_prediction, a_transaction, a_user, stored_model_version


class Boom(Exception):
    pass


async def _exists(uow_factory: UnitOfWorkFactory, tx: Transaction) -> bool:
    async with uow_factory() as uow:
        try:
            await uow.transactions.get(tx.hash)
        except TransactionNotFound:
            return False
        return True


async def test_committed_work_is_visible_to_later_units_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction()
    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        await uow.commit()

    assert await _exists(uow_factory, tx)


async def test_work_is_visible_inside_its_own_unit_before_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction()
    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        assert await uow.transactions.get(tx.hash) == tx


async def test_leaving_without_commit_discards_the_work(uow_factory: UnitOfWorkFactory) -> None:
    tx, user = a_transaction(), a_user()
    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        await uow.users.add(user)

    assert not await _exists(uow_factory, tx)
    async with uow_factory() as uow:
        assert await uow.users.list() == []


async def test_an_exception_discards_the_work_and_propagates(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction()

    async def add_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.transactions.add_many([tx])
            raise Boom

    with pytest.raises(Boom):
        await add_then_fail()

    assert not await _exists(uow_factory, tx)


async def test_rollback_discards_the_work(uow_factory: UnitOfWorkFactory) -> None:
    tx = a_transaction()
    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        await uow.rollback()

    assert not await _exists(uow_factory, tx)


async def test_work_after_a_commit_needs_its_own_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    first, second = a_transaction(), a_transaction()
    async with uow_factory() as uow:
        await uow.transactions.add_many([first])
        await uow.commit()
        await uow.transactions.add_many([second])

    assert await _exists(uow_factory, first)
    assert not await _exists(uow_factory, second)


async def test_uncommitted_rows_show_in_their_own_listings(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction()
    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        page = await uow.transactions.list_by_time(TimeRange(), PageRequest(5))
    assert [row.hash for row in page.items] == [tx.hash]


async def test_a_commit_covers_every_repository_at_once(uow_factory: UnitOfWorkFactory) -> None:
    version = await stored_model_version(uow_factory)
    tx, user = a_transaction(), a_user()
    async with uow_factory() as uow:
        await uow.transactions.add_many([tx])
        await uow.users.add(user)
        loaded = await uow.models.get_version_by_id(version.id)
        loaded.metrics = {"auc": 0.5}
        await uow.models.update_version(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.transactions.get(tx.hash) == tx
        assert await uow.users.get(user.id) == user
        assert (await uow.models.get_version_by_id(version.id)).metrics == {"auc": 0.5}


async def test_a_failed_write_rolls_back_the_whole_unit(uow_factory: UnitOfWorkFactory) -> None:
    tx, user = a_transaction(), a_user()
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()

    async def add_transaction_and_a_clashing_user() -> None:
        async with uow_factory() as uow:
            await uow.transactions.add_many([tx])
            await uow.users.add(a_user(username=user.username))
            await uow.commit()

    with pytest.raises(DuplicateUser):
        await add_transaction_and_a_clashing_user()

    assert not await _exists(uow_factory, tx)


async def test_uncommitted_work_is_invisible_to_a_concurrent_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    tx = a_transaction()
    async with uow_factory() as writer:
        await writer.transactions.add_many([tx])
        async with uow_factory() as reader:
            with pytest.raises(TransactionNotFound):
                await reader.transactions.get(tx.hash)
        await writer.commit()

    assert await _exists(uow_factory, tx)


async def test_a_failed_write_of_an_all_or_nothing_unit_undoes_all_its_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    version = await stored_model_version(uow_factory)
    tx = a_transaction()

    async def add_then_fail() -> None:
        async with uow_factory() as uow:
            uow.all_or_nothing()
            await uow.transactions.add_many([tx])
            await uow.predictions.add_many([a_prediction(a_transaction(), version)])

    with pytest.raises(TransactionNotFound):  # the error is still the one that explains it
        await add_then_fail()

    assert not await _exists(uow_factory, tx)
