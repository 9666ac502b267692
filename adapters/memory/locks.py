"""In-memory ``Locks``: one ``asyncio.Lock`` per name, for the tasks of one process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class InMemoryLocks:
    """The locks of one in-memory database (its "processes" are this process's tasks)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(name, asyncio.Lock()):
            yield
