"""``PiccoloUserRepository``: who may call the service."""

from __future__ import annotations

import uuid

from adapters.piccolo.schema.codecs import USERS
from adapters.piccolo.sql.errors import UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import insert, sql, update, violates
from domain.errors import DuplicateRecord, DuplicateUser, UserNotFound
from domain.model import User
from domain.values import lookup_key

_SELECT = USERS.select()
# What ``update`` writes; id, username and creation are fixed.
_MUTABLE = ("role", "active", "email", "password_hash")


class PiccoloUserRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, USERS, [user])
        except UniqueViolation as error:
            if violates(error, postgres="users_username_key", sqlite="users.username"):
                raise DuplicateUser(user.username) from None
            raise DuplicateRecord("user", user.id) from None

    async def get(self, user_id: uuid.UUID) -> User:
        session = await self._session()
        row = await session.fetchrow(
            sql(
                f"SELECT {_SELECT} FROM users WHERE id = {{}}",
                USERS.encode("id", user_id, session.dialect),
            )
        )
        if row is None:
            raise UserNotFound(user_id)
        return USERS.from_row(row)

    async def get_by_username(self, username: str) -> User:
        session = await self._session()
        row = await session.fetchrow(
            sql(f"SELECT {_SELECT} FROM users WHERE username = {{}}", lookup_key(username))
        )
        if row is None:
            raise UserNotFound(username)
        return USERS.from_row(row)

    async def list(self) -> list[User]:
        session = await self._session()
        rows = await session.fetch(sql(f"SELECT {_SELECT} FROM users ORDER BY username"))
        return [USERS.from_row(row) for row in rows]

    async def update(self, user: User) -> None:
        session = await self._session()
        if await update(session, USERS, user, _MUTABLE) == 0:
            raise UserNotFound(user.id)
