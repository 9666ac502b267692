"""The in-memory unit of work keeps real transaction semantics (no I/O involved)."""

from __future__ import annotations

import pytest

from adapters.memory import InMemoryDatabase, InMemoryTransactionRepository
from domain.errors import (
    Conflict,
    DuplicateModel,
    DuplicateUser,
    TransactionNotFound,
    Unavailable,
)
from domain.pagination import PageRequest
from ports import TimeRange, UnitOfWork
from tests.builders import a_model, a_transaction, a_user, an_api_key


class Boom(Exception):
    pass


async def _has(db: InMemoryDatabase, tx_hash: str) -> bool:
    async with db.uow() as uow:
        try:
            await uow.transactions.get(tx_hash)
        except TransactionNotFound:
            return False
        return True


def test_the_fake_satisfies_the_unit_of_work_port() -> None:
    # The annotation is the test: mypy checks the fake against the port structurally.
    uow: UnitOfWork = InMemoryDatabase().uow()
    assert isinstance(uow.transactions, InMemoryTransactionRepository)


async def test_committed_work_is_visible_to_every_later_unit_of_work() -> None:
    db, tx = InMemoryDatabase(), a_transaction()
    async with db.uow() as uow:
        await uow.transactions.add_many([tx])
        await uow.commit()
    assert uow.commits == 1
    assert await _has(db, tx.hash)


async def test_uncommitted_work_is_invisible_to_others_and_dropped_on_exit() -> None:
    db, tx = InMemoryDatabase(), a_transaction()
    async with db.uow() as writer:
        await writer.transactions.add_many([tx])
        assert await writer.transactions.get(tx.hash) == tx
        assert not await _has(db, tx.hash)
    assert not await _has(db, tx.hash)


async def test_an_exception_drops_the_work() -> None:
    db, tx = InMemoryDatabase(), a_transaction()

    async def add_then_fail() -> None:
        async with db.uow() as uow:
            await uow.transactions.add_many([tx])
            raise Boom

    with pytest.raises(Boom):
        await add_then_fail()
    assert not await _has(db, tx.hash)


async def test_rollback_drops_the_work_so_far_and_the_unit_stays_usable() -> None:
    db, dropped, kept = InMemoryDatabase(), a_transaction(), a_transaction()
    async with db.uow() as uow:
        await uow.transactions.add_many([dropped])
        await uow.rollback()
        await uow.transactions.add_many([kept])
        await uow.commit()
    assert not await _has(db, dropped.hash)
    assert await _has(db, kept.hash)


async def test_work_after_a_commit_needs_its_own_commit() -> None:
    db, first, second = InMemoryDatabase(), a_transaction(), a_transaction()
    async with db.uow() as uow:
        await uow.transactions.add_many([first])
        await uow.commit()
        await uow.transactions.add_many([second])
    assert await _has(db, first.hash)
    assert not await _has(db, second.hash)


async def test_other_units_see_a_commit_made_while_they_are_open() -> None:
    db, tx = InMemoryDatabase(), a_transaction()
    async with db.uow() as reader:
        async with db.uow() as writer:
            await writer.transactions.add_many([tx])
            await writer.commit()
        assert (await reader.transactions.get(tx.hash)).hash == tx.hash


async def test_mutating_an_entity_never_changes_what_is_stored() -> None:
    db, tx = InMemoryDatabase(), a_transaction(value=1)
    async with db.uow() as uow:
        await uow.transactions.add_many([tx])
        tx.value = 2  # after handing it over
        loaded = await uow.transactions.get(tx.hash)
        loaded.value = 3  # a read copy
        listed = await uow.transactions.list_by_time(TimeRange(), PageRequest(5))
        listed.items[0].value = 4
        await uow.commit()
    async with db.uow() as uow:
        assert (await uow.transactions.get(tx.hash)).value == 1


async def test_a_unique_key_clash_between_concurrent_units_fails_the_later_commit() -> None:
    db, model = InMemoryDatabase(), a_model()
    async with db.uow() as first, db.uow() as second:
        await first.models.add_model(model)
        await second.models.add_model(a_model(name=model.name))
        await first.commit()
        with pytest.raises(DuplicateModel):
            await second.commit()
    async with db.uow() as uow:
        assert [m.id for m in await uow.models.list_models()] == [model.id]


async def test_the_same_hash_stored_by_two_concurrent_units_fails_the_later_commit() -> None:
    db, tx = InMemoryDatabase(), a_transaction(value=1)
    async with db.uow() as first, db.uow() as second:
        await first.transactions.add_many([tx])
        await second.transactions.add_many([a_transaction(hash=tx.hash, value=2)])
        await first.commit()
        with pytest.raises(Conflict):
            await second.commit()
    async with db.uow() as uow:
        assert (await uow.transactions.get(tx.hash)).value == 1


async def test_a_failed_commit_stores_nothing_of_its_unit() -> None:
    db, user, tx = InMemoryDatabase(), a_user(), a_transaction()
    async with db.uow() as first, db.uow() as second:
        await first.users.add(user)
        await second.transactions.add_many([tx])
        await second.users.add(a_user(username=user.username))
        await first.commit()
        with pytest.raises(DuplicateUser):
            await second.commit()
    assert not await _has(db, tx.hash)


async def test_repositories_refuse_work_outside_a_unit() -> None:
    uow = InMemoryDatabase().uow()
    with pytest.raises(RuntimeError, match="async with"):
        await uow.transactions.get(a_transaction().hash)
    async with uow:
        pass
    with pytest.raises(RuntimeError):
        await uow.commit()


async def test_a_unit_cannot_be_entered_twice_at_once() -> None:
    uow = InMemoryDatabase().uow()
    async with uow:
        with pytest.raises(RuntimeError, match="already in progress"):
            await uow.__aenter__()


async def test_an_unavailable_database_fails_ping_and_new_units() -> None:
    db = InMemoryDatabase()
    await db.ping()
    db.available = False
    with pytest.raises(Unavailable):
        await db.ping()
    with pytest.raises(Unavailable):
        async with db.uow():
            pass


async def test_separate_databases_share_nothing() -> None:
    one, two, user = InMemoryDatabase(), InMemoryDatabase(), a_user()
    async with one.uow() as uow:
        await uow.users.add(user)
        await uow.api_keys.add(an_api_key(user))
        await uow.commit()
    async with two.uow() as uow:
        assert await uow.users.list() == []
        assert await uow.api_keys.list() == []
