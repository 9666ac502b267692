"""Named locks shared by every process of one database: "do this once, whoever asks"."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Locks(Protocol):
    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock ``name`` for the ``async with`` block, first waiting while anyone
        else holds it - another task, or another process using the same database. The
        lock is released when the block ends, and also when its holder dies (a killed
        process never leaves it taken). Raises ``Unavailable`` when the database cannot
        be reached. Not re-entrant."""
        ...
