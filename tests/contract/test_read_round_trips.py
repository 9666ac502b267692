"""The listings' cost in statements on the real databases (sqlite | postgres), counted
with the database's ``StatementMeter``: an anomaly page - its anomalies, their
transactions and flagging contributions, the bounded count - is a fixed number of
statements (one on SQLite, two on PostgreSQL), a predictions page one, whatever the page
size; model versions' tags come from the
process's cache once the registry has been read. A regression that adds a statement per
page (or per row) fails here. The answers themselves are checked too: a version first
seen after the cache was filled is still named by its tag."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest

from adapters.piccolo import PiccoloDatabase
from domain.explanations import Contribution
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


async def _flagged(
    database: PiccoloDatabase, version: ModelVersion, count: int, *, carried: bool = True
) -> None:
    """``count`` anomalies, each carrying its contributions and its transaction's instant
    as scoring records them - or, not ``carried``, neither (as rows stored before)."""
    why = (Contribution("log_value", 1.5),)
    predictions = await stored_flagging(database.uow, version, count, contributions=why)
    async with database.uow() as uow:
        transactions = await uow.transactions.get_many(p.transaction_hash for p in predictions)
        await uow.anomalies.add_many(
            [
                an_anomaly(p, detected_at=at(i))
                if not carried
                else an_anomaly(
                    p,
                    detected_at=at(i),
                    contributions=why,
                    transaction_timestamp=transactions[p.transaction_hash].timestamp,
                )
                for i, p in enumerate(predictions)
            ]
        )
        await uow.commit()


async def _statements_of(database: PiccoloDatabase, ask: Awaitable[object]) -> int:
    before = database.statements.statements
    await ask
    return database.statements.statements - before


# SQLite: the page joined to the rest. PostgreSQL: the page, then its transactions at the
# instants the anomalies carry (one partition each; see adapters.piccolo.repositories
# .anomalies); for rows stored without them, the page, their keys and contributions.
PAGE_STATEMENTS = {"sqlite": 1, "postgres": 2}
UNCARRIED_PAGE_STATEMENTS = {"sqlite": 1, "postgres": 3}


async def test_an_anomaly_page_is_a_fixed_number_of_statements_once_the_tags_are_known(
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

    assert statements == PAGE_STATEMENTS[database.dialect]
    # and the exact count
    assert await _statements_of(database, exact) == PAGE_STATEMENTS[database.dialect] + 1
    assert first.total_count == 7
    assert first.total_exact
    async with database.uow() as uow:
        name = (await uow.models.list_models())[0].name
    assert [record.model_version for record in first.items] == [f"{name}:1"] * 5


async def test_a_page_of_anomalies_stored_before_they_carried_context_is_still_bounded(
    database: PiccoloDatabase,
) -> None:
    version = await stored_model_version(database.uow)
    await _flagged(database, version, 7, carried=False)
    services = services_over(database.uow)
    criteria = AnomalyFilter(model_version_id=version.id)
    await queries.list_anomalies(services, criteria, PageRequest(5))

    for size in (2, 7):
        page = queries.list_anomalies(services, criteria, PageRequest(size))
        statements = await _statements_of(database, page)
        assert statements == UNCARRIED_PAGE_STATEMENTS[database.dialect], size


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
