"""Bulk import with labels: chunked, re-runnable, audited once."""

from __future__ import annotations

import pytest

from adapters.memory import InMemoryDatabase
from adapters.synthetic import generate_stream
from domain.errors import InvalidInput
from domain.model import LabelKind
from domain.pagination import PageRequest
from domain.services.imports import import_transactions
from ports import AuditFilter, TimeRange
from tests.builders import random_hash
from tests.services import services_for


async def test_an_import_stores_every_transaction_and_its_labels_in_chunks() -> None:
    uow = InMemoryDatabase().uow
    stream = generate_stream(250, seed=8)
    labels = stream.sample_labels(0.1, seed=2)
    progress: list[str] = []

    result = await import_transactions(
        services_for(uow), stream.transactions, labels, source="chainalysis", actor=None,
        progress=progress.append, chunk_size=100,
    )  # fmt: skip

    assert (result.inserted, result.duplicates, result.labels) == (250, 0, 25)
    assert progress[-1] == "stored 250 of 250 transactions"
    assert len(progress) == 3
    async with uow() as work:
        stored = await work.labels.latest_for(labels)
        assert {h: label.kind for h, label in stored.items()} == labels
        assert {label.source for label in stored.values()} == {"chainalysis"}
        (entry,) = (
            await work.audit.query(AuditFilter(action="transactions.import"), PageRequest())
        ).items
    assert entry.details["inserted"] == 250


async def test_re_running_an_import_duplicates_no_transaction() -> None:
    uow = InMemoryDatabase().uow
    stream = generate_stream(40, seed=8)
    services = services_for(uow)
    await import_transactions(services, stream.transactions, {}, source="x", actor=None)
    again = await import_transactions(services, stream.transactions, {}, source="x", actor=None)
    assert (again.inserted, again.duplicates) == (0, 40)
    async with uow() as work:
        page = await work.transactions.list_by_time(TimeRange(), PageRequest(1000))
    assert len(page.items) == 40


async def test_a_label_of_a_transaction_not_imported_is_refused_up_front() -> None:
    uow = InMemoryDatabase().uow
    stream = generate_stream(10, seed=8)
    with pytest.raises(InvalidInput) as refused:
        await import_transactions(
            services_for(uow), stream.transactions, {random_hash(): LabelKind.FRAUD}, source="x",
            actor=None,
        )  # fmt: skip
    assert refused.value.field == "labels"
    async with uow() as work:
        assert (await work.transactions.list_by_time(TimeRange(), PageRequest())).items == []
