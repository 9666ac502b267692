"""Contract of ``ApiKeyRepository``: lookup by prefix, revocation and last-use tracking."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import ApiKeyNotFound, DuplicateApiKey, UserNotFound
from domain.model import APIKey
from ports import UnitOfWorkFactory
from tests.builders import a_user, an_api_key, at, stored_user


async def _stored_keys(uow_factory: UnitOfWorkFactory, *keys: APIKey) -> list[APIKey]:
    async with uow_factory() as uow:
        for key in keys:
            await uow.api_keys.add(key)
        await uow.commit()
    return list(keys)


async def test_a_stored_key_reads_back_by_id_and_by_prefix(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)
    key, bare = await _stored_keys(
        uow_factory,
        an_api_key(user, expires_at=at(86_400), last_used_at=at(1)),
        an_api_key(user, scopes=(), name=""),
    )

    async with uow_factory() as uow:
        assert await uow.api_keys.get(key.id) == key
        assert await uow.api_keys.find_by_prefix(key.prefix) == key
        assert await uow.api_keys.get(bare.id) == bare


async def test_an_unknown_prefix_finds_nothing_and_an_unknown_id_is_not_found(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.api_keys.find_by_prefix("cw_nope") is None
        with pytest.raises(ApiKeyNotFound):
            await uow.api_keys.get(uuid.uuid4())


async def test_a_prefix_can_be_taken_only_once(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)
    (key,) = await _stored_keys(uow_factory, an_api_key(user, name="first"))

    async with uow_factory() as uow:
        with pytest.raises(DuplicateApiKey):
            await uow.api_keys.add(an_api_key(user, prefix=key.prefix, name="second"))

    async with uow_factory() as uow:
        found = await uow.api_keys.find_by_prefix(key.prefix)
    assert found is not None
    assert found.name == "first"


async def test_a_key_for_an_unknown_user_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(UserNotFound):
            await uow.api_keys.add(an_api_key(a_user()))


async def test_keys_are_listed_oldest_first_and_per_user(uow_factory: UnitOfWorkFactory) -> None:
    alice, bob = await stored_user(uow_factory), await stored_user(uow_factory)
    newest, oldest, middle, bobs = await _stored_keys(
        uow_factory,
        an_api_key(alice, created_at=at(30)),
        an_api_key(alice, created_at=at(10)),
        an_api_key(alice, created_at=at(20)),
        an_api_key(bob, created_at=at(15)),
    )

    async with uow_factory() as uow:
        everyone = await uow.api_keys.list()
        alices = await uow.api_keys.list(alice.id)
        nobodys = await uow.api_keys.list(uuid.uuid4())

    assert [k.id for k in everyone] == [oldest.id, bobs.id, middle.id, newest.id]
    assert [k.id for k in alices] == [oldest.id, middle.id, newest.id]
    assert nobodys == []


async def test_revoke_is_idempotent_and_keeps_the_first_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow_factory)
    (key,) = await _stored_keys(uow_factory, an_api_key(user))

    async with uow_factory() as uow:
        first = await uow.api_keys.revoke(key.id, at(100))
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.api_keys.revoke(key.id, at(200))
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.api_keys.get(key.id)
    assert first.revoked_at == again.revoked_at == stored.revoked_at == at(100)
    assert not stored.is_usable(at(101))


async def test_revoke_raises_api_key_not_found_for_an_unknown_key(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ApiKeyNotFound):
            await uow.api_keys.revoke(uuid.uuid4(), at(1))


async def test_touch_last_used_records_many_keys_and_never_moves_backwards(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow_factory)
    fresh, used, other = await _stored_keys(
        uow_factory, an_api_key(user), an_api_key(user, last_used_at=at(50)), an_api_key(user)
    )

    async with uow_factory() as uow:
        await uow.api_keys.touch_last_used({fresh.id: at(10), used.id: at(40), uuid.uuid4(): at(5)})
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.api_keys.get(fresh.id)).last_used_at == at(10)
        assert (await uow.api_keys.get(used.id)).last_used_at == at(50)
        assert (await uow.api_keys.get(other.id)).last_used_at is None

    async with uow_factory() as uow:
        await uow.api_keys.touch_last_used({fresh.id: at(9), used.id: at(60.5)})
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.api_keys.get(fresh.id)).last_used_at == at(10)
        assert (await uow.api_keys.get(used.id)).last_used_at == at(60.5)


async def test_touch_last_used_with_nothing_changes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)
    (key,) = await _stored_keys(uow_factory, an_api_key(user))

    async with uow_factory() as uow:
        await uow.api_keys.touch_last_used({})
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.api_keys.get(key.id) == key
