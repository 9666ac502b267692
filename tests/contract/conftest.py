"""The contract suites run every test once per backend: memory | sqlite | postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.memory import InMemoryDatabase
from ports import UnitOfWorkFactory
from tests.backends import reset_database

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def uow_factory(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    """A factory of units of work over an empty store of the given backend."""
    if request.param == "memory":
        yield InMemoryDatabase().uow
        return
    database = request.getfixturevalue(f"{request.param}_database")
    await reset_database(database)
    yield database.uow
