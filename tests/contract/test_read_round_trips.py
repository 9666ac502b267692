"""The listings' cost in statements on the real databases (sqlite | postgres), counted
with the database's ``StatementMeter``: an anomaly page - its anomalies, their
transactions and flagging contributions, the bounded count - is one statement, a
predictions page one, whatever the page size; model versions' tags come from the
process's cache once the registry has been read. A regression that adds a statement per
page (or per row) fails here. The answers themselves are checked too: a version first
seen after the cache was filled is still named by its tag."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from adapters.piccolo import PiccoloDatabase
from domain.model import ModelVersion
from domain.pagination import PageRequest
from domain.services import queries
from entrypoints.bootstrap import services_over
from ports import AnomalyFilter, TimeRange
from tests.backends import reset_database
from tests.builders import a_model_version, an_anomaly, at, stored_model_version
from tests.builders import stored_predictions as stored_flagging


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest) -> PiccoloDatabase:
    database: PiccoloDatabase = request.getfixturevalue(f"{request.param}_database")
    await reset_database(database)
    return database


async def _flagged(database: PiccoloDatabase, version: ModelVersion, count: int) -> None:
    predictions = await stored_flagging(database.uow, version, count)
    async with database.uow() as uow:
        await uow.anomalies.add_many(
            [an_anomaly(p, detected_at=at(i)) for i, p in enumerate(predictions)]
        )
        await uow.commit()


async def _statements_of(database: PiccoloDatabase, ask: Awaitable[object]) -> int:
    before = database.statements.statements
    await ask
    return database.statements.statements - before


async def test_an_anomaly_page_is_one_statement_once_the_tags_are_known(
    database: PiccoloDatabase,
) -> None:
    version = await stored_model_version(database.uow)
    await _flagged(database, version, 7)
    services = services_over(database.uow)
    criteria = AnomalyFilter(model_version_id=version.id)

    first = await queries.list_anomalies(services, criteria, PageRequest(5))
    again = queries.list_anomalies(services, criteria, PageRequest(5))
    statements = await _statements_of(database, again)
    exact = queries.list_anomalies(services, criteria, PageRequest(5), exact_count=True)

    assert statements == 1
    assert await _statements_of(database, exact) == 2  # and the exact count
    assert first.total_count == 7
    assert first.total_exact
    async with database.uow() as uow:
        name = (await uow.models.list_models())[0].name
    assert [record.model_version for record in first.items] == [f"{name}:1"] * 5


async def test_a_predictions_page_is_one_statement_and_new_versions_are_named(
    database: PiccoloDatabase,
) -> None:
    version = await stored_model_version(database.uow)
    await stored_flagging(database.uow, version, 3)
    services = services_over(database.uow)
    window = TimeRange(at(-3600), at(3600))
    await queries.list_predictions(services, None, window, PageRequest(10))

    statements = await _statements_of(
        database, queries.list_predictions(services, None, window, PageRequest(10))
    )
    async with database.uow() as uow:
        model = (await uow.models.list_models())[0]
        later = a_model_version(model, 2)
        await uow.models.add_version(later)
        await uow.commit()
    await stored_flagging(database.uow, later, 1)
    page = await queries.list_predictions(services, None, window, PageRequest(10))

    assert statements == 1
    assert sorted(record.model_version for record in page.items) == [
        f"{model.name}:1",
        f"{model.name}:1",
        f"{model.name}:1",
        f"{model.name}:2",
    ]
