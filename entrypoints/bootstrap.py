"""The composition root: the only module that picks implementations for the ports.

``bootstrap(settings)`` wires production (Piccolo on PostgreSQL or SQLite, the system
clock); ``bootstrap_in_memory()`` wires the same shape over the in-memory fakes for tests
and embedding. Neither does I/O: the database connects when it is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.clock import SystemClock
from adapters.memory import InMemoryDatabase
from adapters.piccolo import PiccoloDatabase
from entrypoints.settings import Settings
from ports import Clock, UnitOfWork, UnitOfWorkFactory


class Database(Protocol):
    """What the entrypoints need from a database: its lifecycle, health and units of work."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def migrate(self) -> list[str]:
        """Apply pending migrations; return the ids applied, oldest first."""
        ...

    async def migrate_backwards(self, to: str = "all") -> list[str]:
        """Revert ``"all"``, ``"1"`` (the latest) or from the id ``to`` on; return the
        reverted ids, newest first. Raises ``ValueError`` for an id that is not applied."""
        ...

    async def pending_migrations(self) -> list[str]: ...

    async def ping(self) -> None:
        """Round-trip to the database; raises ``domain.errors.Unavailable``."""
        ...

    def uow(self) -> UnitOfWork: ...


@dataclass(frozen=True, slots=True)
class Container:
    """The wired application: hand it to ``create_app`` or use its parts directly."""

    database: Database
    clock: Clock
    auto_migrate: bool = False

    @property
    def uow(self) -> UnitOfWorkFactory:
        """A new unit of work per call, over ``database``."""
        return self.database.uow


class _InMemoryLifecycle:
    """An ``InMemoryDatabase`` as a ``Database``: nothing to start, stop or migrate."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self.memory = database

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

    async def ping(self) -> None:
        await self.memory.ping()

    def uow(self) -> UnitOfWork:
        return self.memory.uow()


def bootstrap(settings: Settings) -> Container:
    """Production wiring from validated settings."""
    return Container(
        database=PiccoloDatabase(settings.database),
        clock=SystemClock(),
        auto_migrate=settings.auto_migrate,
    )


def bootstrap_in_memory(
    database: InMemoryDatabase | None = None, clock: Clock | None = None
) -> Container:
    """The same wiring over the in-memory fakes (a new empty store unless ``database``)."""
    return Container(
        database=_InMemoryLifecycle(database or InMemoryDatabase()),
        clock=clock or SystemClock(),
    )
