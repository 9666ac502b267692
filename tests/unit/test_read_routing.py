"""Which use cases read through ``services.read_uow()`` (a replica when one is healthy) and
which through ``services.uow()`` (the primary): listings and reports may lag; lookups by
key, which a caller makes right after its own write, and all writes may not."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from adapters.memory import InMemoryDatabase
from domain.pagination import PageRequest
from domain.services import Services, drift_queries, queries, registry
from domain.services.review_queue import review_queue
from entrypoints.bootstrap import bootstrap_in_memory
from ports import UnitOfWork
from ports.repositories import TimeRange
from tests.builders import a_transaction


class Counted:
    """A read factory over the same store, counting the units of work it opened."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self.database = database
        self.opened = 0

    def __call__(self) -> UnitOfWork:
        self.opened += 1
        return self.database.uow()


def routed() -> tuple[Services, Counted]:
    database = InMemoryDatabase()
    reads = Counted(database)
    services = bootstrap_in_memory(database, bootstrap_model=False).services
    return dataclasses.replace(services, reads=reads), reads


async def test_without_a_read_factory_reads_use_the_ordinary_unit_of_work() -> None:
    services = bootstrap_in_memory(bootstrap_model=False).services
    assert services.reads is None
    page = await queries.list_transactions(services, None, TimeRange(), PageRequest())
    assert page.items == []


async def test_listings_and_reports_read_through_the_read_factory() -> None:
    services, reads = routed()
    await queries.list_transactions(services, None, TimeRange(), PageRequest())
    await queries.list_predictions(services, None, TimeRange(), PageRequest())
    await queries.query_audit_log(services, None, None, TimeRange(), PageRequest())
    await queries.query_system_metrics(services, None, TimeRange(), PageRequest())
    await registry.list_models(services)
    await review_queue(services, limit=10)
    await drift_queries.serving_drift(services, window=timedelta(hours=1))
    assert reads.opened == 7


async def test_writes_and_lookups_by_key_never_use_the_read_factory() -> None:
    services, reads = routed()
    transaction = a_transaction()
    async with services.uow() as work:
        await work.transactions.add_many([transaction])
        await work.commit()
    await registry.create_model(services, "routing", "iforest", "", actor=None)

    found = await queries.get_transaction(services, transaction.hash)
    overview = await drift_queries.model_drift(services, "routing", window=timedelta(hours=1))

    assert found.transaction.hash == transaction.hash
    assert overview.overview.model.name == "routing"
    assert reads.opened == 1  # model_drift: the registry from the primary, drift from a replica
