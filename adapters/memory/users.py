"""In-memory ``UserRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from adapters.memory.store import Workspace, copied
from domain.errors import UserNotFound
from domain.model import User
from domain.values import lookup_key


class InMemoryUserRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(self, user: User) -> None:
        self._workspace().users.insert(user.id, user)

    async def get(self, user_id: uuid.UUID) -> User:
        user = self._workspace().users.get(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return user

    async def get_by_username(self, username: str) -> User:
        wanted = lookup_key(username)
        for user in self._workspace().users.scan():
            if user.username == wanted:
                return copied([user])[0]
        raise UserNotFound(username)

    async def list(self) -> list[User]:
        return copied(sorted(self._workspace().users.scan(), key=lambda u: u.username))

    async def update(self, user: User) -> None:
        table = self._workspace().users
        stored = table.get(user.id)
        if stored is None:
            raise UserNotFound(user.id)
        stored.role = user.role
        stored.active = user.active
        stored.email = user.email
        stored.password_hash = user.password_hash
        table.replace(stored.id, stored)
