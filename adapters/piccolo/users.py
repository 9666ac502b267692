"""``PiccoloUserRepository`` and ``PiccoloApiKeyRepository``: who may call the service."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from adapters.piccolo.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.session import Row, SessionProvider
from adapters.piccolo.sql import (
    Params,
    as_bool,
    as_instant,
    as_optional_instant,
    as_uuid,
    db_instant,
    db_uuid,
    from_json,
    to_json,
)
from adapters.piccolo.statements import violates
from domain.errors import (
    ApiKeyNotFound,
    DuplicateApiKey,
    DuplicateRecord,
    DuplicateUser,
    UserNotFound,
)
from domain.model import APIKey, User
from domain.values import check_utc

_USER = "id, username, email, password_hash, role, active, created_at"
_KEY_COLUMNS = (
    "id",
    "user_id",
    "prefix",
    "digest",
    "name",
    "scopes",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "created_at",
)
_KEY = ", ".join(_KEY_COLUMNS)


def _user(row: Row) -> User:
    return User(
        id=as_uuid(row["id"]),
        username=row["username"],
        email=row["email"],
        password_hash=row["password_hash"],
        role=row["role"],
        active=as_bool(row["active"]),
        created_at=as_instant(row["created_at"]),
    )


def _key(row: Row) -> APIKey:
    return APIKey(
        id=as_uuid(row["id"]),
        user_id=as_uuid(row["user_id"]),
        prefix=row["prefix"],
        digest=row["digest"],
        name=row["name"],
        scopes=tuple(from_json(row["scopes"])),
        expires_at=as_optional_instant(row["expires_at"]),
        revoked_at=as_optional_instant(row["revoked_at"]),
        last_used_at=as_optional_instant(row["last_used_at"]),
        created_at=as_instant(row["created_at"]),
    )


class PiccoloUserRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        session = await self._session()
        params = Params(session.dialect)
        values = ", ".join(
            [
                params.uuid(user.id),
                params.add(user.username),
                params.add(user.email),
                params.add(user.password_hash),
                params.add(user.role.value),
                params.add(user.active),
                params.instant(user.created_at),
            ]
        )
        try:
            async with session.write():
                await session.execute(
                    f"INSERT INTO users ({_USER}) VALUES ({values})", *params.values
                )
        except UniqueViolation as error:
            if violates(error, postgres="users_username_key", sqlite="users.username"):
                raise DuplicateUser(user.username) from None
            raise DuplicateRecord("user", user.id) from None

    async def get(self, user_id: uuid.UUID) -> User:
        session = await self._session()
        params = Params(session.dialect)
        row = await session.fetchrow(
            f"SELECT {_USER} FROM users WHERE id = {params.uuid(user_id)}", *params.values
        )
        if row is None:
            raise UserNotFound(user_id)
        return _user(row)

    async def get_by_username(self, username: str) -> User:
        session = await self._session()
        row = await session.fetchrow(
            f"SELECT {_USER} FROM users WHERE username = $1", username.strip().lower()
        )
        if row is None:
            raise UserNotFound(username)
        return _user(row)

    async def list(self) -> list[User]:
        session = await self._session()
        return [
            _user(row)
            for row in await session.fetch(f"SELECT {_USER} FROM users ORDER BY username")
        ]

    async def update(self, user: User) -> None:
        session = await self._session()
        params = Params(session.dialect)
        sql = (
            f"UPDATE users SET role = {params.add(user.role.value)}, "
            f"active = {params.add(user.active)}, email = {params.add(user.email)}, "
            f"password_hash = {params.add(user.password_hash)} WHERE id = {params.uuid(user.id)}"
        )
        async with session.write(savepoint=False):
            changed = await session.execute(sql, *params.values)
        if changed == 0:
            raise UserNotFound(user.id)


class PiccoloApiKeyRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, key: APIKey) -> None:
        session = await self._session()
        params = Params(session.dialect)
        values = ", ".join(
            [
                params.uuid(key.id),
                params.uuid(key.user_id),
                params.add(key.prefix),
                params.add(key.digest),
                params.add(key.name),
                params.add(to_json(list(key.scopes))),
                params.instant(key.expires_at),
                params.instant(key.revoked_at),
                params.instant(key.last_used_at),
                params.instant(key.created_at),
            ]
        )
        try:
            async with session.write():
                await session.execute(
                    f"INSERT INTO api_keys ({_KEY}) VALUES ({values})", *params.values
                )
        except ForeignKeyViolation:
            raise UserNotFound(key.user_id) from None
        except UniqueViolation as error:
            if violates(error, postgres="api_keys_prefix_key", sqlite="api_keys.prefix"):
                raise DuplicateApiKey(key.prefix) from None
            raise DuplicateRecord("API key", key.id) from None

    async def get(self, key_id: uuid.UUID) -> APIKey:
        session = await self._session()
        params = Params(session.dialect)
        row = await session.fetchrow(
            f"SELECT {_KEY} FROM api_keys WHERE id = {params.uuid(key_id)}", *params.values
        )
        if row is None:
            raise ApiKeyNotFound(key_id)
        return _key(row)

    async def find_by_prefix(self, prefix: str) -> APIKey | None:
        session = await self._session()
        row = await session.fetchrow(f"SELECT {_KEY} FROM api_keys WHERE prefix = $1", prefix)
        return None if row is None else _key(row)

    async def list(self, user_id: uuid.UUID | None = None) -> list[APIKey]:
        session = await self._session()
        params = Params(session.dialect)
        condition = "" if user_id is None else f"WHERE user_id = {params.uuid(user_id)}"
        rows = await session.fetch(
            f"SELECT {_KEY} FROM api_keys {condition} ORDER BY created_at, id", *params.values
        )
        return [_key(row) for row in rows]

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> APIKey:
        session = await self._session()
        params = Params(session.dialect)
        # COALESCE keeps the first revocation time: revoking is idempotent.
        sql = (
            f"UPDATE api_keys SET revoked_at = COALESCE(revoked_at, "
            f"{params.instant(check_utc(at, 'revoked_at'))}) WHERE id = {params.uuid(key_id)}"
        )
        async with session.write(savepoint=False):
            changed = await session.execute(sql, *params.values)
        if changed == 0:
            raise ApiKeyNotFound(key_id)
        return await self.get(key_id)

    async def touch_last_used(self, used: Mapping[uuid.UUID, datetime]) -> None:
        if not used:
            return
        session = await self._session()
        rows = [
            (
                db_uuid(key_id, session.dialect),
                db_instant(check_utc(at, "last_used_at"), session.dialect),
            )
            for key_id, at in used.items()
        ]
        # Never moves last_used_at backwards; unknown ids match no row and are ignored.
        async with session.write(savepoint=False):
            if session.dialect == "postgres":
                await session.execute(
                    "UPDATE api_keys AS k SET last_used_at = u.at "
                    "FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) "
                    "WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
                    [row[0] for row in rows],
                    [row[1] for row in rows],
                )
            else:
                await session.executemany(
                    "UPDATE api_keys SET last_used_at = $2 "
                    "WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
                    rows,
                )
