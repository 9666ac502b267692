"""``PiccoloApiKeyRepository``: the keys users call the service with."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from adapters.piccolo.schema.codecs import API_KEYS
from adapters.piccolo.sql.errors import ForeignKeyViolation, UniqueViolation
from adapters.piccolo.sql.session import SessionProvider
from adapters.piccolo.sql.statements import insert, sql, violates, where
from adapters.piccolo.sql.values import db_instant, db_uuid
from domain.errors import ApiKeyNotFound, DuplicateApiKey, DuplicateRecord, UserNotFound
from domain.model import APIKey
from domain.values import check_utc

_SELECT = API_KEYS.select()


class PiccoloApiKeyRepository:
    def __init__(self, session: SessionProvider) -> None:
        self._session = session

    async def add(self, key: APIKey) -> None:
        session = await self._session()
        try:
            async with session.write():
                await insert(session, API_KEYS, [key])
        except ForeignKeyViolation:
            raise UserNotFound(key.user_id) from None
        except UniqueViolation as error:
            if violates(error, postgres="api_keys_prefix_key", sqlite="api_keys.prefix"):
                raise DuplicateApiKey(key.prefix) from None
            raise DuplicateRecord("API key", key.id) from None

    async def get(self, key_id: uuid.UUID) -> APIKey:
        session = await self._session()
        row = await session.fetchrow(
            sql(
                f"SELECT {_SELECT} FROM api_keys WHERE id = {{}}",
                API_KEYS.encode("id", key_id, session.dialect),
            )
        )
        if row is None:
            raise ApiKeyNotFound(key_id)
        return API_KEYS.from_row(row)

    async def find_by_prefix(self, prefix: str) -> APIKey | None:
        session = await self._session()
        row = await session.fetchrow(
            sql(f"SELECT {_SELECT} FROM api_keys WHERE prefix = {{}}", prefix)
        )
        return None if row is None else API_KEYS.from_row(row)

    async def list(self, user_id: uuid.UUID | None = None) -> list[APIKey]:
        session = await self._session()
        owner = (
            None
            if user_id is None
            else sql("user_id = {}", API_KEYS.encode("user_id", user_id, session.dialect))
        )
        rows = await session.fetch(
            sql(f"SELECT {_SELECT} FROM api_keys {{}} ORDER BY created_at, id", where(owner))
        )
        return [API_KEYS.from_row(row) for row in rows]

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> APIKey:
        session = await self._session()
        dialect = session.dialect
        # COALESCE keeps the first revocation time: revoking is idempotent.
        statement = sql(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, {}) WHERE id = {}",
            db_instant(check_utc(at, "revoked_at"), dialect),
            db_uuid(key_id, dialect),
        )
        async with session.write(savepoint=False):
            changed = await session.execute(statement)
        if changed == 0:
            raise ApiKeyNotFound(key_id)
        return await self.get(key_id)

    async def touch_last_used(self, used: Mapping[uuid.UUID, datetime]) -> None:
        if not used:
            return
        session = await self._session()
        dialect = session.dialect
        rows = [
            (db_uuid(key_id, dialect), db_instant(check_utc(at, "last_used_at"), dialect))
            for key_id, at in used.items()
        ]
        # Never moves last_used_at backwards; unknown ids match no row and are ignored.
        async with session.write(savepoint=False):
            if dialect == "postgres":
                # One statement for the batch: an UPDATE joined to unnest arrays.
                await session.execute(
                    sql(
                        "UPDATE api_keys AS k SET last_used_at = u.at "
                        "FROM unnest({}::uuid[], {}::timestamptz[]) AS u(id, at) "
                        "WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
                        [row[0] for row in rows],
                        [row[1] for row in rows],
                    )
                )
            else:
                await session.executemany(
                    "UPDATE api_keys SET last_used_at = {} "
                    "WHERE id = {} AND (last_used_at IS NULL OR last_used_at < {})",
                    [(at, key_id, at) for key_id, at in rows],
                )
