"""In-memory ``ApiKeyRepository``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

from adapters.memory.store import Workspace, copied
from domain.errors import ApiKeyNotFound, UserNotFound
from domain.model import APIKey
from domain.values import check_utc


class InMemoryApiKeyRepository:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace

    async def add(self, key: APIKey) -> None:
        work = self._workspace()
        if key.user_id not in work.users:
            raise UserNotFound(key.user_id)
        work.api_keys.insert(key.id, key)

    async def get(self, key_id: uuid.UUID) -> APIKey:
        key = self._workspace().api_keys.get(key_id)
        if key is None:
            raise ApiKeyNotFound(key_id)
        return key

    async def find_by_prefix(self, prefix: str) -> APIKey | None:
        for key in self._workspace().api_keys.scan():
            if key.prefix == prefix:
                return copied([key])[0]
        return None

    async def list(self, user_id: uuid.UUID | None = None) -> list[APIKey]:
        rows = [
            k for k in self._workspace().api_keys.scan() if user_id is None or k.user_id == user_id
        ]
        return copied(sorted(rows, key=lambda k: (k.created_at, str(k.id))))

    async def revoke(self, key_id: uuid.UUID, at: datetime) -> APIKey:
        table = self._workspace().api_keys
        key = table.get(key_id)
        if key is None:
            raise ApiKeyNotFound(key_id)
        key.revoke(at)
        table.replace(key.id, key)
        return key

    async def touch_last_used(self, used: Mapping[uuid.UUID, datetime]) -> None:
        table = self._workspace().api_keys
        for key_id, at in used.items():
            instant = check_utc(at, "last_used_at")
            key = table.get(key_id)
            if key is None:
                continue
            if key.last_used_at is None or instant > key.last_used_at:
                key.last_used_at = instant
                table.replace(key.id, key)
