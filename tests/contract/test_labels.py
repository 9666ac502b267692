"""Contract of ``LabelRepository``: append-only labels, the latest per transaction, listings."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DuplicateRecord, TransactionNotFound
from domain.model import Label, LabelKind
from domain.pagination import PageRequest
from ports import TimeRange, UnitOfWorkFactory
from tests.builders import (
    T0,
    a_label,
    a_transaction,
    at,
    collect_pages,
    random_hash,
    stored_transactions,
)

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
ANALYST = uuid.UUID("00000000-0000-4000-8000-0000000a11ce")


async def _store(uow_factory: UnitOfWorkFactory, *labels: Label) -> list[Label]:
    async with uow_factory() as uow:
        for label in labels:
            await uow.labels.add(label)
        await uow.commit()
    return list(labels)


async def test_a_label_reads_back_field_for_field(uow_factory: UnitOfWorkFactory) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    label = a_label(
        tx,
        LabelKind.FRAUD,
        source="chainalysis",
        created_by=ANALYST,
        anomaly_id=uuid.uuid4(),
        note="ünïcode — and a reason",
        created_at=at(1.5),
    )
    await _store(uow_factory, label)

    async with uow_factory() as uow:
        assert await uow.labels.latest_for([tx.hash]) == {tx.hash: label}
        assert (await uow.labels.list_by_time(TimeRange(), PageRequest())).items == [label]


async def test_a_label_without_author_anomaly_or_note_reads_back(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    label = a_label(tx, LabelKind.LEGITIMATE, note=None)
    await _store(uow_factory, label)

    async with uow_factory() as uow:
        assert await uow.labels.latest_for([tx.hash.upper().replace("0X", "0x")]) == {
            tx.hash: label
        }


async def test_labelling_an_unknown_transaction_raises_transaction_not_found(
    uow_factory: UnitOfWorkFactory,
) -> None:
    missing = random_hash()
    async with uow_factory() as uow:
        with pytest.raises(TransactionNotFound) as raised:
            await uow.labels.add(a_label(a_transaction(hash=missing)))
        assert raised.value.key == missing
        # The failed add undid only itself: the unit of work goes on.
        await uow.transactions.add_many([tx := a_transaction()])
        await uow.labels.add(a_label(tx))
        await uow.commit()

    async with uow_factory() as uow:
        assert set(await uow.labels.latest_for([missing, tx.hash])) == {tx.hash}


async def test_a_label_id_can_be_stored_only_once(uow_factory: UnitOfWorkFactory) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    (label,) = await _store(uow_factory, a_label(tx))

    async with uow_factory() as uow:
        with pytest.raises(DuplicateRecord):
            await uow.labels.add(a_label(tx, LabelKind.LEGITIMATE, id=label.id))

    async with uow_factory() as uow:
        assert (await uow.labels.latest_for([tx.hash]))[tx.hash].kind is LabelKind.FRAUD


async def test_the_latest_label_of_a_transaction_wins(uow_factory: UnitOfWorkFactory) -> None:
    first, second, unlabelled = await stored_transactions(
        uow_factory, a_transaction(), a_transaction(), a_transaction()
    )
    early = a_label(first, LabelKind.FRAUD, created_at=at(1))
    late = a_label(first, LabelKind.LEGITIMATE, source="missed-fraud-report", created_at=at(9))
    middle = a_label(first, LabelKind.FRAUD, created_at=at(5))
    other = a_label(second, LabelKind.LEGITIMATE, created_at=at(2))
    await _store(uow_factory, early, late, middle, other)

    async with uow_factory() as uow:
        latest = await uow.labels.latest_for([first.hash, second.hash, unlabelled.hash])
        assert latest == {first.hash: late, second.hash: other}
        assert await uow.labels.latest_for([]) == {}


async def test_labels_sharing_an_instant_are_ordered_by_id(uow_factory: UnitOfWorkFactory) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    labels = [a_label(tx, created_at=T0) for _ in range(4)]
    await _store(uow_factory, *labels)

    async with uow_factory() as uow:
        latest = await uow.labels.latest_for([tx.hash])
    assert latest[tx.hash].id == max(labels, key=lambda label: str(label.id)).id


async def test_uncommitted_labels_are_invisible_to_other_units_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    async with uow_factory() as writer:
        await writer.labels.add(a_label(tx))
        async with uow_factory() as reader:
            assert await reader.labels.latest_for([tx.hash]) == {}
        await writer.rollback()

    async with uow_factory() as uow:
        assert await uow.labels.latest_for([tx.hash]) == {}


async def test_list_by_time_keeps_the_half_open_period(uow_factory: UnitOfWorkFactory) -> None:
    (tx,) = await stored_transactions(uow_factory, a_transaction())
    labels = await _store(uow_factory, *(a_label(tx, created_at=at(s)) for s in (0, 10, 20, 30)))

    async with uow_factory() as uow:
        page = await uow.labels.list_by_time(TimeRange(at(10), at(30)), PageRequest())
    assert page.items == [labels[2], labels[1]]
    assert page.next_cursor is None


@PROPERTY
@given(
    offsets=st.lists(st.integers(0, 2_000_000), min_size=1, max_size=12), limit=st.integers(1, 5)
)
async def test_labels_page_newest_first_exactly_once(
    uow_factory: UnitOfWorkFactory, offsets: list[int], limit: int
) -> None:
    tx = a_transaction()
    await stored_transactions(uow_factory, tx)
    labels = await _store(
        uow_factory,
        *(
            a_label(tx, created_at=T0 + timedelta(microseconds=(o // 500_000) * 500_000))
            for o in offsets
        ),
    )

    async with uow_factory() as uow:
        pages = await collect_pages(
            lambda page: uow.labels.list_by_time(TimeRange(since=T0), page), limit
        )
    seen = [label.id for page in pages for label in page]
    mine = {label.id for label in labels}
    expected = sorted(labels, key=lambda label: (label.created_at, str(label.id)), reverse=True)
    assert [i for i in seen if i in mine] == [label.id for label in expected]
