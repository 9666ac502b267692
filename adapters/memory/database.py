"""``InMemoryDatabase``: the composition root's stand-in for a real database."""

from __future__ import annotations

from adapters.memory.locks import InMemoryLocks
from adapters.memory.store import Store
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from domain.errors import Unavailable


class InMemoryDatabase:
    """One shared in-memory store; each ``uow()`` is a new unit of work over it.

    Set ``available = False`` to simulate an outage: ``ping()`` and starting a unit of
    work then raise ``Unavailable``, as the real adapters do when the database is down.
    """

    def __init__(self) -> None:
        self._store = Store()
        self.available = True
        self.locks = InMemoryLocks()

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self._store, self._check_available)

    async def ping(self) -> None:
        self._check_available()

    # The lifecycle a real database has: nothing to start, stop or migrate here.
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def migrate(self) -> list[str]:
        return []

    async def migrate_backwards(self, to: str = "all") -> list[str]:
        return []

    async def pending_migrations(self) -> list[str]:
        return []

    def _check_available(self) -> None:
        if not self.available:
            raise Unavailable("the in-memory database is marked unavailable")
