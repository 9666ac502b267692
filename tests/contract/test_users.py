"""Contract of ``UserRepository``."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import DuplicateUser, UserNotFound
from domain.model import Role
from ports import UnitOfWorkFactory
from tests.builders import a_user, stored_user, unique_name


async def test_a_stored_user_reads_back_by_id_and_by_username(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow_factory, role=Role.ADMIN, active=False)
    no_secrets = await stored_user(uow_factory, email=None, password_hash=None)

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == user
        assert await uow.users.get_by_username(user.username) == user
        assert await uow.users.get(no_secrets.id) == no_secrets


async def test_unknown_users_raise_user_not_found(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(UserNotFound):
            await uow.users.get(uuid.uuid4())
        with pytest.raises(UserNotFound):
            await uow.users.get_by_username(unique_name("nobody"))


async def test_a_username_can_be_taken_only_once(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory, role=Role.VIEWER)

    async with uow_factory() as uow:
        with pytest.raises(DuplicateUser):
            await uow.users.add(a_user(username=user.username.upper(), role=Role.ADMIN))

    async with uow_factory() as uow:
        assert (await uow.users.get_by_username(user.username)).role is Role.VIEWER


async def test_users_are_listed_by_username(uow_factory: UnitOfWorkFactory) -> None:
    for name in ("carol", "alice", "bob"):
        await stored_user(uow_factory, username=name)

    async with uow_factory() as uow:
        assert [u.username for u in await uow.users.list()] == ["alice", "bob", "carol"]


async def test_update_persists_role_activity_email_and_password_hash(
    uow_factory: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow_factory, role=Role.ANALYST)

    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)
        loaded.role = Role.SERVICE
        loaded.active = False
        loaded.email = "ops@example.org"
        loaded.password_hash = "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3aGFzaA"
        await uow.users.update(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.users.get(user.id) == loaded


async def test_update_leaves_the_username_alone(uow_factory: UnitOfWorkFactory) -> None:
    user = await stored_user(uow_factory)

    async with uow_factory() as uow:
        loaded = await uow.users.get(user.id)
        loaded.username = unique_name("renamed")
        await uow.users.update(loaded)
        await uow.commit()

    async with uow_factory() as uow:
        assert (await uow.users.get(user.id)).username == user.username


async def test_update_raises_user_not_found_for_an_unknown_user(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(UserNotFound):
            await uow.users.update(a_user())
